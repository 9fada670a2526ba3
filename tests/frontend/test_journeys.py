"""The staff web app in real headless Chromium (Debian's, driven by Playwright), typing key by key:
(a) sign in, build a 3-page survey with a skip rule and display logic by clicking and typing (no JSON),
publish, answer it twice through the respondent page, see exactly that count on the results page;
(b) two tabs edit one survey: the second save is refused (412) and the conflict is shown, the edit kept.
axe-core finds no serious or critical issue on each page. Screenshots go to var/artefacts/app-*.png."""

from __future__ import annotations

import re
import subprocess

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django_tenants.utils import tenant_context

from tenant_apps.analytics.services import survey_aggregate
from tenant_apps.responses.models import Submission
from tenant_apps.surveys import services
from tests.conftest import PASSWORD, ROOT
from tests.tenant_apps.test_browser import ARTEFACTS, PHONE, _axe, _url

pytestmark = pytest.mark.usefixtures("built_app")


@pytest.fixture(scope="module")
def built_app() -> None:
    if not finders.find("app/index.html"):  # `make test` builds it first (make assets); a bare pytest run here
        subprocess.run(["make", "--no-print-directory", "assets"], cwd=ROOT, check=True, capture_output=True)


def _type(locator, text):
    """Key by key, as a person types (every key re-renders the builder)."""
    locator.click()
    locator.press_sequentially(text, delay=15)


def _shot(page, name):
    page.screenshot(path=str(ARTEFACTS / f"app-{name}.png"), full_page=True)


def _sign_in(page, url, email):
    page.goto(url)
    page.get_by_role("heading", name="Sign in").wait_for()
    _type(page.get_by_label("E-mail"), email)
    _type(page.get_by_label("Password"), PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Surveys").wait_for()


def _question(page, n):
    return page.get_by_role("group", name=f"Question {n}", exact=True)


def _answer(browser, link, *, name, path, detail, score, why):
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.goto(link)
    page.get_by_role("heading", name="Start").wait_for()
    _type(page.get_by_label("Your name"), name)
    page.get_by_label(path, exact=True).check()
    page.get_by_role("button", name="Next").click()
    if detail is not None:
        page.get_by_role("heading", name="Details").wait_for()
        _type(page.get_by_label("Tell us more"), detail)
        page.get_by_role("button", name="Next").click()
    page.get_by_role("heading", name="Almost done").wait_for()
    assert not page.get_by_text("Why that score?").is_visible()
    page.locator(f"label[for=q4-{score}]").click()
    if why is not None:
        _type(page.get_by_label("Why that score?"), why)  # shown by the display logic built in the app
    else:
        assert not page.get_by_text("Why that score?").is_visible()
    page.get_by_role("button", name="Submit").click()
    page.locator("[data-end-screen]").wait_for()
    context.close()


def test_build_publish_answer_and_read_results(browser, live_servers, make_tenant, make_member, celery_worker_process):
    tenant = make_tenant(name="Journey Org")
    admin = make_member(tenant, role="admin")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    app = _url(live_servers, tenant, "/")  # / on a tenant host opens the app
    page.goto(app)
    page.wait_for_url(re.compile(r"/app/"))
    page.get_by_role("heading", name="Sign in").wait_for()
    _axe(page, "login")
    _shot(page, "login")
    _sign_in(page, app, admin.email)
    assert page.evaluate("localStorage.length + sessionStorage.length") == 0
    assert "refresh" not in page.evaluate("document.cookie")  # httpOnly: out of JavaScript's reach
    page.get_by_text("No surveys yet").wait_for()
    _axe(page, "survey list (empty)")

    _type(page.get_by_label("New survey title"), "Customer pulse")
    page.get_by_role("button", name="Create survey").click()
    page.get_by_role("heading", name="Edit: Customer pulse").wait_for()
    for _ in range(3):
        page.get_by_role("button", name="Add page").click()
    _type(page.get_by_label("Title of page 1"), "Start")
    _type(page.get_by_label("Title of page 2"), "Details")
    _type(page.get_by_label("Title of page 3"), "Almost done")

    page.get_by_role("button", name="Add question to page 1").click()
    _type(page.get_by_label("Text of question 1"), "Your name")
    _question(page, 1).get_by_label("Required").check()
    page.get_by_role("button", name="Add question to page 1").click()
    _type(page.get_by_label("Text of question 2"), "Short or long?")
    page.get_by_label("Type of question 2").select_option(label="Single choice")
    _type(page.get_by_label("Question 2, Choice 1"), "Short")
    page.get_by_role("button", name="Question 2, Add choice").click()
    _type(page.get_by_label("Question 2, Choice 2"), "Long")
    _question(page, 2).get_by_label("Required").check()

    page.get_by_role("button", name="Add question to page 2").click()
    _type(page.get_by_label("Text of question 3"), "Tell us more")
    page.get_by_label("Type of question 3").select_option(label="Long text")

    page.get_by_role("button", name="Add question to page 3").click()
    _type(page.get_by_label("Text of question 4"), "How likely are you to recommend us?")
    page.get_by_label("Type of question 4").select_option(label="Net Promoter Score")
    page.get_by_role("button", name="Add question to page 3").click()
    _type(page.get_by_label("Text of question 5"), "Why that score?")
    page.get_by_label("Type of question 5").select_option(label="Long text")

    # Display logic: question 5 only when question 4 is at least 9 (question -> operator -> value pickers).
    q5 = _question(page, 5)
    q5.get_by_label("Show only if…").check()
    q5.get_by_label("When question").select_option(label="How likely are you to recommend us?")
    q5.get_by_label("Operator").select_option(label="is at least")
    value = q5.get_by_label("Value")
    value.click()
    value.press("Control+a")
    value.press("Delete")  # cleared by keyboard, as a person does
    _type(value, "9")

    # Skip rule on page 1: "Short" goes straight to page 3.
    page.get_by_role("button", name="Add skip rule to page 1").click()
    rule = page.get_by_role("group", name="Skip rule 1")
    rule.get_by_label("When question").select_option(label="Short or long?")
    rule.get_by_label("Operator").select_option(label="is")
    rule.get_by_label("Value").select_option(label="Short")
    rule.get_by_label("Go to page").select_option(label="Almost done")

    page.get_by_role("button", name="Save").click()
    page.get_by_text("All changes saved.").wait_for()
    page.get_by_text("No problems found.").wait_for()
    _axe(page, "builder")
    _shot(page, "builder")

    with tenant_context(tenant):
        from tenant_apps.surveys.models import Survey

        survey = Survey.objects.get(title="Customer pulse")
        definition = survey.definition
    assert [p["title"] for p in definition["pages"]] == ["Start", "Details", "Almost done"]
    assert definition["pages"][0]["rules"] == [
        {"id": "r1", "when": {"q": "q2", "op": "equals", "value": "c1"}, "then": [{"type": "skip_to", "page": "p3"}]}
    ]
    assert definition["pages"][2]["questions"][1]["visible_if"] == {"q": "q4", "op": "gte", "value": 9}
    assert definition["pages"][0]["questions"][1]["choices"] == [
        {"id": "c1", "text": "Short"},
        {"id": "c2", "text": "Long"},
    ]

    page.get_by_role("button", name="Publish").click()
    published = page.get_by_text(re.compile(r"Published as version 1"))
    published.wait_for(timeout=60_000)
    link = re.search(r"https?://\S+/s/\S+", published.inner_text()).group(0)
    _shot(page, "published")

    _answer(
        browser, link, name="Ann", path="Short", detail=None, score=9, why="Fast and simple"
    )  # skips Details, sees the follow-up
    _answer(
        browser, link, name="Bob", path="Long", detail="Plenty to say", score=3, why=None
    )  # sees Details, no follow-up
    with tenant_context(tenant):
        assert Submission.objects.filter(survey_id=survey.pk).count() == 2
        survey_aggregate(survey_id=survey.pk)  # what the 5 s beat job does

    page.get_by_role("link", name="Results").click()
    page.get_by_role("heading", name="Results: Customer pulse").wait_for()
    page.get_by_test_id("response-count").filter(has_text="2 responses").wait_for(timeout=15_000)
    page.get_by_role("heading", name="Short or long?").wait_for()
    page.locator(".recharts-wrapper").first.wait_for()
    _axe(page, "results")
    _shot(page, "results")

    page.get_by_role("link", name="Surveys").click()
    row = page.get_by_role("row", name=re.compile("Customer pulse"))
    row.get_by_text("Published").wait_for()
    assert row.get_by_role("cell").nth(2).inner_text() == "2"
    _axe(page, "survey list")
    _shot(page, "surveys")

    page.get_by_role("link", name="Team").click()
    page.get_by_role("heading", name="Team", exact=True).wait_for()
    page.get_by_role("cell", name=admin.email, exact=True).wait_for()
    _type(page.get_by_label("E-mail to invite"), "analyst@journey.test")
    page.get_by_label("Role").select_option(label="Analyst")
    page.get_by_role("button", name="Send invitation").click()
    page.get_by_text("Invitation sent to analyst@journey.test.").wait_for()
    page.get_by_role("cell", name="analyst@journey.test", exact=True).wait_for()
    _axe(page, "team")
    _shot(page, "team")

    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Sign in").wait_for()
    page.reload()  # the revoked cookie does not sign anyone back in
    page.get_by_role("heading", name="Sign in").wait_for()
    context.close()


def test_two_tabs_editing_one_survey_get_a_conflict_not_a_lost_update(browser, live_servers, make_tenant, make_member):
    tenant = make_tenant(name="Conflict Org")
    creator = make_member(tenant, role="survey_creator")
    with tenant_context(tenant):
        survey = services.survey_create(
            title="Shared draft",
            created_by_id=None,
            definition={
                "pages": [
                    {"id": "p1", "title": "Intro", "questions": [{"id": "q1", "type": "short_text", "text": "Name"}]}
                ]
            },
        )
    app = _url(live_servers, tenant, "/app/")
    tabs = []
    for options in ({"viewport": {"width": 1100, "height": 900}}, PHONE):  # the second tab is a 390 px phone
        context = browser.new_context(**options)
        page = context.new_page()
        _sign_in(page, app, creator.email)
        page.get_by_role("link", name="Edit Shared draft").click()
        page.get_by_role("heading", name="Edit: Shared draft").wait_for()
        tabs.append((context, page))
    (_, first), (_, second) = tabs
    assert first.get_by_role("link", name="Team").count() == 0  # a creator cannot manage the team: not offered

    _type(first.get_by_label("Title of page 1"), " (first tab)")
    first.get_by_role("button", name="Save").click()
    first.get_by_text("All changes saved.").wait_for()

    _type(second.get_by_label("Text of question 1"), " please")
    second.get_by_role("button", name="Save").click()
    alert = second.get_by_role("alert").filter(has_text="Someone else changed this survey")
    alert.wait_for()
    assert second.get_by_label("Text of question 1").input_value() == "Name please"  # the edit is still on screen
    assert second.get_by_text("Unsaved changes.").is_visible()
    _axe(second, "builder conflict")
    _shot(second, "conflict")
    with tenant_context(tenant):
        survey.refresh_from_db()
    assert survey.definition["pages"][0]["title"] == "Intro (first tab)"  # the first save stands
    assert survey.definition["pages"][0]["questions"][0]["text"] == "Name"

    second.get_by_role("button", name="Reload").click()  # reload shows the first tab's change
    second.get_by_role("heading", name="Edit: Shared draft").wait_for()
    assert second.get_by_label("Title of page 1").input_value() == "Intro (first tab)"
    for context, _ in tabs:
        context.close()


def test_product_page_signup_form_is_accessible_and_shows_field_errors(browser, live_servers):
    port = live_servers[0].rsplit(":", 1)[1]
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.goto(f"http://{settings.PLATFORM_DOMAIN}:{port}/")
    page.get_by_role("heading", name="Create your organisation").wait_for()
    _axe(page, "product page")
    _type(page.get_by_label("Organisation name"), "Acme")
    _type(page.get_by_label("Subdomain"), "acme")
    assert page.locator("#subdomain-preview").inner_text() == "acme"
    _type(page.get_by_label("Your e-mail"), "not-an-address")
    _type(page.get_by_label("Password"), "long enough password")
    page.get_by_role("button", name="Sign up").click()
    status = page.locator("#signup-result.error")
    status.wait_for()
    assert "Your e-mail" in status.inner_text()  # the API's field error, next to the field's own name
    assert page.get_by_label("Your e-mail").get_attribute("aria-invalid") == "true"
    _axe(page, "product page with an error")
    _shot(page, "product-page")
    context.close()
