"""Signed links: a contact's personal survey link (single use) and the tenant-wide unsubscribe link.

Both are ``django.core.signing`` values salted with the tenant's schema, so a link of one
organisation is worthless on another's host; the invitation link also carries the invitation's
nonce, so re-issuing the nonce revokes links already sent."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.core import signing

from shared_apps.core.errors import DomainError
from shared_apps.core.tenancy import current_schema, tenant_connection
from shared_apps.tenants.services import tenant_url
from tenant_apps.distribution.models import Invitation
from tenant_apps.distribution.personal import contact_personal

TOKEN_MAX_LENGTH = 300


class InvitationInvalid(DomainError):
    code = "invitation_invalid"
    status = 403


class InvitationUsed(DomainError):
    code = "invitation_used"
    status = 410


def _salt(kind: str) -> str:
    return f"distribution.{kind}|{current_schema()}"


def invitation_token(invitation: Invitation) -> str:
    return signing.dumps({"i": invitation.pk, "n": invitation.nonce}, salt=_salt("invitation"))


def unsubscribe_token(contact_id: int) -> str:
    return signing.dumps({"c": contact_id}, salt=_salt("unsubscribe"))


def unsubscribe_contact_id(token: str) -> int | None:
    try:
        value = signing.loads(token[:TOKEN_MAX_LENGTH], salt=_salt("unsubscribe"))
    except signing.BadSignature:
        return None
    contact_id = value.get("c") if isinstance(value, dict) else None
    return contact_id if isinstance(contact_id, int) else None


def _base_url() -> str:
    return tenant_url(tenant_connection().tenant)


def invitation_url(invitation: Invitation, public_link: str) -> str:
    return f"{_base_url()}s/{public_link}?{urlencode({'i': invitation_token(invitation)})}"


def unsubscribe_url(contact_id: int) -> str:
    return f"{_base_url()}unsubscribe?{urlencode({'token': unsubscribe_token(contact_id)})}"


@dataclass(frozen=True)
class InvitationAccess:
    """What a valid invitation link grants on the respondent path."""

    invitation_id: int
    contact_id: int
    survey_id: int
    responded: bool
    # Hidden-field and piping values: e-mail, first_name, last_name and every custom attribute.
    values: dict[str, str] = field(default_factory=dict)

    @property
    def respondent_key(self) -> str:
        # One response per contact and survey (the submission key's unique constraint holds it).
        return f"contact:{self.contact_id}"

    def hidden_answers(self, definition: dict[str, Any]) -> dict[str, str]:
        """Answers for the survey's hidden questions named (by ``param``, else id) after a value."""
        answers = {}
        for page in definition.get("pages", []):
            for question in page.get("questions", []):
                if question.get("type") != "hidden":
                    continue
                name = question.get("param") or question.get("id")
                if name in self.values:
                    answers[question["id"]] = self.values[name]
        return answers


def invitation_open(*, token: str, survey_id: int, allow_used: bool = False) -> InvitationAccess:
    """The invitation a link names, for this survey; refuses forged, foreign or revoked links (403)
    and, unless ``allow_used``, links already used to respond (410)."""
    try:
        value = signing.loads(token[:TOKEN_MAX_LENGTH], salt=_salt("invitation"))
    except signing.BadSignature:
        raise InvitationInvalid("This invitation link is not valid.") from None
    if not isinstance(value, dict) or not isinstance(value.get("i"), int):
        raise InvitationInvalid("This invitation link is not valid.")
    invitation = Invitation.objects.select_related("contact").filter(pk=value["i"], survey_id=survey_id).first()
    if invitation is None or invitation.nonce != value.get("n"):
        raise InvitationInvalid("This invitation link is not valid for this survey.")
    responded = invitation.status == Invitation.Status.RESPONDED
    if responded and not allow_used:
        raise InvitationUsed("This invitation link was already used to respond. Thank you!")
    personal = contact_personal(invitation.contact)
    values = {
        **personal.attributes,
        "email": personal.email,
        "first_name": personal.first_name,
        "last_name": personal.last_name,
    }
    return InvitationAccess(
        invitation_id=invitation.pk,
        contact_id=invitation.contact_id,
        survey_id=survey_id,
        responded=responded,
        values=values,
    )
