"""Invitations end to end: a real Celery worker sends through a real SMTP server (aiosmtpd); the
personal link opens the invited-only survey, fills the hidden field from the contact's attribute
(piped into the end screen), works once, and marks the contact "responded"; reminders go to
non-responders only; unsubscribing stops everything across the organisation."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import pytest
from django.test import Client, override_settings
from django_tenants.utils import tenant_context

from tenant_apps.distribution.models import Distribution, Invitation
from tests.tenant_apps.distribution.conftest import (
    client_of,
    contact_create,
    invitation_statuses,
    link_in,
    unique_email,
    wait_until,
)

pytestmark = pytest.mark.usefixtures("celery_worker_process")


def _distribute(client: Client, survey: Any, **body: Any) -> dict[str, Any]:
    body = {"subject": "Your opinion, {{first_name}}", "message": "Hello {{first_name}} from {{department}},", **body}
    response = client.post(f"/api/v1/surveys/{survey.pk}/distributions/", body, content_type="application/json")
    assert response.status_code == 202, response.content
    return response.json()


def _new_list(client: Client, contact_ids: list[int]) -> int:
    created = client.post("/api/v1/contact-lists/", {"name": f"List {unique_email()}"}, "application/json")
    list_id = created.json()["id"]
    client.post(f"/api/v1/contact-lists/{list_id}/members/", {"contacts": contact_ids}, "application/json")
    return int(list_id)


def test_invitations_are_sent_and_the_personal_link_works_once(
    admin_client: Client, tenant_a: Any, tenant_b: Any, invited_survey: Any, smtp_server: Any
) -> None:
    ann, bob, bad = unique_email("ann"), unique_email("bob"), unique_email("bad", domain="refused.test")
    ids = [
        contact_create(admin_client, ann, first_name="Ann", attributes={"department": "Sales"})["id"],
        contact_create(admin_client, bob, first_name="Bob", attributes={"department": "Ops"})["id"],
        contact_create(admin_client, bad, first_name="Bad")["id"],
    ]
    created = _distribute(admin_client, invited_survey, list=_new_list(admin_client, ids), reminders_max=2)
    assert created["counts"]["queued"] == 3
    assert created["status"] == "sending"

    message = smtp_server.wait_for(ann)
    assert message["Subject"] == "Your opinion, Ann"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Hello Ann from Sales," in message.get_payload(decode=True).decode()
    wait_until(
        lambda: invitation_statuses(tenant_a, created["id"]) == {ann: "sent", bob: "sent", bad: "failed"},
        what="every invitation tried",
    )
    detail = admin_client.get(f"/api/v1/distributions/{created['id']}/").json()
    assert detail["status"] == "sent"
    assert (detail["counts"]["sent"], detail["counts"]["failed"]) == (2, 1)
    failed = admin_client.get(f"/api/v1/distributions/{created['id']}/invitations/", {"status": "failed"}).json()
    assert failed["results"][0]["email"] == bad
    assert "550" in failed["results"][0]["error"]

    host, path = link_in(message, "Answer the survey")
    token = unquote(path.split("?i=", 1)[1])
    respondent = client_of(tenant_a)
    assert host.split(":")[0] == respondent.defaults["HTTP_HOST"]
    link = invited_survey.public_link

    # The invited-only survey is closed to anyone without a personal link, members included.
    assert respondent.get(f"/api/v1/s/{link}/").status_code == 403
    assert admin_client.get(f"/api/v1/s/{link}/").json()["error"]["code"] == "invitation_required"
    page = respondent.get(f"/s/{link}")
    assert page.status_code == 403
    assert b"invitation" in page.content
    forged = respondent.get(f"/api/v1/s/{link}/", HTTP_X_INVITATION_TOKEN=token[:-2] + "xx")
    assert forged.status_code == 403
    assert forged.json()["error"]["code"] == "invitation_invalid"
    # The link is bound to its organisation: on another tenant's host it is worthless.
    assert client_of(tenant_b).get(f"/s/{link}?i={token}").status_code in (403, 404)

    page = respondent.get(path)
    assert page.status_code == 200
    assert b'"hidden": {"q_dept": "Sales"}' in page.content
    assert respondent.get(f"/api/v1/s/{link}/", HTTP_X_INVITATION_TOKEN=token).status_code == 200

    submitted = respondent.post(
        f"/api/v1/s/{link}/submit/",
        {"answers": {"q_name": "Ann", "q_role": "dev", "q_nps": 9, "q_dept": "forged"}},
        content_type="application/json",
        HTTP_X_INVITATION_TOKEN=token,
        HTTP_IDEMPOTENCY_KEY="ann-submit-0001",
    )
    assert submitted.status_code == 201, submitted.content
    assert submitted.json()["text"] == "Thank you, Ann of Sales!"  # hidden field from the contact, piped
    statuses = invitation_statuses(tenant_a, created["id"])
    assert statuses[ann] == "responded"
    with tenant_context(tenant_a):
        invitation = Invitation.objects.get(distribution_id=created["id"], status="responded")
        assert str(invitation.submission_uid) == submitted.json()["submission_id"]
        assert invitation.next_reminder_at is None
        from tenant_apps.responses.models import Answer, Submission

        submission = Submission.objects.get(uid=submitted.json()["submission_id"])
        assert submission.meta["invitation_id"] == invitation.pk
        assert submission.meta["contact_id"] == invitation.contact_id
        assert Answer.objects.get(submission_id=submission.pk, question_id="q_dept").value == "Sales"

    # The same request again (a retry) answers as before; another response through the link is refused.
    retry = respondent.post(
        f"/api/v1/s/{link}/submit/",
        {"answers": {"q_name": "Ann", "q_role": "dev", "q_nps": 9}},
        content_type="application/json",
        HTTP_X_INVITATION_TOKEN=token,
        HTTP_IDEMPOTENCY_KEY="ann-submit-0001",
    )
    assert retry.status_code == 200, retry.content
    second = respondent.post(
        f"/api/v1/s/{link}/submit/",
        {"answers": {"q_name": "Ann", "q_role": "pm", "q_nps": 3}},
        content_type="application/json",
        HTTP_X_INVITATION_TOKEN=token,
    )
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "already_answered"
    used = respondent.get(f"/api/v1/s/{link}/", HTTP_X_INVITATION_TOKEN=token)
    assert used.status_code == 410
    assert used.json()["error"]["code"] == "invitation_used"
    assert respondent.get(path).status_code == 410
    with tenant_context(tenant_a):
        from tenant_apps.responses.models import Submission

        assert Submission.objects.filter(survey_id=invited_survey.pk, meta__invitation_id=invitation.pk).count() == 1

    # Distributing again to the same contacts for this survey invites nobody twice.
    again = _distribute(admin_client, invited_survey, contacts=ids)
    assert again["already_invited"] == 3
    assert again["counts"]["queued"] == 0


def test_reminders_go_to_non_responders_and_unsubscribe_stops_everything(
    admin_client: Client, tenant_a: Any, tenant_b: Any, invited_survey: Any, smtp_server: Any
) -> None:
    from shared_apps.core import registry
    from shared_apps.tenants.tasks import periodic_fan_out_task

    answered, silent, leaving = unique_email("answered"), unique_email("silent"), unique_email("leaving")
    ids = [contact_create(admin_client, e, first_name="X")["id"] for e in (answered, silent, leaving)]
    created = _distribute(admin_client, invited_survey, contacts=ids, reminders_max=1, reminder_interval_hours=1)
    messages = {e: smtp_server.wait_for(e) for e in (answered, silent, leaving)}
    wait_until(lambda: set(invitation_statuses(tenant_a, created["id"]).values()) == {"sent"}, what="sent")

    respondent = client_of(tenant_a)
    _, path = link_in(messages[answered], "Answer the survey")
    submitted = respondent.post(
        f"/api/v1/s/{invited_survey.public_link}/submit/",
        {"answers": {"q_role": "dev", "q_nps": 7}},
        content_type="application/json",
        HTTP_X_INVITATION_TOKEN=unquote(path.split("?i=", 1)[1]),
    )
    assert submitted.status_code == 201, submitted.content

    # Unsubscribe: GET asks (a link scanner changes nothing), POST (RFC 8058 one-click) unsubscribes.
    _, unsubscribe = link_in(messages[leaving], "To receive no more invitations from us")
    asked = respondent.get(unsubscribe)
    assert asked.status_code == 200
    assert b"<form" in asked.content
    done = respondent.post(unsubscribe, {"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    assert b'data-status="unsubscribed"' in done.content
    assert respondent.get("/unsubscribe?token=forged").status_code == 404
    # Bound to its organisation: the same token on another organisation's host is not valid.
    from tests.conftest import host_of

    foreign = Client(HTTP_HOST=host_of(tenant_b)).post(unsubscribe)
    assert foreign.status_code == 404
    assert admin_client.get(f"/api/v1/contacts/{ids[2]}/").json()["unsubscribed_at"] is not None

    # Nothing is due yet: the beat's run reminds nobody.
    with tenant_context(tenant_a):
        from tenant_apps.distribution.services import reminders_send

        assert reminders_send() == 0
        # An hour later (the interval), the reminder is due.
        Invitation.objects.filter(distribution_id=created["id"]).update(
            next_reminder_at=Invitation.objects.get(distribution_id=created["id"], contact_id=ids[1]).sent_at
        )
    job = registry.periodic_job("distribution-reminders")
    assert job.per_tenant
    assert job.task == "tenant_apps.distribution.tasks.reminders_send"
    from config.celery import beat_schedule

    assert any(entry["kwargs"] == {"job": "distribution-reminders"} for entry in beat_schedule().values())
    assert periodic_fan_out_task(job="distribution-reminders") >= 1  # one task per active organisation

    reminder = wait_until(
        lambda: next(
            (m for m in smtp_server.messages if silent in str(m["To"]) and str(m["Subject"]).startswith("Reminder:")),
            None,
        ),
        what="reminder to the silent contact",
    )
    assert "Answer the survey" in reminder.get_payload(decode=True).decode()
    with tenant_context(tenant_a):
        wait_until(
            lambda: Invitation.objects.get(distribution_id=created["id"], contact_id=ids[1]).reminders_sent == 1,
            what="reminder counted",
        )
        silent_invitation = Invitation.objects.get(distribution_id=created["id"], contact_id=ids[1])
        assert silent_invitation.next_reminder_at is None  # max 1 reminder: no more
        assert Invitation.objects.get(distribution_id=created["id"], contact_id=ids[0]).reminders_sent == 0
        assert Invitation.objects.get(distribution_id=created["id"], contact_id=ids[2]).reminders_sent == 0
    reminded = [m for m in smtp_server.messages if str(m["Subject"]).startswith("Reminder:")]
    assert not [m for m in reminded if answered in str(m["To"]) or leaving in str(m["To"])]

    # Unsubscribed across the organisation: another survey's distribution leaves the contact out.
    from tests.factories import SurveyFactory

    other_survey = SurveyFactory(tenant=tenant_a, published=True)
    later = _distribute(admin_client, other_survey, contacts=[ids[2]])
    assert later["unsubscribed"] == 1
    assert later["counts"]["queued"] == 0
    assert later["status"] == "sent"


def test_send_rate_is_a_per_tenant_budget(make_tenant: Any, mailoutbox: list[Any]) -> None:
    """With this minute's budget nearly spent, a batch sends only what is left and the rest waits for
    the next minute; another organisation's budget is its own."""
    import secrets
    import time

    from tenant_apps.distribution import services
    from tests.factories import SurveyFactory

    tenant_a, tenant_b = make_tenant(), make_tenant()  # fresh budgets
    survey = SurveyFactory(tenant=tenant_a, published=True)
    with tenant_context(tenant_a):
        ids = [services.contact_create(email=unique_email("rate")).pk for _ in range(3)]
    if time.time() % 60 > 50:  # keep the whole check inside one minute window
        time.sleep(61 - time.time() % 60)
    with override_settings(DISTRIBUTION_SEND_RATE_PER_MINUTE=5, DISTRIBUTION_BATCH_SIZE=3):
        with tenant_context(tenant_a):
            # Rows made directly (not through the service) so that no task is queued for the worker.
            distribution = Distribution.objects.create(survey=survey, subject="Rate", message="m")
            Invitation.objects.bulk_create(
                [
                    Invitation(distribution=distribution, survey_id=survey.pk, contact_id=i, nonce=secrets.token_hex(8))
                    for i in ids
                ]
            )
            assert services.send_rate_take(4)[0] == 4  # other sends of this organisation this minute
            assert services.distribution_send_batch(distribution_id=distribution.pk) == "more"
            statuses = sorted(invitation_statuses(tenant_a, distribution.pk).values())
            assert statuses == ["queued", "queued", "sent"]
            assert services.send_rate_take(1)[0] == 0  # spent until the next minute
        with tenant_context(tenant_b):
            assert services.send_rate_take(5)[0] == 5  # another organisation: a budget of its own
    # In this process pytest-django swaps in its in-memory mail backend: exactly one message went out.
    assert len(mailoutbox) == 1


def test_an_invitation_link_saves_drafts_and_the_page_carries_it(tenant_a: Any, invited_survey: Any) -> None:
    """Drafts on an invited-only survey need the link too; the page hands its token to the script."""
    from tenant_apps.distribution import services
    from tenant_apps.distribution.links import invitation_token

    with tenant_context(tenant_a):
        contact = services.contact_create(email=unique_email("draft"), attributes={"department": "Legal"})
        distribution = Distribution.objects.create(survey=invited_survey, subject="s", message="m")
        invitation = Invitation.objects.create(
            distribution=distribution, survey_id=invited_survey.pk, contact=contact, nonce="n1", status="sent"
        )
        token = invitation_token(invitation)
    respondent = client_of(tenant_a)
    link = invited_survey.public_link
    refused = respondent.put(f"/api/v1/s/{link}/draft/", {"answers": {"q_name": "A"}}, content_type="application/json")
    assert refused.status_code == 403
    saved = respondent.put(
        f"/api/v1/s/{link}/draft/",
        {"answers": {"q_name": "A"}},
        content_type="application/json",
        HTTP_X_INVITATION_TOKEN=token,
    )
    assert saved.status_code == 200, saved.content
    resumed = respondent.get(saved.json()["resume_url"])  # on another device: the link carries the invitation
    assert resumed.status_code == 200
    assert b'"submission_id"' in resumed.content
    page = respondent.get(f"/s/{link}", {"i": token})
    assert page.status_code == 200
    assert token.encode() in page.content
    # A new nonce revokes the links already sent.
    with tenant_context(tenant_a):
        Invitation.objects.filter(pk=invitation.pk).update(nonce="n2")
    revoked = respondent.get(f"/api/v1/s/{link}/", HTTP_X_INVITATION_TOKEN=token)
    assert revoked.status_code == 403
    assert revoked.json()["error"]["code"] == "invitation_invalid"
    # A link for another survey of the same organisation does not open this one.
    from tests.factories import SurveyFactory

    other = SurveyFactory(tenant=tenant_a, published=True, access="invited")
    assert respondent.get(f"/api/v1/s/{other.public_link}/", HTTP_X_INVITATION_TOKEN=token).status_code == 403


def test_a_mail_server_that_is_down_leaves_invitations_queued_for_the_retry(make_tenant: Any) -> None:
    """A connection error is not a refusal: nothing is marked failed, the task raises to be retried."""
    import secrets

    from tenant_apps.distribution import services
    from tests.conftest import free_port
    from tests.factories import SurveyFactory

    tenant = make_tenant()
    survey = SurveyFactory(tenant=tenant, published=True)
    closed_port = free_port()
    with (
        override_settings(EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend", EMAIL_PORT=closed_port),
        tenant_context(tenant),
    ):
        contact = services.contact_create(email=unique_email("down"))
        distribution = Distribution.objects.create(survey=survey, subject="s", message="m")
        Invitation.objects.create(
            distribution=distribution, survey_id=survey.pk, contact=contact, nonce=secrets.token_hex(8)
        )
        with pytest.raises(ConnectionError):
            services.distribution_send_batch(distribution_id=distribution.pk)
        assert Invitation.objects.get(distribution=distribution).status == "queued"
        assert Distribution.objects.get(pk=distribution.pk).status == "sending"
