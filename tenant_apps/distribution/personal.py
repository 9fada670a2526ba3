"""The only place that reads or writes a contact's personal data (e-mail, names, attributes).

Everything else calls ``contact_personal(contact)`` and ``contact_personal_set(contact, personal)``.
The data is stored sealed with the organisation's key (``tenant_apps.pii``: AES-256-GCM under a data key
wrapped by Vault), bound to the contact's ``email_hash`` so a ciphertext copied to another contact does not
open; rows written before sealing are read as they are. ``email_hash`` (a keyed HMAC of the lower-cased
e-mail, per tenant) is the de-duplication and look-up key."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from django.conf import settings

from shared_apps.core.tenancy import current_schema
from tenant_apps.distribution.models import Contact
from tenant_apps.pii.services import SealContext, reveal, seal


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


def _context(hashed: str) -> SealContext:
    return SealContext(survey_id="contacts", submission=hashed, field="personal")


def contact_personal(contact: Contact) -> ContactPersonal:
    stored = contact.personal or {}
    data = reveal(stored["sealed"], _context(contact.email_hash)) if "sealed" in stored else stored
    return ContactPersonal(
        email=str(data.get("email", "")),
        first_name=str(data.get("first_name", "")),
        last_name=str(data.get("last_name", "")),
        attributes={str(k): str(v) for k, v in (data.get("attributes") or {}).items()},
    )


def contact_personal_set(contact: Contact, personal: ContactPersonal) -> None:
    """Set (not save) the contact's personal data, sealed, and its look-up key."""
    contact.email_hash = email_hash(personal.email)
    contact.personal = {"sealed": seal(personal.as_dict(), _context(contact.email_hash))}
