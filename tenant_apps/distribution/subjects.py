"""Contacts as a source of data-subject requests (``tenant_apps.privacy``): access returns the contact's
personal data and invitations, and the responses given through its links; erasure deletes the contact (its
invitations and list memberships go with it), while the privacy service erases those responses."""

from __future__ import annotations

from typing import Any

from tenant_apps.distribution.models import Contact
from tenant_apps.distribution.personal import contact_personal, email_hash
from tenant_apps.privacy.sources import Found, Subject
from tenant_apps.responses.models import Submission


class ContactSource:
    def _contact(self, subject: Subject) -> Contact | None:
        if not subject.email:
            return None
        return Contact.objects.filter(email_hash=email_hash(subject.email)).first()

    def find(self, subject: Subject) -> Found:
        contact = self._contact(subject)
        if contact is None:
            return Found()
        invitations: list[dict[str, Any]] = [
            {"survey_id": survey_id, "status": status, "sent_at": sent_at, "reminders_sent": reminders}
            for survey_id, status, sent_at, reminders in contact.invitations.values_list(
                "distribution__survey_id", "status", "sent_at", "reminders_sent"
            )
        ]
        record = {
            "contact_id": contact.pk,
            **contact_personal(contact).as_dict(),
            "unsubscribed_at": contact.unsubscribed_at,
            "lists": list(contact.lists.values_list("name", flat=True)),
            "invitations": invitations,
        }
        submissions = set(Submission.objects.filter(meta__contact_id=contact.pk).values_list("pk", flat=True))
        return Found(submission_ids=submissions, records=[record])

    def erase(self, subject: Subject, found: Found) -> int:
        contact = self._contact(subject)
        if contact is None:
            return 0
        deleted, _ = contact.delete()
        return int(deleted)


CONTACTS = ContactSource()
