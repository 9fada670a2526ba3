"""Respondents (and an invited member) in real headless Chromium, typing key by key: logic skips a page,
piped labels follow the typing, drafts are saved as one types and resumed from a short link in a fresh
browser context, a second submission is refused and said, axe-core finds no serious accessibility issue.
Screenshots go to var/artefacts/."""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django_tenants.utils import tenant_context

from tenant_apps.responses.models import Answer, Submission
from tenant_apps.surveys import services
from tenant_apps.surveys.models import Publication
from tests.conftest import ROOT, host_of, login

ARTEFACTS = ROOT / "var" / "artefacts"
CHROMIUM = shutil.which("chromium")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}

DEFINITION = {
    "end_screens": [{"id": "thanks", "text": "Thanks {{q_name|friend}}, all done!"}],
    "pages": [
        {
            "id": "p1",
            "title": "Start",
            "questions": [
                {"id": "q_name", "type": "short_text", "text": "Your name", "required": True},
                {
                    "id": "q_path",
                    "type": "single_choice",
                    "text": "Short or long version?",
                    "required": True,
                    "choices": [{"id": "short", "text": "Short"}, {"id": "long", "text": "Long"}],
                },
            ],
            "rules": [
                {
                    "id": "r_skip",
                    "when": {"q": "q_path", "op": "equals", "value": "short"},
                    "then": [{"type": "skip_to", "page": "p3"}],
                }
            ],
        },
        {
            "id": "p2",
            "title": "Details",
            "questions": [{"id": "q_detail", "type": "long_text", "text": "Tell us more", "required": True}],
        },
        {
            "id": "p3",
            "title": "Almost done, {{q_name}}",
            "questions": [
                {"id": "q_nps", "type": "nps", "text": "How likely are you to recommend us?", "required": True},
                {
                    "id": "q_why",
                    "type": "long_text",
                    "text": "Why {{q_nps}}?",
                    "visible_if": {"q": "q_nps", "op": "gte", "value": 9},
                },
            ],
        },
    ],
}


@pytest.fixture(scope="module")
def browser(live_servers):
    """Debian's Chromium driven by Playwright. Missing Chromium fails the run under CI (never a silent skip)."""
    if CHROMIUM is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed: `make test` installs it (make chromium)")
        pytest.skip("Debian's chromium is not installed (make chromium)")
    if not AXE.exists():  # node_modules comes with `make assets` (npm ci from package-lock.json)
        subprocess.run(["make", "--no-print-directory", "assets"], cwd=ROOT, check=True, capture_output=True)
    from playwright.sync_api import sync_playwright

    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    # Playwright's sync API keeps an event loop in this thread; the ORM calls between browser steps are
    # still plain synchronous calls, so Django's async-context guard is lifted for these tests only.
    guard = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            yield chromium
            chromium.close()
    finally:
        if guard is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = guard


def _publish(tenant, definition, **settings):
    with tenant_context(tenant):
        return services.survey_create_published(title="Browser survey", definition=definition, **settings)


def _url(live_servers, tenant, path):
    return f"http://{host_of(tenant)}:{live_servers[0].rsplit(':', 1)[1]}{path}"


def _type(locator, text):
    locator.click()
    locator.press_sequentially(text, delay=30)


def _axe(page, name):
    """axe-core (from the npm registry, package-lock.json) over the page: no serious or critical violation."""
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
            .filter((v) => v.impact === "serious" || v.impact === "critical")
            .map((v) => ({id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(" "))}))"""
    )
    assert violations == [], (name, violations)


def test_respondent_skips_saves_resumes_and_submits(browser, live_servers, make_tenant):
    tenant = make_tenant(name="Browser Org")
    with tenant_context(tenant):
        survey = services.survey_create(title="Browser survey", created_by_id=None, definition=DEFINITION)
        publication = services.publication_request(survey=survey, requested_by_id=None)
    with tenant_context(tenant):
        services.publication_compile_run(publication=Publication.objects.get(pk=publication.pk))
    url = _url(live_servers, tenant, f"/s/{survey.public_link}")

    first = browser.new_context(**PHONE)
    page = first.new_page()
    page.goto(url)
    page.get_by_role("heading", name="Start").wait_for()
    page.get_by_role("button", name="Next").click()  # required questions are enforced in the browser
    assert page.locator(".error").count() == 2
    _type(page.get_by_label("Your name"), "Ann")
    page.get_by_label("Short", exact=True).check()
    page.get_by_role("button", name="Next").click()
    page.get_by_role("heading", name="Almost done, Ann").wait_for()  # page 2 skipped, title piped
    page.get_by_role("button", name="Save and continue later").click()
    link = page.locator("#resume-link")
    page.wait_for_function("document.getElementById('resume-link').value.includes('?r=')")
    resume = link.input_value()
    assert re.fullmatch(rf"http://[^/]+/s/{survey.public_link}\?r=[A-Za-z0-9_-]{{40}}", resume), resume
    first.close()

    second = browser.new_context(**PHONE)  # another device: nothing in its storage
    page = second.new_page()
    page.goto(resume)
    page.get_by_role("heading", name="Almost done, Ann").wait_for()
    assert not page.get_by_text("Why 9?").is_visible()
    page.get_by_label("9", exact=True).check()
    _type(page.get_by_label("Why 9?"), "Fast and simple")  # shown by display logic, text piped
    page.screenshot(path=str(ARTEFACTS / "respondent-question-page.png"), full_page=True)
    page.get_by_role("button", name="Back").click()
    page.get_by_role("heading", name="Start").wait_for()  # back skips the skipped page too
    assert page.get_by_label("Your name").input_value() == "Ann"
    page.get_by_role("button", name="Next").click()
    page.get_by_role("heading", name="Almost done, Ann").wait_for()
    page.get_by_role("button", name="Submit").click()
    end = page.locator("[data-end-screen]")
    end.wait_for()
    assert end.inner_text() == "Thanks Ann, all done!"
    assert end.get_attribute("data-end-screen") == "thanks"
    page.screenshot(path=str(ARTEFACTS / "respondent-end-screen.png"), full_page=True)
    second.close()

    with tenant_context(tenant):
        submission = Submission.objects.get(survey_id=survey.pk)
        stored = dict(Answer.objects.filter(submission_id=submission.id).values_list("question_id", "value"))
    assert stored == {"q_name": "Ann", "q_path": "short", "q_nps": 9, "q_why": "Fast and simple"}
    assert submission.end_screen == "thanks"
    assert Path(ARTEFACTS / "respondent-end-screen.png").stat().st_size > 1000


def test_typing_into_a_piped_question_keeps_every_key_and_the_page_is_accessible(browser, live_servers, make_tenant):
    """The demo survey: the first name is piped into the next label while it is typed."""
    tenant = make_tenant(name="Typing Org")
    survey = _publish(
        tenant,
        copy.deepcopy(services.DEMO_DEFINITION),
        description="Five quick questions about how you use the product.",
        branding={"primary_color": "#0b7a3e", "accent_color": "#eef7f1"},
    )
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.goto(_url(live_servers, tenant, f"/s/{survey.public_link}"))
    page.get_by_role("heading", name="About you").wait_for()
    name = page.get_by_label("What is your first name?")
    _type(name, "Alice")
    assert name.input_value() == "Alice"  # each key where it was typed (the label re-pipes on every key)
    assert page.get_by_text("What best describes your role, Alice?").is_visible()
    assert page.evaluate("document.activeElement.id") == "q_name"
    assert page.get_by_text("Five quick questions about how you use the product.").is_visible()
    page.get_by_role("button", name="Next").click()  # the role is required
    group = page.locator("[data-group=q_role]")
    assert group.get_attribute("role") == "radiogroup"
    assert group.get_attribute("aria-required") == "true"
    assert group.get_attribute("aria-invalid") == "true"
    assert group.get_attribute("aria-describedby") == "q_role-error"
    _axe(page, "question page with an error")
    page.screenshot(path=str(ARTEFACTS / "respondent-typing.png"), full_page=True)
    page.get_by_label("Engineering").check()
    assert group.get_attribute("aria-invalid") is None
    assert page.locator("#q_role-error").count() == 0
    accent = page.evaluate("getComputedStyle(document.getElementById('q_role-dev')).accentColor")
    assert accent == "rgb(11, 122, 62)"  # the survey's brand, not browser blue
    page.get_by_role("button", name="Next").click()
    page.get_by_role("heading", name="Your opinion").wait_for()
    assert page.get_by_text("Five quick questions").count() == 0  # the description is on the first page only
    page.locator("label[for=q_nps-9]").click()
    chosen = page.evaluate(
        """() => { const label = document.querySelector("label[for=q_nps-9]");
                   const span = label.querySelector("span");
                   return [getComputedStyle(label).fontWeight, getComputedStyle(label).borderTopWidth,
                           getComputedStyle(span, "::before").content]; }"""
    )
    assert chosen == ["700", "2px", '"✓ "']  # shown by weight, border and a tick, not by colour alone
    _type(page.get_by_label("What is the main reason for your score of 9?"), "Quick to set up")
    _axe(page, "question page")
    page.screenshot(path=str(ARTEFACTS / "respondent-nps-chosen.png"), full_page=True)
    page.get_by_role("button", name="Next").click()
    page.get_by_role("heading", name="One more thing").wait_for()
    page.get_by_label("Logic").check()
    page.get_by_role("button", name="Submit").click()
    end = page.locator("[data-end-screen]")
    end.wait_for()
    assert end.inner_text() == "Thank you, Alice! Your answers help us improve."
    _axe(page, "end screen")
    page.screenshot(path=str(ARTEFACTS / "respondent-demo-end-screen.png"), full_page=True)
    context.close()
    with tenant_context(tenant):
        submission = Submission.objects.get(survey_id=survey.pk)
        stored = dict(Answer.objects.filter(submission_id=submission.id).values_list("question_id", "value"))
    assert stored["q_name"] == "Alice"
    assert stored["q_why"] == "Quick to set up"


CORRECTION = {
    "end_screens": [{"id": "done", "text": "Done"}],
    "pages": [
        {
            "id": "p1",
            "title": "First page",
            "questions": [
                {"id": "q_city", "type": "short_text", "text": "Your city", "required": True},
                {"id": "q_age", "type": "number", "text": "Your age", "required": True, "min": 18, "max": 99},
            ],
        },
        {"id": "p2", "title": "Second page", "questions": [{"id": "q_note", "type": "long_text", "text": "A note"}]},
    ],
}


def test_after_correcting_errors_one_click_on_next_advances(browser, live_servers, make_tenant):
    tenant = make_tenant(name="Correction Org")
    survey = _publish(tenant, copy.deepcopy(CORRECTION))
    context = browser.new_context()
    page = context.new_page()
    page.goto(_url(live_servers, tenant, f"/s/{survey.public_link}"))
    page.get_by_role("heading", name="First page").wait_for()
    page.get_by_role("button", name="Next").click()
    assert page.locator(".error").count() == 2
    page.screenshot(path=str(ARTEFACTS / "respondent-errors.png"), full_page=True)
    _type(page.get_by_label("Your city"), "Oslo")
    _type(page.get_by_label("Your age"), "42")
    page.get_by_role("button", name="Next").click()  # once: the field's change must not swallow the click
    page.get_by_role("heading", name="Second page").wait_for(timeout=3000)
    page.get_by_role("button", name="Back").click()
    page.get_by_role("heading", name="First page").wait_for()
    assert page.get_by_label("Your city").input_value() == "Oslo"
    age = page.get_by_label("Your age")
    assert age.input_value() == "42"
    age.click()
    for _ in range(2):
        page.keyboard.press("Backspace")
    page.get_by_role("button", name="Next").click()
    page.locator("#q_age-error").wait_for()
    assert age.get_attribute("aria-invalid") == "true"  # not aria-invalid=""
    assert age.get_attribute("aria-describedby") == "q_age-error"
    assert page.get_by_label("Your city").get_attribute("aria-invalid") is None
    context.close()


def test_answers_typed_without_next_are_saved_and_resumed_from_a_short_link(
    browser, live_servers, make_tenant, smtp_server, celery_worker_process
):
    tenant = make_tenant(name="Resume Org")
    survey = _publish(tenant, copy.deepcopy(services.DEMO_DEFINITION))
    context = browser.new_context(**PHONE)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.goto(_url(live_servers, tenant, f"/s/{survey.public_link}"))
    page.get_by_role("heading", name="About you").wait_for()
    page.get_by_role("button", name="Save and continue later").click()
    page.wait_for_function("document.getElementById('resume-link').value.includes('?r=')")
    link = page.locator("#resume-link").input_value()
    assert re.fullmatch(rf"http://[^/]+/s/{survey.public_link}\?r=[A-Za-z0-9_-]{{40}}", link), link
    page.get_by_role("button", name="Copy link").click()
    page.get_by_text("Link copied.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == link
    # Now answer without clicking Next: the draft is saved 800 ms after typing stops.
    with page.expect_response(lambda r: r.url.endswith("/draft/") and r.request.method == "PUT") as saved:
        _type(page.get_by_label("What is your first name?"), "Bob")
        page.get_by_label("Product").check()
    assert saved.value.status == 200
    assert saved.value.request.post_data_json["answers"] == {"q_name": "Bob", "q_role": "pm"}
    page.screenshot(path=str(ARTEFACTS / "respondent-save-later.png"), full_page=True)
    to = f"bob-{uuid.uuid4().hex[:6]}@example.test"
    _type(page.get_by_label("E-mail me the link"), to)
    page.get_by_role("button", name="Send").click()
    page.get_by_text(f"Sent to {to}.").wait_for()
    context.close()

    emailed = re.search(r"https?://\S+/s/\S+", smtp_server.wait_for(to).get_payload()).group(0)
    assert urlparse(emailed).path == urlparse(link).path
    for address in (link, _url(live_servers, tenant, f"{urlparse(emailed).path}?{urlparse(emailed).query}")):
        fresh = browser.new_context(**PHONE)  # another device: nothing in its storage
        page = fresh.new_page()
        page.goto(address)
        page.get_by_role("heading", name="About you").wait_for()
        page.wait_for_function("document.getElementById('q_name').value === 'Bob'")
        assert page.get_by_label("Product").is_checked()
        assert page.locator("#q_role-label").inner_text().startswith("What best describes your role, Bob?")
        fresh.close()


def test_answers_are_saved_when_the_page_is_left_before_the_debounce(browser, live_servers, make_tenant):
    tenant = make_tenant(name="Leave Org")
    survey = _publish(tenant, copy.deepcopy(services.DEMO_DEFINITION))
    context = browser.new_context()
    page = context.new_page()
    page.goto(_url(live_servers, tenant, f"/s/{survey.public_link}"))
    page.get_by_role("button", name="Save and continue later").click()
    page.wait_for_function("document.getElementById('resume-link').value.includes('?r=')")
    link = page.locator("#resume-link").input_value()
    page.get_by_label("What is your first name?").press_sequentially("Dee")
    page.goto("about:blank")  # at once: well inside the 800 ms debounce; pagehide sends it (keepalive)
    context.close()
    fresh = browser.new_context()
    page = fresh.new_page()
    page.goto(link)
    page.wait_for_function("document.getElementById('q_name').value === 'Dee'")
    fresh.close()


def test_submitting_from_a_second_tab_after_the_resumed_copy_was_submitted_is_refused(
    browser, live_servers, make_tenant
):
    tenant = make_tenant(name="Two Tabs Org")
    survey = _publish(tenant, copy.deepcopy(services.DEMO_DEFINITION))
    first = browser.new_context()
    tab = first.new_page()
    tab.goto(_url(live_servers, tenant, f"/s/{survey.public_link}"))
    _type(tab.get_by_label("What is your first name?"), "Cy")
    tab.get_by_label("Operations").check()
    tab.get_by_role("button", name="Save and continue later").click()
    tab.wait_for_function("document.getElementById('resume-link').value.includes('?r=')")
    link = tab.locator("#resume-link").input_value()

    second = browser.new_context()
    other = second.new_page()
    other.goto(link)
    other.wait_for_function("document.getElementById('q_name').value === 'Cy'")
    other.get_by_role("button", name="Next").click()
    other.locator("label[for=q_nps-8]").click()
    other.get_by_role("button", name="Next").click()
    other.get_by_role("heading", name="One more thing").wait_for()
    other.get_by_role("button", name="Submit").click()
    other.locator("[data-end-screen]").wait_for()
    second.close()

    tab.get_by_role("button", name="Next").click()
    tab.locator("label[for=q_nps-10]").click()
    _type(tab.get_by_label("What is the main reason for your score of 10?"), "Edited later")
    tab.get_by_role("button", name="Next").click()
    tab.get_by_role("heading", name="One more thing").wait_for()
    tab.get_by_role("button", name="Submit").click()
    refused = tab.locator("[data-status=already_submitted]")
    refused.wait_for()
    assert "This response was already submitted" in refused.inner_text()
    assert refused.get_attribute("role") == "alert"
    assert tab.locator("[data-end-screen]").count() == 0
    tab.screenshot(path=str(ARTEFACTS / "respondent-already-submitted.png"), full_page=True)
    first.close()
    with tenant_context(tenant):
        submission = Submission.objects.get(survey_id=survey.pk)
        assert Answer.objects.get(submission_id=submission.id, question_id="q_nps").value == 8


def test_invitation_email_link_opens_a_page_that_accepts(  # noqa: PLR0917 - pytest fixtures
    browser, live_servers, tenant_a, make_member, api_client_for, smtp_server, celery_worker_process
):
    admin = api_client_for(make_member(tenant_a, "admin"), tenant_a)
    email = f"ivy-{uuid.uuid4().hex[:6]}@example.test"
    created = admin.post("/api/v1/invitations/", {"email": email, "role": "analyst"}, content_type="application/json")
    assert created.status_code == 201, created.content
    sent = re.search(r"https?://\S+invitations/accept\?\S+", smtp_server.wait_for(email).get_payload()).group(0)
    assert urlparse(sent).hostname == host_of(tenant_a)
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.goto(_url(live_servers, tenant_a, f"{urlparse(sent).path}?{urlparse(sent).query}"))
    page.get_by_role("heading", name="Join Alpha Ltd").wait_for()
    _type(page.get_by_label("Your name"), "Ivy Invitee")
    _type(page.get_by_label("Password"), "123")
    page.get_by_role("button", name="Accept invitation").click()
    error = page.locator("#password-error")
    error.wait_for()
    assert page.get_by_label("Password").get_attribute("aria-invalid") == "true"
    assert page.get_by_label("Your name").input_value() == "Ivy Invitee"  # kept after the refusal
    _axe(page, "invitation page")
    page.screenshot(path=str(ARTEFACTS / "invitation-error.png"), full_page=True)
    _type(page.get_by_label("Password"), "ivy-passphrase-2026")
    page.get_by_role("button", name="Accept invitation").click()
    page.get_by_role("heading", name="Welcome to Alpha Ltd").wait_for()
    assert "as Analyst" in page.locator("[data-status=accepted]").inner_text()
    page.screenshot(path=str(ARTEFACTS / "invitation-accepted.png"), full_page=True)
    context.close()
    assert login(tenant_a, email, "ivy-passphrase-2026")["access"]


def test_a_personal_invitation_link_fills_hidden_fields_and_works_once(browser, live_servers, make_tenant):
    """An invited-only survey opened from a contact's link: the contact's attribute fills the hidden
    field and is piped into the end screen; the link then says it was used."""
    from tenant_apps.distribution import services as distribution
    from tenant_apps.distribution.links import invitation_token
    from tenant_apps.distribution.models import Distribution, Invitation

    tenant = make_tenant(name="Invited Org")
    definition = {
        "end_screens": [{"id": "thanks", "text": "Thanks {{q_name|friend}} from {{q_dept|nowhere}}!"}],
        "pages": [
            {
                "id": "p1",
                "title": "Hello",
                "questions": [
                    {"id": "q_name", "type": "short_text", "text": "Your name", "required": True},
                    {"id": "q_dept", "type": "hidden", "param": "department"},
                ],
            }
        ],
    }
    survey = _publish(tenant, definition, access="invited")
    with tenant_context(tenant):
        contact = distribution.contact_create(email="ivy@example.test", attributes={"department": "Legal"})
        sent = Distribution.objects.create(survey=survey, subject="s", message="m")
        invitation = Invitation.objects.create(
            distribution=sent, survey_id=survey.pk, contact=contact, nonce="n", status="sent"
        )
        token = invitation_token(invitation)
    context = browser.new_context()
    page = context.new_page()
    page.goto(_url(live_servers, tenant, f"/s/{survey.public_link}"))
    page.get_by_text("Open the personal link you received by e-mail").wait_for()
    page.goto(_url(live_servers, tenant, f"/s/{survey.public_link}?i={token}"))
    page.get_by_role("heading", name="Hello").wait_for()
    _type(page.get_by_label("Your name"), "Ivy")
    page.get_by_role("button", name="Submit").click()
    end = page.locator("[data-end-screen]")
    end.wait_for()
    assert end.inner_text() == "Thanks Ivy from Legal!"
    page.goto(_url(live_servers, tenant, f"/s/{survey.public_link}?i={token}"))
    page.get_by_role("heading", name="You have already responded").wait_for()
    context.close()
    with tenant_context(tenant):
        assert Invitation.objects.get(pk=invitation.pk).status == "responded"
        submission = Submission.objects.get(survey_id=survey.pk)
        assert submission.meta["contact_id"] == contact.pk
