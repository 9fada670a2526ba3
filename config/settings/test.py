"""Test settings: real PostgreSQL and Redis, separate database and Redis databases."""

from .base import *  # noqa: F403
from .base import REST_FRAMEWORK, SURVEY_DB_ROLE, databases, env, redis_cache

SECRET_KEY = "test-only-secret-key-not-for-production-0123456789abcdef"  # noqa: S105
DEBUG = False
ALLOWED_HOSTS = ["localhost", ".localhost", "127.0.0.1", "testserver"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed: tests only

REDIS_URL = env("TEST_REDIS_URL", default="redis://127.0.0.1:6379/13")
CACHES = {"default": redis_cache(REDIS_URL)}  # TEST_REDIS_URL=redis+cluster://...: the cluster tests
CELERY_BROKER_URL = env("TEST_CELERY_BROKER_URL", default="redis://127.0.0.1:6379/14")
CELERY_RESULT_BACKEND = env("TEST_CELERY_RESULT_BACKEND", default="redis://127.0.0.1:6379/15")
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {
    "anon": "10000/min",
    "user": "10000/min",
    "respondent": "10000/min",
    "resume_email": "10000/min",
}

# A database of its own, re-created by the test session (tests/conftest.py).
DATABASE_APP_URL = env("TEST_DATABASE_URL", default="postgres://survey_app@127.0.0.1:5432/survey_test")
DATABASE_OWNER_URL = env("TEST_DATABASE_OWNER_URL", default="postgres://survey_owner@127.0.0.1:5432/survey_test")
# A streaming replica when a test asks for one (tests/ops/test_streaming_replica.py); else the same database.
DATABASE_REPLICA_URL = env("TEST_DATABASE_REPLICA_URL", default="")
DATABASES = databases(DATABASE_APP_URL, DATABASE_OWNER_URL, SURVEY_DB_ROLE, DATABASE_REPLICA_URL)
ANALYTICS_REPLICA_MAX_LAG = env.float("TEST_ANALYTICS_REPLICA_MAX_LAG", default=10.0)

# Real SMTP to a local aiosmtpd server started by the test session.
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_PORT = env.int("TEST_SMTP_PORT", default=2526)
# Signup rate limits are exercised by their own tests (which lower them).
SIGNUP_RATE_PER_IP = "10000/min"
SIGNUP_RATE_GLOBAL = "10000/min"

# Webhooks: receivers of the tests listen on 127.0.0.1; retries compressed to seconds (the production
# schedule is printed by ``manage.py webhook_retry_schedule``); the 10 s timeout is the real one.
WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = True
WEBHOOK_RETRY_BASE_SECONDS = 1.0
WEBHOOK_RETRY_MAX_DELAY_SECONDS = 4.0
WEBHOOK_RETRY_WINDOW_SECONDS = 60.0
WEBHOOK_DISABLE_AFTER_FAILURES = 4
# The test session starts its own OpenBao (tests/conftest.py ``vault_server``) and exports these for the
# processes it starts (Celery worker, gunicorn).
VAULT_ADDR = env("TEST_VAULT_ADDR", default="")
VAULT_TOKEN = env("TEST_VAULT_TOKEN", default="")
# Billing on, with test-only keys; the Stripe fixture points STRIPE_API_BASE at its local servers.
BILLING_ENABLED = True
STRIPE_SECRET_KEY = "sk_test_only_not_a_real_key"  # noqa: S105
STRIPE_WEBHOOK_SECRET = "whsec_test_only_not_a_real_secret"  # noqa: S105
STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens: a test without the fixture fails fast
