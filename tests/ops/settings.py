"""The test settings plus test-only views (tests/ops/urls.py) for the gunicorn-backed deployment tests."""

from config.settings.test import *  # noqa: F403

PUBLIC_SCHEMA_URLCONF = "tests.ops.urls_public"
ROOT_URLCONF = "tests.ops.urls_tenant"
