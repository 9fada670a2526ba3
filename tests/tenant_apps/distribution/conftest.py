"""Fixtures of the distribution tests: an admin client, contacts, and an invited-only survey whose
hidden field ``q_dept`` takes the contact's ``department`` attribute (piped into the end screen)."""

from __future__ import annotations

import copy
import re
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from tests.conftest import host_of
from tests.factories import SurveyFactory


def invited_definition() -> dict[str, Any]:
    from tenant_apps.surveys.services import DEMO_DEFINITION

    definition = copy.deepcopy(DEMO_DEFINITION)
    definition["pages"][0]["questions"].append({"id": "q_dept", "type": "hidden", "param": "department"})
    definition["end_screens"][0]["text"] = "Thank you, {{q_name|friend}} of {{q_dept|nowhere}}!"
    return definition


@pytest.fixture
def admin_client(tenant_a: Any, make_member: Callable[..., Any], api_client_for: Callable[..., Client]) -> Client:
    return api_client_for(make_member(tenant_a, role="admin"), tenant_a)


@pytest.fixture
def invited_survey(tenant_a: Any) -> Any:
    return SurveyFactory(tenant=tenant_a, published=True, access="invited", definition=invited_definition())


def unique_email(prefix: str = "c", domain: str = "example.test") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@{domain}"


def contact_create(client: Client, email: str, **fields: Any) -> dict[str, Any]:
    response = client.post("/api/v1/contacts/", {"email": email, **fields}, content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()


def wait_until(check: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} not met within {timeout}s")


def message_body(message: Any) -> str:
    return message.get_payload(decode=True).decode()


def link_in(message: Any, label: str) -> tuple[str, str]:
    """(host, path?query) of the link after ``label`` in the e-mail."""
    found = re.search(rf"{label}: (\S+)", message_body(message))
    assert found, message_body(message)
    parts = urlsplit(found.group(1))
    return parts.netloc, f"{parts.path}?{parts.query}"


def invitation_statuses(tenant: Any, distribution_id: int) -> dict[str, str]:
    from tenant_apps.distribution.models import Invitation
    from tenant_apps.distribution.personal import contact_personal

    with tenant_context(tenant):
        return {
            contact_personal(i.contact).email: i.status
            for i in Invitation.objects.filter(distribution_id=distribution_id).select_related("contact")
        }


def client_of(tenant: Any) -> Client:
    return Client(HTTP_HOST=host_of(tenant))
