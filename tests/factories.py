"""factory_boy factories. Where the platform has a service for a creation (tenants, memberships,
surveys, publications), the factory calls it, so test data goes through the same checks, audit and
side effects as real data; plain rows (users) are created through the model's manager.

    user = UserFactory()                               # password: PASSWORD
    member = MemberFactory(tenant=tenant, role="analyst")  # a User with an active membership there
    survey = SurveyFactory(tenant=tenant)              # the demo definition, unpublished
    survey = SurveyFactory(tenant=tenant, published=True)
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

import factory
from django_tenants.utils import tenant_context

from shared_apps.accounts.models import User
from shared_apps.tenants.models import Organisation
from tenant_apps.surveys.models import Survey

PASSWORD = "correct-horse-battery-staple"


def unique_slug(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class TenantFactory(factory.Factory):
    """An organisation provisioned for real (schema cloned, RLS verified, admin member)."""

    class Meta:
        model = Organisation

    slug = factory.LazyFunction(unique_slug)
    name = "Test organisation"
    admin_email = factory.LazyFunction(lambda: f"admin-{uuid.uuid4().hex[:8]}@example.test")
    admin_password = PASSWORD
    demo = False
    # Generous by default (unlimited), so tests of other features are never limited by a plan.
    plan = "enterprise"

    @classmethod
    def _create(cls, model_class: type[Organisation], *args: Any, **kwargs: Any) -> Organisation:
        from shared_apps.tenants.services import tenant_create

        return tenant_create(**kwargs).organisation


class UserFactory(factory.Factory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user-{n}-{uuid.uuid4().hex[:6]}@example.test")
    password = PASSWORD

    @classmethod
    def _create(cls, model_class: type[User], *args: Any, **kwargs: Any) -> User:
        return User.objects.create_user(kwargs.pop("email"), kwargs.pop("password"), **kwargs)


class MemberFactory(UserFactory):
    """A user with an active membership of ``role`` in ``tenant``."""

    tenant: Organisation | None = None  # taken out before the user is created
    role = "admin"

    @classmethod
    def _create(cls, model_class: type[User], *args: Any, **kwargs: Any) -> User:
        from tenant_apps.members.services import membership_ensure

        tenant, role = kwargs.pop("tenant"), kwargs.pop("role")
        if tenant is None:
            raise ValueError("MemberFactory needs tenant=")
        user = super()._create(model_class, *args, **kwargs)
        with tenant_context(tenant):
            membership_ensure(user=user, role_slug=role)
        return user


class SurveyFactory(factory.Factory):
    """A survey made through the builder's service; ``published=True`` compiles and publishes it."""

    class Meta:
        model = Survey

    tenant: Organisation | None = None  # taken out before the survey is created
    published = False

    title = factory.Sequence(lambda n: f"Survey {n}")
    definition = factory.LazyFunction(lambda: copy.deepcopy(_demo_definition()))

    @classmethod
    def _create(cls, model_class: type[Survey], *args: Any, **kwargs: Any) -> Survey:
        from tenant_apps.surveys import services
        from tenant_apps.surveys.models import Publication

        tenant, published = kwargs.pop("tenant"), kwargs.pop("published")
        if tenant is None:
            raise ValueError("SurveyFactory needs tenant=")
        with tenant_context(tenant):
            survey = services.survey_create(created_by_id=None, **kwargs)
            if published:
                publication = services.publication_request(survey=survey, requested_by_id=None)
                publication = services.publication_compile_run(publication=Publication.objects.get(pk=publication.pk))
                if publication.status != Publication.Status.PUBLISHED:
                    raise AssertionError(f"the survey did not publish: {publication.errors}")
                survey.refresh_from_db()
        return survey


def _demo_definition() -> dict[str, Any]:
    from tenant_apps.surveys.services import DEMO_DEFINITION

    return DEMO_DEFINITION
