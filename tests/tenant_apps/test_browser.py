"""A respondent in real headless Chromium: logic skips a page, the draft is saved and resumed in a fresh
browser context from the resume link, the survey is submitted and the end screen shown."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django_tenants.utils import tenant_context

from tenant_apps.responses.models import Answer, Submission
from tenant_apps.surveys import services
from tenant_apps.surveys.models import Publication
from tests.conftest import ROOT, host_of

ARTEFACTS = ROOT / "var" / "artefacts"
CHROMIUM = shutil.which("chromium")

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


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)")
def test_respondent_skips_saves_resumes_and_submits(live_servers, make_tenant):
    from playwright.sync_api import sync_playwright

    tenant = make_tenant(name="Browser Org")
    with tenant_context(tenant):
        survey = services.survey_create(title="Browser survey", created_by_id=None, definition=DEFINITION)
        publication = services.publication_request(survey=survey, requested_by_id=None)
    with tenant_context(tenant):
        services.publication_compile_run(publication=Publication.objects.get(pk=publication.pk))
    port = live_servers[0].rsplit(":", 1)[1]
    url = f"http://{host_of(tenant)}:{port}/s/{survey.public_link}"
    ARTEFACTS.mkdir(parents=True, exist_ok=True)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        phone = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
        first = browser.new_context(**phone)
        page = first.new_page()
        page.goto(url)
        page.get_by_role("heading", name="Start").wait_for()
        page.get_by_role("button", name="Next").click()  # required questions are enforced in the browser
        assert page.locator(".error").count() == 2
        page.get_by_label("Your name").fill("Ann")
        page.get_by_label("Short", exact=True).check()
        page.get_by_role("button", name="Next").click()
        page.get_by_role("heading", name="Almost done, Ann").wait_for()  # page 2 skipped, title piped
        resume = page.locator("#resume-link").get_attribute("href")
        assert resume
        assert "resume=" in resume
        first.close()

        second = browser.new_context(**phone)  # another device: nothing in its storage
        page = second.new_page()
        page.goto(resume)
        page.get_by_role("heading", name="Almost done, Ann").wait_for()
        assert page.get_by_text("Why 9?").count() == 0
        page.get_by_label("9", exact=True).check()
        page.get_by_label("Why 9?").fill("Fast and simple")  # shown by display logic, text piped
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
        browser.close()

    with tenant_context(tenant):
        submission = Submission.objects.get(survey_id=survey.pk)
        stored = dict(Answer.objects.filter(submission_id=submission.id).values_list("question_id", "value"))
    assert stored == {"q_name": "Ann", "q_path": "short", "q_nps": 9, "q_why": "Fast and simple"}
    assert submission.end_screen == "thanks"
    assert Path(ARTEFACTS / "respondent-end-screen.png").stat().st_size > 1000
