"""Writes of the distribution app: contacts and lists, CSV import, distributions, sending in
batches at the tenant's send rate, reminders, unsubscribe."""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import re
import secrets
import smtplib
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django_redis import get_redis_connection

from shared_apps.core.cache import tenant_key
from shared_apps.core.errors import DomainError
from shared_apps.core.parsers import text_problem
from shared_apps.core.tenancy import current_schema
from tenant_apps.audit.services import audit_record
from tenant_apps.distribution import links
from tenant_apps.distribution.models import Contact, ContactList, ContactListMember, Distribution, Invitation
from tenant_apps.distribution.personal import (
    ContactPersonal,
    contact_personal,
    contact_personal_set,
    email_hash,
)
from tenant_apps.distribution.validation import FieldErrors, personal_clean
from tenant_apps.surveys.models import Survey

logger = logging.getLogger(__name__)

IMPORT_MAX_ROWS = 50_000
IMPORT_MAX_BYTES = 5 * 1024 * 1024
DISTRIBUTION_MAX_CONTACTS = 100_000


class DistributionError(DomainError):
    code = "distribution_refused"
    status = 400


def _invalid(errors: dict[str, list[str]]) -> DistributionError:
    return DistributionError("Some fields are not valid.", code="invalid", details=errors)


# --- contacts -------------------------------------------------------------------------------------


def contact_create(
    *,
    email: Any,
    first_name: Any = "",
    last_name: Any = "",
    attributes: Any = None,
    lists: list[ContactList] | None = None,
) -> Contact:
    try:
        personal = personal_clean(email=email, first_name=first_name, last_name=last_name, attributes=attributes)
    except FieldErrors as exc:
        raise _invalid(exc.errors) from None
    contact = Contact()
    contact_personal_set(contact, personal)
    try:
        with transaction.atomic():
            contact.save()
            for contact_list in lists or []:
                ContactListMember.objects.create(contact_list=contact_list, contact=contact)
            audit_record(action="contact.create", target_type="contact", target_id=contact.pk)
    except IntegrityError:
        existing = Contact.objects.filter(email_hash=contact.email_hash).values_list("pk", flat=True).first()
        raise DistributionError(
            "A contact with this e-mail already exists.",
            code="contact_exists",
            status=409,
            details={"contact_id": existing},
        ) from None
    return contact


def contact_update(*, contact: Contact, changes: dict[str, Any]) -> Contact:
    """``changes``: any of email, first_name, last_name, attributes (replaced whole)."""
    current = contact_personal(contact).as_dict()
    merged = {**current, **changes}
    try:
        personal = personal_clean(**merged)
    except FieldErrors as exc:
        raise _invalid(exc.errors) from None
    contact_personal_set(contact, personal)
    try:
        with transaction.atomic():
            contact.save()
            audit_record(
                action="contact.update",
                target_type="contact",
                target_id=contact.pk,
                changes={"fields": sorted(changes)},
            )
    except IntegrityError:
        raise DistributionError("Another contact has this e-mail.", code="contact_exists", status=409) from None
    return contact


def contact_delete(*, contact: Contact) -> None:
    with transaction.atomic():
        audit_record(action="contact.delete", target_type="contact", target_id=contact.pk)
        contact.delete()


# --- lists ----------------------------------------------------------------------------------------


def _list_name(name: Any) -> str:
    if not isinstance(name, str) or text_problem(name) or not name.strip() or len(name) > 200:
        raise _invalid({"name": ["1 to 200 characters of text."]})
    return name.strip()


def contact_list_create(*, name: Any, description: str = "") -> ContactList:
    try:
        with transaction.atomic():
            contact_list = ContactList.objects.create(name=_list_name(name), description=description)
            audit_record(action="contact_list.create", target_type="contact_list", target_id=contact_list.pk)
    except IntegrityError:
        raise DistributionError("A list with this name already exists.", code="list_exists", status=409) from None
    return contact_list


def contact_list_update(*, contact_list: ContactList, name: Any = None, description: str | None = None) -> ContactList:
    if name is not None:
        contact_list.name = _list_name(name)
    if description is not None:
        contact_list.description = description
    try:
        with transaction.atomic():
            contact_list.save()
            audit_record(action="contact_list.update", target_type="contact_list", target_id=contact_list.pk)
    except IntegrityError:
        raise DistributionError("A list with this name already exists.", code="list_exists", status=409) from None
    return contact_list


def contact_list_delete(*, contact_list: ContactList) -> None:
    """The list goes; its contacts stay."""
    with transaction.atomic():
        audit_record(action="contact_list.delete", target_type="contact_list", target_id=contact_list.pk)
        contact_list.delete()


def _contacts_by_id(ids: list[int]) -> list[int]:
    wanted = set(ids)
    found = set(Contact.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    missing = sorted(wanted - found)
    if missing:
        raise DistributionError(
            "Some contacts do not exist.", code="unknown_contacts", details={"contacts": [str(i) for i in missing[:50]]}
        )
    return sorted(found)


def contact_list_add(*, contact_list: ContactList, contact_ids: list[int]) -> int:
    """Add contacts (already there: ignored); the number added."""
    with transaction.atomic():
        ids = _contacts_by_id(contact_ids)
        before = ContactListMember.objects.filter(contact_list=contact_list).count()
        ContactListMember.objects.bulk_create(
            [ContactListMember(contact_list=contact_list, contact_id=i) for i in ids], ignore_conflicts=True
        )
        added = ContactListMember.objects.filter(contact_list=contact_list).count() - before
        audit_record(
            action="contact_list.add", target_type="contact_list", target_id=contact_list.pk, changes={"added": added}
        )
    return added


def contact_list_remove(*, contact_list: ContactList, contact_ids: list[int]) -> int:
    with transaction.atomic():
        removed, _ = ContactListMember.objects.filter(contact_list=contact_list, contact_id__in=contact_ids).delete()
        audit_record(
            action="contact_list.remove",
            target_type="contact_list",
            target_id=contact_list.pk,
            changes={"removed": removed},
        )
    return removed


# --- CSV import -----------------------------------------------------------------------------------


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    duplicates: int = 0  # rows repeating an e-mail already seen earlier in the file (case-insensitive)
    added_to_list: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)  # [{"row": n, "email": ..., "errors": {...}}]
    written: bool = False


def _decode(data: bytes) -> str:
    if len(data) > IMPORT_MAX_BYTES:
        raise DistributionError(
            f"The file is over {IMPORT_MAX_BYTES // (1024 * 1024)} MB.", code="file_too_large", status=413
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DistributionError(
            f"The file is not UTF-8 text (byte {exc.start}).", code="invalid_csv", details={"file": ["Not UTF-8."]}
        ) from None
    if not text.strip():
        raise DistributionError("The file is empty.", code="invalid_csv")
    return text


def _header(reader: Any) -> list[str]:
    try:
        header = [h.strip() for h in next(reader)]
    except (StopIteration, csv.Error) as exc:
        raise DistributionError(f"The header row cannot be read: {exc}", code="invalid_csv") from None
    problems = []
    if "email" not in [h.lower() for h in header]:
        problems.append("A column named 'email' is required.")
    lowered = [h.lower() for h in header]
    if len(set(lowered)) != len(lowered):
        problems.append("Column names must be unique.")
    for name in header:
        if text_problem(name) or not re.match(r"^[A-Za-z][A-Za-z0-9_]{0,63}$", name):
            problems.append(f"Column {name[:70]!r}: a letter then letters, digits or _ (at most 64).")
    if len(header) > 53:
        problems.append("At most 50 attribute columns besides email, first_name and last_name.")
    if problems:
        raise DistributionError("The header row is not valid.", code="invalid_csv", details={"header": problems})
    return header


def _import_rows(reader: Any, names: list[str], report: ImportReport) -> list[tuple[str, ContactPersonal]]:
    """The file's valid rows, de-duplicated (the first row of an e-mail wins); bad rows go to the report."""
    seen: set[str] = set()
    rows: list[tuple[str, ContactPersonal]] = []
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            # The reader cannot resynchronise after a broken quote: the whole file is refused.
            report.errors.append({"row": line, "email": "", "errors": {"row": [f"Not valid CSV: {exc}"]}})
            raise DistributionError(
                f"Row {line} is not valid CSV ({exc}); nothing was imported.",
                code="invalid_csv",
                details={"rows": report.errors[:1000]},
            ) from None
        if not any(c.strip() for c in cells):
            continue
        report.rows += 1
        if report.rows > IMPORT_MAX_ROWS:
            raise DistributionError(f"At most {IMPORT_MAX_ROWS} rows per file.", code="too_many_rows", status=413)
        if len(cells) != len(names):
            report.errors.append(
                {
                    "row": line,
                    "email": "",
                    "errors": {"row": [f"{len(cells)} cells where the header has {len(names)}."]},
                }
            )
            continue
        values = dict(zip(names, cells, strict=True))
        email = values.pop("email", "")
        first, last = values.pop("first_name", ""), values.pop("last_name", "")
        try:
            personal = personal_clean(
                email=email, first_name=first, last_name=last, attributes={k: v for k, v in values.items() if v}
            )
        except FieldErrors as exc:
            shown = email[:254] if not text_problem(email) else ""
            report.errors.append({"row": line, "email": shown, "errors": exc.errors})
            continue
        key = email_hash(personal.email)
        if key in seen:
            report.duplicates += 1
            continue
        seen.add(key)
        rows.append((key, personal))
    return rows


def contacts_import(
    *, data: bytes, contact_list: ContactList | None = None, skip_invalid: bool = False
) -> ImportReport:
    """Import contacts from CSV (``email`` column required; ``first_name``, ``last_name``; every
    other column is a custom attribute). E-mails are de-duplicated case-insensitively: within the
    file (later rows are reported as duplicates) and against existing contacts (updated: non-empty
    cells replace values). Bad rows are reported with their reasons; unless ``skip_invalid``, one
    bad row refuses the whole file and nothing is written. The rest is written in one transaction."""
    reader = csv.reader(io.StringIO(_decode(data), newline=""), strict=True)
    header = _header(reader)
    names = [h.lower() if h.lower() in ("email", "first_name", "last_name") else h for h in header]
    report = ImportReport()
    rows = _import_rows(reader, names, report)
    if report.errors and not skip_invalid:
        return report
    _import_write(rows, contact_list, report)
    return report


def _import_write(
    rows: list[tuple[str, ContactPersonal]], contact_list: ContactList | None, report: ImportReport
) -> None:
    seen = {key for key, _ in rows}
    with transaction.atomic():
        existing = {c.email_hash: c for c in Contact.objects.select_for_update().filter(email_hash__in=seen)}
        new: list[Contact] = []
        changed: list[Contact] = []
        for key, personal in rows:
            contact = existing.get(key)
            if contact is None:
                contact = Contact()
                contact_personal_set(contact, personal)
                new.append(contact)
                continue
            old = contact_personal(contact)
            merged = ContactPersonal(
                email=personal.email,
                first_name=personal.first_name or old.first_name,
                last_name=personal.last_name or old.last_name,
                attributes={**old.attributes, **personal.attributes},
            )
            if merged != old:
                contact_personal_set(contact, merged)
                changed.append(contact)
        Contact.objects.bulk_create(new, batch_size=1000)
        now = timezone.now()
        for contact in changed:
            contact.updated_at = now
        Contact.objects.bulk_update(changed, ["personal", "email_hash", "updated_at"], batch_size=1000)
        report.created, report.updated = len(new), len(changed)
        if contact_list is not None:
            ids = [c.pk for c in new] + [c.pk for c in existing.values()]
            before = ContactListMember.objects.filter(contact_list=contact_list).count()
            ContactListMember.objects.bulk_create(
                [ContactListMember(contact_list=contact_list, contact_id=i) for i in ids],
                ignore_conflicts=True,
                batch_size=1000,
            )
            report.added_to_list = ContactListMember.objects.filter(contact_list=contact_list).count() - before
        report.written = True
        audit_record(
            action="contact.import",
            target_type="contact_list" if contact_list else "contact",
            target_id=contact_list.pk if contact_list else "",
            changes={
                "rows": report.rows,
                "created": report.created,
                "updated": report.updated,
                "duplicates": report.duplicates,
                "refused": len(report.errors),
            },
        )


# --- distributions --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Created:
    distribution: Distribution
    queued: int
    already_invited: int
    unsubscribed: int


def distribution_create(
    *,
    survey: Survey,
    contact_list: ContactList | None,
    contact_ids: list[int] | None,
    subject: str,
    message: str,
    reminders_max: int,
    reminder_interval_hours: int,
    actor_id: int | None,
) -> Created:
    """Invite the list's (or the named) contacts to answer ``survey``: one invitation per contact
    and survey (contacts already invited to it are left out, as are unsubscribed ones); the sending
    starts once this commits."""
    if survey.status != Survey.Status.PUBLISHED or survey.current_version_id is None:
        raise DistributionError(
            "Publish the survey before sending invitations.", code="survey_not_published", status=409
        )
    with transaction.atomic():
        if contact_list is not None:
            candidates = list(
                ContactListMember.objects.filter(contact_list=contact_list).values_list("contact_id", flat=True)
            )
        else:
            candidates = _contacts_by_id(contact_ids or [])
        if not candidates:
            raise DistributionError("There is nobody to invite.", code="no_contacts")
        if len(candidates) > DISTRIBUTION_MAX_CONTACTS:
            raise DistributionError(f"At most {DISTRIBUTION_MAX_CONTACTS} contacts per distribution.", code="too_many")
        distribution = Distribution.objects.create(
            survey=survey,
            contact_list=contact_list,
            subject=subject,
            message=message,
            reminders_max=reminders_max,
            reminder_interval_hours=reminder_interval_hours,
            created_by_id=actor_id,
        )
        reachable = list(
            Contact.objects.filter(pk__in=candidates, unsubscribed_at__isnull=True).values_list("pk", flat=True)
        )
        Invitation.objects.bulk_create(
            [
                Invitation(distribution=distribution, survey_id=survey.pk, contact_id=i, nonce=secrets.token_hex(8))
                for i in reachable
            ],
            ignore_conflicts=True,
            batch_size=1000,
        )
        queued = Invitation.objects.filter(distribution=distribution).count()
        if queued == 0:
            distribution.status = Distribution.Status.SENT
            distribution.save(update_fields=["status"])
        audit_record(
            action="distribution.create",
            target_type="survey",
            target_id=survey.pk,
            changes={"distribution": distribution.pk, "queued": queued, "list": getattr(contact_list, "pk", None)},
        )
        if queued:
            _send_later(distribution.pk)
    return Created(
        distribution=distribution,
        queued=queued,
        already_invited=len(reachable) - queued,
        unsubscribed=len(candidates) - len(reachable),
    )


def _send_later(distribution_id: int, countdown: float = 0) -> None:
    from tenant_apps.distribution.tasks import distribution_send

    schema = current_schema()
    transaction.on_commit(
        lambda: distribution_send.apply_async(
            kwargs={"schema_name": schema, "distribution_id": distribution_id}, countdown=countdown
        )
    )


def send_rate_take(want: int) -> tuple[int, float]:
    """Take up to ``want`` sends from this tenant's budget of the current minute
    (``DISTRIBUTION_SEND_RATE_PER_MINUTE``, shared by every distribution and reminder of the
    tenant): (granted, seconds until the next minute)."""
    rate = settings.DISTRIBUTION_SEND_RATE_PER_MINUTE
    now = time.time()
    window = int(now // 60)
    key = tenant_key(current_schema(), "distribution", "rate", window)
    redis = get_redis_connection("default")
    pipe = redis.pipeline()
    pipe.incrby(key, want)
    pipe.expire(key, 120)
    used = int(pipe.execute()[0])
    granted = max(0, min(want, rate - (used - want)))
    if granted < want:
        redis.decrby(key, want - granted)
    return granted, 60 - (now % 60)


def send_rate_return(count: int) -> None:
    """Give back sends taken but not used (nothing was due)."""
    key = tenant_key(current_schema(), "distribution", "rate", int(time.time() // 60))
    get_redis_connection("default").decrby(key, count)


_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z][A-Za-z0-9_]{0,63})\s*\}\}")


def _render(template: str, personal: ContactPersonal) -> str:
    values = {
        **personal.attributes,
        "email": personal.email,
        "first_name": personal.first_name,
        "last_name": personal.last_name,
    }
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), ""), template)


def _message(invitation: Invitation, *, reminder: bool) -> EmailMessage:
    distribution = invitation.distribution
    personal = contact_personal(invitation.contact)
    link = links.invitation_url(invitation, distribution.survey.public_link)
    unsubscribe = links.unsubscribe_url(invitation.contact_id)
    subject = _render(distribution.subject, personal)
    body = (
        f"{_render(distribution.message, personal)}\n\n"
        f"Answer the survey: {link}\n"
        "This link is personal: please do not forward it.\n\n"
        f"To receive no more invitations from us: {unsubscribe}\n"
    )
    return EmailMessage(
        subject=f"Reminder: {subject}" if reminder else subject,
        body=body,
        to=[personal.email],
        headers={"List-Unsubscribe": f"<{unsubscribe}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    )


def _refused(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [f"{code} {msg.decode(errors='replace')}" for code, msg in exc.recipients.values()]
        return f"Refused by the mail server: {'; '.join(codes)}"[:300]
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"Refused by the mail server: {exc.smtp_code} {exc.smtp_error!r}"[:300]
    return f"{type(exc).__name__}"[:300]


# Per-recipient refusals (the invitation fails); anything else (connection lost) retries the batch.
PERMANENT = (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError, smtplib.SMTPSenderRefused)


def _deliver(invitations: list[Invitation], *, reminder: bool) -> tuple[list[Invitation], list[Invitation], bool]:
    """Send over one SMTP connection: (sent, failed, interrupted by a connection error)."""
    sent: list[Invitation] = []
    failed: list[Invitation] = []
    connection = get_connection()
    try:
        connection.open()
        for invitation in invitations:
            try:
                connection.send_messages([_message(invitation, reminder=reminder)])
            except PERMANENT as exc:
                invitation.error = _refused(exc)
                failed.append(invitation)
            else:
                sent.append(invitation)
    except (OSError, smtplib.SMTPException) as exc:
        logger.warning("distribution smtp interrupted", extra={"schema": current_schema(), "error": repr(exc)})
        return sent, failed, True
    finally:
        with contextlib.suppress(OSError, smtplib.SMTPException):
            connection.close()
    return sent, failed, False


def distribution_send_batch(*, distribution_id: int) -> str:
    """Send the next batch of this distribution's queued invitations within the tenant's send rate;
    schedule the next batch. Idempotent: only ``queued`` invitations are sent, each row locked while
    it is being sent (a redelivered task skips what another run holds)."""
    distribution = Distribution.objects.select_related("survey").filter(pk=distribution_id).first()
    if distribution is None or distribution.status == Distribution.Status.SENT:
        return "done"
    granted, wait = send_rate_take(settings.DISTRIBUTION_BATCH_SIZE)
    interrupted = False
    if granted:
        with transaction.atomic():
            batch = list(
                Invitation.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("contact", "distribution__survey")
                .filter(distribution_id=distribution_id, status=Invitation.Status.QUEUED)
                .order_by("id")[:granted]
            )
            unsubscribed = [i for i in batch if i.contact.unsubscribed_at is not None]
            batch = [i for i in batch if i.contact.unsubscribed_at is None]
            sent, failed, interrupted = _deliver(batch, reminder=False)
            now = timezone.now()
            interval = timedelta(hours=distribution.reminder_interval_hours)
            for invitation in sent:
                invitation.status, invitation.sent_at, invitation.error = Invitation.Status.SENT, now, ""
                invitation.next_reminder_at = now + interval if distribution.reminders_max else None
            for invitation in failed:
                invitation.status = Invitation.Status.FAILED
            for invitation in unsubscribed:
                invitation.status = Invitation.Status.UNSUBSCRIBED
            Invitation.objects.bulk_update(
                sent + failed + unsubscribed, ["status", "sent_at", "error", "next_reminder_at"]
            )
        logger.info(
            "distribution batch",
            extra={
                "schema": current_schema(),
                "distribution": distribution_id,
                "sent": len(sent),
                "failed": len(failed),
            },
        )
    if interrupted:
        raise ConnectionError("The mail server connection was interrupted; the batch is retried.")
    remaining = Invitation.objects.filter(distribution_id=distribution_id, status=Invitation.Status.QUEUED).exists()
    if not remaining:
        Distribution.objects.filter(pk=distribution_id).update(status=Distribution.Status.SENT)
        return "done"
    with transaction.atomic():
        _send_later(distribution_id, countdown=0 if granted == settings.DISTRIBUTION_BATCH_SIZE else wait)
    return "more"


def reminders_send(*, limit: int = 2000) -> int:
    """Remind invited contacts who have not responded, whose next reminder is due, within the send
    rate (what the rate leaves for later waits for the next run). The number sent."""
    total = 0
    while total < limit:
        granted, _ = send_rate_take(settings.DISTRIBUTION_BATCH_SIZE)
        if not granted:
            break
        with transaction.atomic():
            batch = list(
                Invitation.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("contact", "distribution__survey")
                .filter(
                    status=Invitation.Status.SENT,
                    next_reminder_at__lte=timezone.now(),
                    contact__unsubscribed_at__isnull=True,
                    reminders_sent__lt=F("distribution__reminders_max"),
                    distribution__survey__status=Survey.Status.PUBLISHED,
                )
                .order_by("next_reminder_at", "id")[:granted]
            )
            if not batch:
                send_rate_return(granted)
                break
            sent, failed, interrupted = _deliver(batch, reminder=True)
            now = timezone.now()
            for invitation in sent:
                invitation.reminders_sent += 1
                more = invitation.reminders_sent < invitation.distribution.reminders_max
                interval = timedelta(hours=invitation.distribution.reminder_interval_hours)
                invitation.next_reminder_at = now + interval if more else None
            for invitation in failed:  # keep the invitation "sent"; the reminder is not retried
                invitation.next_reminder_at = None
            Invitation.objects.bulk_update(sent + failed, ["reminders_sent", "next_reminder_at", "error"])
        total += len(sent)
        if interrupted:
            break
    if total:
        logger.info("distribution reminders", extra={"schema": current_schema(), "sent": total})
    return total


# --- unsubscribe and responses --------------------------------------------------------------------


def contact_unsubscribe(*, token: str) -> Contact:
    """Honour an unsubscribe link: no more invitations or reminders from this organisation."""
    contact_id = links.unsubscribe_contact_id(token)
    contact = Contact.objects.filter(pk=contact_id).first() if contact_id else None
    if contact is None:
        raise DistributionError("This unsubscribe link is not valid.", code="unsubscribe_invalid", status=404)
    with transaction.atomic():
        if contact.unsubscribed_at is None:
            contact.unsubscribed_at = timezone.now()
            contact.save(update_fields=["unsubscribed_at", "updated_at"])
            audit_record(action="contact.unsubscribe", target_type="contact", target_id=contact.pk)
        Invitation.objects.filter(contact=contact, status=Invitation.Status.QUEUED).update(
            status=Invitation.Status.UNSUBSCRIBED
        )
        Invitation.objects.filter(contact=contact).update(next_reminder_at=None)
    return contact


def invitation_responded(*, invitation_id: int, survey_id: int, submission_uid: str) -> None:
    """Called inside the submit's transaction: the invitation's contact has responded."""
    Invitation.objects.filter(pk=invitation_id, survey_id=survey_id).update(
        status=Invitation.Status.RESPONDED,
        responded_at=timezone.now(),
        submission_uid=submission_uid,
        next_reminder_at=None,
        error="",
    )
