"""The only place that reads or writes a contact's personal data (e-mail, names, attributes).

Everything else calls ``contact_personal(contact)`` and ``contact_personal_set(contact, personal)``,
so encrypting these fields at rest later changes this module only. ``email_hash`` (a keyed
HMAC of the lower-cased e-mail, per tenant) is the de-duplication and look-up key."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from django.conf import settings

from shared_apps.core.tenancy import current_schema
from tenant_apps.distribution.models import Contact


@dataclass(frozen=True)
class ContactPersonal:
    email: str
    first_name: str = ""
    last_name: str = ""
    attributes: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "email": self.email,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "attributes": dict(self.attributes),
        }


def email_hash(email: str) -> str:
    """The de-duplication key: the same for any case of the same address, different per tenant."""
    key = f"{settings.SECRET_KEY}|distribution.email|{current_schema()}".encode()
    return hmac.new(key, email.strip().lower().encode(), hashlib.sha256).hexdigest()


def contact_personal(contact: Contact) -> ContactPersonal:
    data = contact.personal or {}
    return ContactPersonal(
        email=str(data.get("email", "")),
        first_name=str(data.get("first_name", "")),
        last_name=str(data.get("last_name", "")),
        attributes={str(k): str(v) for k, v in (data.get("attributes") or {}).items()},
    )


def contact_personal_set(contact: Contact, personal: ContactPersonal) -> None:
    """Set (not save) the contact's personal data and its look-up key."""
    contact.personal = personal.as_dict()
    contact.email_hash = email_hash(personal.email)
