"""The branded respondent page (server side) and the branding API."""

from __future__ import annotations

import copy
import gzip
import json
import re
import subprocess
import uuid
from urllib.parse import urlparse

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from shared_apps.tenants.models import Organisation
from tenant_apps.surveys import services
from tenant_apps.surveys.models import Survey
from tests.conftest import ROOT, host_of


def _published(tenant, definition=None, **settings):
    with tenant_context(tenant):
        return services.survey_create_published(
            title="Page test", definition=definition or copy.deepcopy(services.DEMO_DEFINITION), **settings
        )


def test_page_is_branded_and_inlines_the_survey_safely(make_tenant):
    tenant = make_tenant(name="Brandy & Co")
    Organisation.objects.filter(pk=tenant.pk).update(
        branding={
            "primary_color": "#aa3300",
            "logo_url": "https://cdn.example.com/logo.png",
            "css_vars": {"radius": "4px", "evil": "red;} body{display:none"},
        }
    )
    definition = copy.deepcopy(services.DEMO_DEFINITION)
    definition["pages"][0]["questions"][0]["text"] = "Name? </script><script>alert(1)</script>"
    survey = _published(tenant, definition)
    response = Client(HTTP_HOST=host_of(tenant)).get(f"/s/{survey.public_link}")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Brandy &amp; Co" in html
    assert "--brand: #aa3300" in html
    assert "--radius: 4px" in html
    assert "display:none" not in html  # an unsafe CSS value is dropped
    assert 'src="https://cdn.example.com/logo.png"' in html
    assert "</script><script>alert(1)" not in html
    inline = html.split('id="survey-data">', 1)[1].split("</script>", 1)[0]
    assert json.loads(inline)["survey"]["title"] == "Page test"
    assert re.search(r"/static/surveys/respondent(\.min)?(\.[0-9a-f]{12})?\.js", html)
    assert 'name="viewport"' in html


@pytest.mark.parametrize(
    ("settings", "status", "code"),
    [
        ({"response_limit": 1, "_full": True}, 410, "survey_full"),
        ({"access": "authenticated"}, 401, "sign_in_required"),
    ],
)
def test_status_pages(tenant_a, settings, status, code):
    full = settings.pop("_full", False)
    survey = _published(tenant_a, **settings)
    if full:
        with tenant_context(tenant_a):
            Survey.objects.filter(pk=survey.pk).update(response_count=1)
            services.survey_update_settings(survey=survey, notify_owners=False)
    response = Client(HTTP_HOST=host_of(tenant_a)).get(f"/s/{survey.public_link}")
    assert response.status_code == status
    assert f'data-status="{code}"' in response.content.decode()


def test_closed_and_unknown_links_have_pages(tenant_a, tenant_b):
    survey = _published(tenant_a)
    with tenant_context(tenant_a):
        services.survey_close(survey=survey)
    closed = Client(HTTP_HOST=host_of(tenant_a)).get(f"/s/{survey.public_link}")
    assert closed.status_code == 410
    assert "This survey is closed" in closed.content.decode()
    assert Client(HTTP_HOST=host_of(tenant_a)).get("/s/nothing-here").status_code == 404
    other = _published(tenant_a)
    assert Client(HTTP_HOST=host_of(tenant_b)).get(f"/s/{other.public_link}").status_code == 404


def test_branding_api_validates_and_is_per_tenant(make_tenant, make_member, api_client_for, tenant_b):
    tenant = make_tenant()
    admin = api_client_for(make_member(tenant, "admin"), tenant)
    good = {"primary_color": "#112233", "accent_color": "#fafafa", "css_vars": {"radius": "12px"}}
    assert admin.put("/api/v1/branding/", good, content_type="application/json").json() == good
    for bad in (
        {"primary_color": "red"},
        {"logo_url": "javascript:alert(1)"},
        {"css_vars": {"x": "a;b"}},
        {"font": "Comic Sans"},
    ):
        response = admin.put("/api/v1/branding/", bad, content_type="application/json")
        assert response.status_code == 400, bad
    analyst = api_client_for(make_member(tenant, "analyst"), tenant)
    assert analyst.put("/api/v1/branding/", good, content_type="application/json").status_code == 403
    assert analyst.get("/api/v1/branding/").json() == good
    other_admin = api_client_for(make_member(tenant_b, "admin"), tenant_b)
    assert other_admin.get("/api/v1/branding/").json() != good


# --- resume links, resubmission, e-mailed links ---------------------------------------------------------

GOOD = {"q_name": "Ann", "q_role": "dev", "q_nps": 9, "q_why": "Fast", "q_features": ["logic"]}


def _draft(client, survey, answers):
    response = client.put(
        f"/api/v1/s/{survey.public_link}/draft/", {"answers": answers}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def _resume_data(html: str) -> dict:
    return json.loads(html.split('id="resume-data" type="application/json">', 1)[1].split("</script>", 1)[0])


def test_short_resume_code_opens_the_draft_and_the_long_form_still_works(tenant_a, tenant_b):
    survey = _published(tenant_a)
    client = Client(HTTP_HOST=host_of(tenant_a))
    saved = _draft(client, survey, {"q_name": "Ann"})
    path, code = saved["resume_url"].split("?r=")
    assert path == f"/s/{survey.public_link}"
    assert len(code) == 40
    assert re.fullmatch(r"[A-Za-z0-9_-]{40}", code)
    page = Client(HTTP_HOST=host_of(tenant_a)).get(saved["resume_url"])
    assert page.status_code == 200
    assert _resume_data(page.content.decode()) == {"submission_id": saved["submission_id"], "token": saved["token"]}
    # The long form (?resume=&token=) still loads through the API as before.
    long_form = client.get(f"/api/v1/s/{survey.public_link}/draft/{saved['submission_id']}/", {"token": saved["token"]})
    assert long_form.json()["answers"] == {"q_name": "Ann"}
    forged = code[:-2] + ("AA" if code[-2:] != "AA" else "BB")
    for bad in (forged, "short", "!" * 40):
        data = _resume_data(Client(HTTP_HOST=host_of(tenant_a)).get(f"{path}?r={bad}").content.decode())
        assert data == {"error": "This resume link is not valid."}, bad
    other = _published(tenant_a)  # another survey of the same tenant: the code does not carry over
    data = _resume_data(Client(HTTP_HOST=host_of(tenant_a)).get(f"/s/{other.public_link}?r={code}").content.decode())
    assert "error" in data
    assert Client(HTTP_HOST=host_of(tenant_b)).get(saved["resume_url"]).status_code == 404


def test_a_submitted_draft_submitted_again_with_other_answers_is_a_409(tenant_a):
    from tenant_apps.responses.models import Submission

    survey = _published(tenant_a)
    client = Client(HTTP_HOST=host_of(tenant_a))
    saved = _draft(client, survey, GOOD)
    url = f"/api/v1/s/{survey.public_link}/submit/"
    body = {"answers": GOOD, "submission_id": saved["submission_id"], "token": saved["token"]}
    first = client.post(url, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="tab-one-0001")
    assert first.status_code == 201, first.content
    retry = client.post(url, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="tab-one-0001")
    assert (retry.status_code, retry.json()) == (200, first.json())  # an identical retry stays idempotent
    edited = {**body, "answers": {**GOOD, "q_why": "Changed in the other tab"}}
    for headers in ({}, {"HTTP_IDEMPOTENCY_KEY": "tab-two-0002"}, {"HTTP_IDEMPOTENCY_KEY": "tab-one-0001"}):
        conflict = client.post(url, edited, content_type="application/json", **headers)
        assert conflict.status_code == 409, (headers, conflict.content)
        error = conflict.json()["error"]
        assert error["code"] == "already_submitted"
        assert "already submitted" in error["message"]
        assert error["request_id"]
    with tenant_context(tenant_a):
        assert Submission.objects.filter(survey_id=survey.pk).count() == 1


def test_resume_link_is_emailed_through_the_notifications_queue(tenant_a, tenant_b, smtp_server, celery_worker_process):
    from config.celery import app
    from tenant_apps.responses.tasks import resume_link_email

    route = app.amqp.router.route({}, resume_link_email.name)
    assert route["queue"].name == "notifications"
    survey = _published(tenant_a)
    client = Client(HTTP_HOST=host_of(tenant_a))
    saved = _draft(client, survey, {"q_name": "Mia"})
    url = f"/api/v1/s/{survey.public_link}/draft/{saved['submission_id']}/email/"
    to = f"mia-{uuid.uuid4().hex[:6]}@example.test"
    bad = client.post(url, {"email": "not-an-address", "token": saved["token"]}, content_type="application/json")
    assert bad.status_code == 400
    assert "email" in bad.json()["error"]["details"]
    forged = client.post(url, {"email": to, "token": "1.abc"}, content_type="application/json")
    assert forged.status_code == 403
    foreign = Client(HTTP_HOST=host_of(tenant_b)).post(
        url, {"email": to, "token": saved["token"]}, content_type="application/json"
    )
    assert foreign.status_code == 404  # the link is unknown on another tenant's host
    sent = client.post(url, {"email": to, "token": saved["token"]}, content_type="application/json")
    assert sent.status_code == 202, sent.content
    message = smtp_server.wait_for(to)
    assert "Continue the survey" in message["Subject"]
    link = re.search(r"https?://\S+/s/\S+", message.get_payload()).group(0)
    assert urlparse(link).hostname == host_of(tenant_a)
    assert urlparse(link).query.startswith("r=")
    page = Client(HTTP_HOST=host_of(tenant_a)).get(f"{urlparse(link).path}?{urlparse(link).query}")
    assert _resume_data(page.content.decode())["submission_id"] == saved["submission_id"]
    for _ in range(2):
        assert (
            client.post(url, {"email": to, "token": saved["token"]}, content_type="application/json").status_code == 202
        )
    too_many = client.post(url, {"email": to, "token": saved["token"]}, content_type="application/json")
    assert too_many.status_code == 429
    assert too_many.json()["error"]["code"] == "too_many_emails"


# --- branding, accessibility, favicon, static files ---------------------------------------------------------


def test_status_page_uses_the_survey_branding(tenant_a):
    survey = _published(tenant_a, branding={"primary_color": "#0b7a3e", "accent_color": "#eef7f1"})
    with tenant_context(tenant_a):
        services.survey_close(survey=survey)
    closed = Client(HTTP_HOST=host_of(tenant_a)).get(f"/s/{survey.public_link}")
    assert closed.status_code == 410
    html = closed.content.decode()
    assert "--brand: #0b7a3e" in html
    assert "--accent: #eef7f1" in html
    assert "accent-color: var(--brand)" in html  # radios and checkboxes in the brand colour


@pytest.mark.parametrize("host", ["tenant", "platform"])
def test_favicon_is_served_on_every_host(tenant_a, host):
    from django.conf import settings as django_settings

    name = host_of(tenant_a) if host == "tenant" else django_settings.PLATFORM_DOMAIN
    response = Client(HTTP_HOST=name).get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] in ("image/x-icon", "image/vnd.microsoft.icon")
    assert b"".join(response.streaming_content)[:4] == b"\x00\x00\x01\x00"  # an ICO header


@pytest.fixture(scope="module")
def collected_assets():
    """`make assets`: the esbuild bundle and collectstatic (what `make run` and `make test` do)."""
    from django.contrib.staticfiles.storage import staticfiles_storage

    subprocess.run(["make", "--no-print-directory", "assets"], cwd=ROOT, check=True, capture_output=True)
    staticfiles_storage.hashed_files, staticfiles_storage.manifest_hash = staticfiles_storage.load_manifest()
    return staticfiles_storage


def test_respondent_bundle_is_hashed_minified_compressed_and_long_cached(tenant_a, collected_assets):
    survey = _published(tenant_a)
    html = Client(HTTP_HOST=host_of(tenant_a)).get(f"/s/{survey.public_link}").content.decode()
    src = re.search(r'<script type="module" src="([^"]+)"', html).group(1)
    assert re.fullmatch(r"/static/surveys/respondent\.min\.[0-9a-f]{12}\.js", src), src
    plain = Client(HTTP_HOST=host_of(tenant_a)).get(src)
    assert plain.status_code == 200
    assert "max-age=31536000" in plain["Cache-Control"] or "max-age=315360000" in plain["Cache-Control"]
    assert "immutable" in plain["Cache-Control"]
    body = b"".join(plain.streaming_content)
    sources = ROOT / "tenant_apps" / "surveys" / "static" / "surveys"
    assert len(body) < 0.6 * sum((sources / name).stat().st_size for name in ("respondent.js", "logic.js"))
    assert b"import " not in body  # logic.js is bundled in: one request
    assert b"// " not in body  # minified: no comments
    zipped = Client(HTTP_HOST=host_of(tenant_a)).get(src, HTTP_ACCEPT_ENCODING="gzip")
    assert zipped["Content-Encoding"] == "gzip"
    assert gzip.decompress(b"".join(zipped.streaming_content)) == body
    assert "immutable" in zipped["Cache-Control"]
    assert zipped["Vary"] == "Accept-Encoding"
    brotli = Client(HTTP_HOST=host_of(tenant_a)).get(src, HTTP_ACCEPT_ENCODING="gzip, br")
    assert brotli["Content-Encoding"] == "br"
    assert len(b"".join(brotli.streaming_content)) < len(body) / 2


def test_invitation_page_refuses_a_missing_or_forged_token(tenant_a):
    client = Client(HTTP_HOST=host_of(tenant_a))
    missing = client.get("/invitations/accept")
    assert missing.status_code == 400
    assert "incomplete" in missing.content.decode()
    forged = client.post("/invitations/accept", {"token": "forged", "password": "a-long-passphrase-1"})
    assert forged.status_code == 400
    assert "invalid, expired or already used" in forged.content.decode()
    page = client.get("/invitations/accept", {"token": "<script>x</script>"})
    assert "<script>x</script>" not in page.content.decode()
