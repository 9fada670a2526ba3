"""One branding validator for the organisation's branding and each survey's override: hostile survey
branding is refused with a 400 naming the field (it was stored unchecked before)."""

from __future__ import annotations

import pytest

from shared_apps.tenants.services import branding_errors

GOOD = {"logo_url": "https://cdn.example.com/logo.png", "primary_color": "#112233", "css_vars": {"radius": "8px"}}
BAD = [
    pytest.param({"logo_url": "javascript:alert(1)"}, "logo_url", id="javascript-logo"),
    pytest.param({"logo_url": 'https://x.test/a.png" onerror="alert(1)'}, "logo_url", id="quote-in-logo"),
    pytest.param({"primary_color": "red;} body{display:none"}, "primary_color", id="css-injection-colour"),
    pytest.param({"accent_color": "#12345"}, "accent_color", id="short-colour"),
    pytest.param({"css_vars": {"x": "a;b"}}, "css_vars", id="css-var-injection"),
    pytest.param({"font": "Comic Sans"}, "font", id="unknown-key"),
    pytest.param({"css_vars": {f"v{i}": "1px" for i in range(400)}}, "branding", id="oversized"),
    pytest.param(["not", "an", "object"], "branding", id="not-an-object"),
]


def test_the_validator_accepts_good_branding():
    assert branding_errors(GOOD) == {}
    assert branding_errors({}) == {}


@pytest.mark.parametrize(("branding", "key"), BAD)
def test_the_validator_names_the_bad_setting(branding, key):
    assert key in branding_errors(branding)


@pytest.fixture
def builder(tenant_a, make_member, api_client_for):
    return api_client_for(make_member(tenant_a, "admin"), tenant_a)


@pytest.mark.parametrize(("branding", "key"), BAD)
def test_survey_create_refuses_bad_branding(builder, branding, key):
    response = builder.post(
        "/api/v1/surveys/", {"title": "Branded", "branding": branding}, content_type="application/json"
    )
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert "branding" in error["details"]
    if key != "branding":
        assert any(message.startswith(f"{key}: ") for message in error["details"]["branding"]), error


@pytest.mark.parametrize(("branding", "key"), BAD)
def test_survey_settings_refuse_bad_branding_and_keep_the_old(builder, branding, key):
    created = builder.post("/api/v1/surveys/", {"title": "Branded", "branding": GOOD}, content_type="application/json")
    assert created.status_code == 201, created.content
    survey_id = created.json()["id"]
    response = builder.patch(f"/api/v1/surveys/{survey_id}/", {"branding": branding}, content_type="application/json")
    assert response.status_code == 400, response.content
    details = response.json()["error"]["details"]
    assert "branding" in details
    if key != "branding":
        assert any(message.startswith(f"{key}: ") for message in details["branding"]), details
    assert builder.get(f"/api/v1/surveys/{survey_id}/").json()["branding"] == GOOD


def test_organisation_branding_uses_the_same_validator(builder):
    response = builder.put("/api/v1/branding/", {"logo_url": "javascript:alert(1)"}, content_type="application/json")
    assert response.status_code == 400
    assert "logo_url" in response.json()["error"]["details"]
    oversized = {"css_vars": {f"v{i}": "1px" for i in range(400)}}
    response = builder.put("/api/v1/branding/", oversized, content_type="application/json")
    assert response.status_code == 400
    assert "branding" in response.json()["error"]["details"]


def test_a_logo_url_longer_than_the_documented_500_characters_is_refused(tenant_a, make_member, api_client_for):
    """The schema says maxLength 500 (found by the schema fuzzer: 508 characters were accepted)."""
    client = api_client_for(make_member(tenant_a, "admin"), tenant_a)
    long_url = "https://e.com/" + "a" * 490
    response = client.put("/api/v1/branding/", {"logo_url": long_url}, content_type="application/json")
    assert response.status_code == 400, response.content
    assert "logo_url" in response.json()["error"]["details"]
    ok = client.put("/api/v1/branding/", {"logo_url": long_url[:500]}, content_type="application/json")
    assert ok.status_code == 200, ok.content


def test_an_empty_status_filter_is_refused_not_ignored(tenant_a, make_member, api_client_for):
    client = api_client_for(make_member(tenant_a, "admin"), tenant_a)
    response = client.get("/api/v1/surveys/?status=")
    assert response.status_code == 400
    assert "status" in response.json()["error"]["details"]
