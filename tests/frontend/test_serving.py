"""The staff web app is served by Django: /app/* on tenant hosts (one shell, never cached; hashed chunks
long-cached), / on a tenant host opens it, / on the platform host is the product page with the signup form."""

from __future__ import annotations

import re
import subprocess

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client

from tests.conftest import ROOT, host_of


@pytest.fixture(scope="module")
def built_app() -> None:
    if not finders.find("app/index.html"):  # `make assets` builds it; a bare pytest run builds it once here
        subprocess.run(["make", "--no-print-directory", "assets"], cwd=ROOT, check=True, capture_output=True)


def test_tenant_root_opens_the_app(tenant_a):
    response = Client(HTTP_HOST=host_of(tenant_a)).get("/")
    assert response.status_code == 302
    assert response["Location"] == "/app/"


@pytest.mark.usefixtures("built_app")
@pytest.mark.parametrize("path", ["/app/", "/app/surveys", "/app/surveys/12/edit"])
def test_every_app_path_answers_the_shell_uncached(tenant_a, path):
    response = Client(HTTP_HOST=host_of(tenant_a)).get(path)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-cache"
    html = response.content.decode()
    assert '<div id="root"></div>' in html
    assert re.search(r'src="/static/app/assets/index-[A-Za-z0-9_-]+\.js"', html)


@pytest.mark.usefixtures("built_app")
def test_app_chunks_are_long_cached_and_compressed(tenant_a):
    html = Client(HTTP_HOST=host_of(tenant_a)).get("/app/").content.decode()
    script = re.search(r'src="(/static/app/assets/index-[A-Za-z0-9_-]+\.js)"', html).group(1)
    response = Client(HTTP_HOST=host_of(tenant_a), HTTP_ACCEPT_ENCODING="gzip").get(script)
    assert response.status_code == 200
    assert "immutable" in response["Cache-Control"]
    assert "max-age=315360000" in response["Cache-Control"]
    if (settings.STATIC_ROOT / script.removeprefix("/static/")).exists():  # after collectstatic: gzip copies
        assert response.get("Content-Encoding") == "gzip"
    response.close()


def test_app_is_only_for_tenant_hosts(public_client):
    assert public_client.get("/app/").status_code == 404


def test_platform_root_is_the_product_page_with_signup(public_client):
    response = public_client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="signup"' in html
    assert 'data-api="/api/v1/signup/"' in html
    for field in ("organisation_name", "subdomain", "admin_email", "password"):
        assert f'name="{field}"' in html
