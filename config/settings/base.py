"""Settings shared by every environment. Everything configurable comes from the environment.

Database roles: the web and worker processes connect as the *application* role
(``DATABASE_URL``: NOSUPERUSER, NOBYPASSRLS, DML only). Schema changes and tenant
provisioning use the *owner* role (``DATABASE_OWNER_URL``). Management commands that
change schemas (``migrate``, ``create_tenant``, ...) run as the owner: ``manage.py``
sets ``SURVEY_DB_ROLE=owner`` for them, see ``config/dbrole.py``.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="")

# --- Platform --------------------------------------------------------------------------
PLATFORM_DOMAIN: str = env("PLATFORM_DOMAIN", default="localhost")
PLATFORM_SCHEME: str = env("PLATFORM_SCHEME", default="http")
PLATFORM_PORT: str = env("PLATFORM_PORT", default="8000")
TENANT_TEMPLATE_SCHEMA = "_template"
# Spare schemas kept ready (cloned, secured, migrated) so provisioning renames one instead of cloning;
# refilled by the beat job ``refill-spare-schemas`` and ``manage.py spare_schemas --fill``. 0: always clone.
TENANT_SPARE_SCHEMAS: int = env.int("TENANT_SPARE_SCHEMAS", default=5)
# Days between a soft delete and the purge of the tenant's schema.
TENANT_PURGE_GRACE_DAYS: int = env.int("TENANT_PURGE_GRACE_DAYS", default=30)
# Days a response partition stays detached (past the organisation's retention) before it is dropped.
PARTITION_DROP_GRACE_DAYS: int = env.int("PARTITION_DROP_GRACE_DAYS", default=30)

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[PLATFORM_DOMAIN, f".{PLATFORM_DOMAIN}"])

# --- Apps ------------------------------------------------------------------------------
SHARED_APPS = [
    # Before django_tenants so that our create_tenant/delete_tenant commands take precedence.
    "shared_apps.core",
    "shared_apps.tenants",
    "django_tenants",
    "shared_apps.accounts",
    "shared_apps.operators",
    "billing",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    # The operators' admin (platform host only): sessions and messages in the public schema; our own admin
    # site (shared_apps.operators.admin), so no autodiscovery.
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin.apps.SimpleAdminConfig",
    # Also shared: the admin's sign-in on the platform host gets the same lockout (tables in public).
    "axes",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
]
TENANT_APPS = [
    "axes",  # login-failure records and lockouts per organisation
    "tenant_apps.audit",
    "tenant_apps.members",
    "tenant_apps.notifications",
    "tenant_apps.surveys",
    "tenant_apps.responses",
    "tenant_apps.analytics",
    "tenant_apps.exports",
    "tenant_apps.webhooks",
    "tenant_apps.pii",
    "tenant_apps.distribution",
    "tenant_apps.privacy",
    "tenant_apps.billing_api",
]
INSTALLED_APPS = list(SHARED_APPS) + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Organisation"
TENANT_DOMAIN_MODEL = "tenants.Domain"
AUTH_USER_MODEL = "accounts.User"
PUBLIC_SCHEMA_URLCONF = "config.urls_public"
ROOT_URLCONF = "config.urls_tenant"
# Seconds an organisation (host -> tenant) stays cached in a process; every change invalidates it at once.
TENANT_CACHE_SECONDS: int = env.int("TENANT_CACHE_SECONDS", default=60)
# Issue the search_path/tenant SET once per request, not once per cursor.
TENANT_LIMIT_SET_CALLS = True

MIDDLEWARE = [
    "shared_apps.core.metrics.MetricsMiddleware",  # outermost: times and counts every answer
    "shared_apps.core.middleware.RequestContextMiddleware",
    "shared_apps.core.middleware.ApiErrorShapeMiddleware",
    "shared_apps.core.parsers.InputGuardMiddleware",
    "shared_apps.core.middleware.HealthCheckMiddleware",
    "shared_apps.tenants.middleware.TenantMiddleware",
    # Platform host only (the operators' admin); tenant hosts get no session, cookie or request.user here.
    "shared_apps.operators.middleware.PlatformSessionMiddleware",
    "shared_apps.operators.middleware.PlatformAuthenticationMiddleware",
    "shared_apps.operators.middleware.PlatformMessageMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "config.staticfiles.StaticFilesMiddleware",  # WhiteNoise; also long-caches the staff app's hashed chunks
    "django.middleware.common.CommonMiddleware",
    "axes.middleware.AxesMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

WSGI_APPLICATION = "config.wsgi.application"

# --- Database --------------------------------------------------------------------------
SURVEY_DB_ROLE: str = env("SURVEY_DB_ROLE", default="app")
DATABASE_APP_URL: str = env("DATABASE_URL", default="postgres://survey_app@127.0.0.1:5432/survey")
DATABASE_OWNER_URL: str = env("DATABASE_OWNER_URL", default="postgres://survey_owner@127.0.0.1:5432/survey")


def _db(url: str, engine: str) -> dict[str, Any]:
    config: dict[str, Any] = dict(env.db_url_config(url))
    config["ENGINE"] = engine
    config["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    config["CONN_HEALTH_CHECKS"] = True
    config.setdefault("OPTIONS", {})["connect_timeout"] = env.int("DATABASE_CONNECT_TIMEOUT", default=3)
    return config


def databases(app_url: str, owner_url: str, role: str, replica_url: str = "") -> dict[str, dict[str, Any]]:
    return {
        # The tenant-aware backend also sets the RLS tenant setting on every tenant switch.
        "default": _db(owner_url if role == "owner" else app_url, "shared_apps.core.db_backend"),
        # Analytics reads (``tenant_apps.analytics.replica``): a streaming replica, else the same database.
        "replica": _db(replica_url or app_url, "shared_apps.core.db_backend"),
        # Raw-SQL only: DDL that the application role may not run (clone a tenant schema,
        # drop a purged one). Never routed to by the ORM.
        "owner": _db(owner_url, "django.db.backends.postgresql"),
    }


DATABASE_REPLICA_URL: str = env("DATABASE_REPLICA_URL", default="")
DATABASES = databases(DATABASE_APP_URL, DATABASE_OWNER_URL, SURVEY_DB_ROLE, DATABASE_REPLICA_URL)
# Analytics reads fall back to the primary when the replica is down or further behind than this (seconds).
ANALYTICS_REPLICA_MAX_LAG: float = env.float("ANALYTICS_REPLICA_MAX_LAG", default=10.0)
DATABASE_ROUTERS = ("tenant_apps.analytics.replica.ReplicaRouter", "django_tenants.routers.TenantSyncRouter")
DATABASE_APP_ROLE: str = env.db_url_config(DATABASE_APP_URL)["USER"]
# Superuser connection used once by `manage.py setup_database` to create roles and database.
DATABASE_ADMIN_URL: str = env("DATABASE_ADMIN_URL", default="postgres://postgres@127.0.0.1:5432/postgres")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache, Celery --------------------------------------------------------------
# The cache, drafts, throttles, refresh tokens and HyperLogLogs: one Redis (redis://host:port/db), or a Redis
# Cluster (redis+cluster://host:port[,host:port...]; shared_apps/core/redis_cluster.py).
REDIS_URL: str = env("REDIS_URL", default="redis://127.0.0.1:6379/0")


def redis_cache(url: str) -> dict[str, Any]:
    options: dict[str, Any] = {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2}
    if url.startswith("redis+cluster://"):
        options["CLIENT_CLASS"] = "shared_apps.core.redis_cluster.ClusterClient"
    return {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": url,
        # Every key is prefixed with the current schema: no cache entry crosses tenants.
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
        "TIMEOUT": 300,
        "OPTIONS": options,
    }


CACHES = {"default": redis_cache(REDIS_URL)}

# The broker is always a single Redis (deploy/README.md says why): with a cluster REDIS_URL it must be set.
CELERY_BROKER_URL: str = env("CELERY_BROKER_URL", default="" if REDIS_URL.startswith("redis+cluster://") else REDIS_URL)
CELERY_RESULT_BACKEND: str | None = env("CELERY_RESULT_BACKEND", default=None)
CELERY_TASK_ALWAYS_EAGER = False
# Late acks: a task whose worker dies (SIGKILL, OOM, lost host) stays unacknowledged in Redis and is delivered
# again once this many seconds have passed (task bodies are idempotent for that). Keep it above the longest task
# (task_time_limit, 90 s) or a running task is delivered twice; the fault tests shorten it.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)}

# --- Passwords and auth ----------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses locked-out credentials
    "django.contrib.auth.backends.ModelBackend",
]
# Number of reverse proxies in front of the app whose X-Forwarded-For entries are trusted (0: use REMOTE_ADDR).
# Self-service signup: hours a verification link works (unverified signups are then purged), caps on
# unverified signups (all, and per e-mail address), and request rates (per client IP, and overall).
SIGNUP_VERIFICATION_HOURS: int = env.int("SIGNUP_VERIFICATION_HOURS", default=24)
SIGNUP_PENDING_MAX: int = env.int("SIGNUP_PENDING_MAX", default=1000)
SIGNUP_PENDING_PER_EMAIL: int = env.int("SIGNUP_PENDING_PER_EMAIL", default=3)
SIGNUP_RATE_PER_IP: str = env("SIGNUP_RATE_PER_IP", default="5/hour")
SIGNUP_RATE_GLOBAL: str = env("SIGNUP_RATE_GLOBAL", default="100/hour")
TRUSTED_PROXY_COUNT: int = env.int("TRUSTED_PROXY_COUNT", default=0)

# Lockout (django-axes): per organisation (its tables live in each tenant schema); an account OR an IP
# address is locked after AXES_FAILURE_LIMIT failures, for AXES_COOLOFF_TIME.
AXES_FAILURE_LIMIT: int = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_RESET_ON_SUCCESS = True
# authenticate() is called with username=<email>; the lockout check must read the same key.
AXES_USERNAME_FORM_FIELD = "username"
AXES_DISABLE_ACCESS_LOG = True
AXES_CLIENT_IP_CALLABLE = "shared_apps.core.http.client_ip"
AXES_USERNAME_CALLABLE = "tenant_apps.members.auth.axes_username"
AXES_LOCKOUT_CALLABLE = "tenant_apps.members.auth.axes_lockout_response"
AXES_VERBOSE = False

# JWT (simplejwt): tenant-bound tokens; refresh-token families tracked in Redis (tenant_apps.members.tokens).
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=env.int("JWT_ACCESS_SECONDS", default=300)),
    "REFRESH_TOKEN_LIFETIME": timedelta(seconds=env.int("JWT_REFRESH_SECONDS", default=7 * 24 * 3600)),
    # Defaults to the final SECRET_KEY of the environment's settings; JWT_SIGNING_KEY separates them.
    **({"SIGNING_KEY": env("JWT_SIGNING_KEY")} if env("JWT_SIGNING_KEY", default="") else {}),
    "ALGORITHM": "HS256",
    "USER_ID_CLAIM": "user_id",
    "UPDATE_LAST_LOGIN": False,
}
# The in-process (L1) cache of every two-level cache (shared_apps.core.cache) shares this budget.
CACHE_L1_MAX_BYTES: int = env.int("CACHE_L1_MAX_MB", default=256) * 1024 * 1024
# Effective permissions: in-process cache (invalidated over Redis pub/sub) backed by Redis.
PERMISSIONS_L1_SECONDS: int = env.int("PERMISSIONS_L1_SECONDS", default=60)
PERMISSIONS_L2_SECONDS: int = env.int("PERMISSIONS_L2_SECONDS", default=300)
# Survey load for respondents: in-process cache (invalidated over pub/sub) backed by Redis.
SURVEY_LOAD_L1_SECONDS: int = env.int("SURVEY_LOAD_L1_SECONDS", default=600)
SURVEY_LOAD_L2_SECONDS: int = env.int("SURVEY_LOAD_L2_SECONDS", default=3600)
# The operators' admin (platform host): sessions in the public schema, ending after this many hours.
SESSION_COOKIE_AGE: int = env.int("ADMIN_SESSION_HOURS", default=8) * 3600
INVITATION_DAYS: int = env.int("INVITATION_DAYS", default=7)
PASSWORD_RESET_TIMEOUT: int = env.int("PASSWORD_RESET_SECONDS", default=3600)

# --- Email ---------------------------------------------------------------------------------
EMAIL_BACKEND: str = env("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST: str = env("EMAIL_HOST", default="127.0.0.1")
EMAIL_PORT: int = env.int("EMAIL_PORT", default=1025)
EMAIL_HOST_USER: str = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD: str = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS: bool = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL: str = env("DEFAULT_FROM_EMAIL", default="Survey platform <no-reply@localhost>")
# Survey invitations and reminders: each organisation may send this many per minute (its own budget),
# in batches of DISTRIBUTION_BATCH_SIZE over one SMTP connection.
DISTRIBUTION_SEND_RATE_PER_MINUTE: int = env.int("DISTRIBUTION_SEND_RATE_PER_MINUTE", default=600)
DISTRIBUTION_BATCH_SIZE: int = env.int("DISTRIBUTION_BATCH_SIZE", default=50)

# --- REST API --------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "UNAUTHENTICATED_USER": None,
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # A JSON API: form bodies get 415 (file uploads declare SafeMultiPartParser themselves). Size, depth, key
    # count, NUL/surrogates and finite numbers are checked once, in the parser, for every body.
    "DEFAULT_PARSER_CLASSES": ["shared_apps.core.parsers.SafeJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "shared_apps.core.openapi.ApiAutoSchema",
    "EXCEPTION_HANDLER": "shared_apps.core.errors.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "shared_apps.core.throttling.TenantAnonRateThrottle",
        "shared_apps.core.throttling.TenantUserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("THROTTLE_ANON", default="20/min"),
        "user": env("THROTTLE_USER", default="100/min"),
        # Respondent endpoints (survey load, drafts, submit), per client IP: many people share an office IP.
        "respondent": env("THROTTLE_RESPONDENT", default="300/min"),
        # E-mailing a resume link to an address the respondent typed, per client IP.
        "resume_email": env("THROTTLE_RESUME_EMAIL", default="10/hour"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Survey platform API",
    "DESCRIPTION": (
        "Multi-tenant survey platform. Tenant endpoints are served on `<slug>.<platform domain>`; "
        "sign in with `POST /api/v1/auth/token/` and use the access token with **Authorize**. "
        'Every error answers `{"error": {"code", "message", "details"?, "request_id"}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "ExportFormatEnum": "tenant_apps.exports.models.ExportJob.Format",
        "WebhookDeliveryStatusEnum": "tenant_apps.webhooks.models.WebhookDelivery.Status",
        "DistributionStatusEnum": "tenant_apps.distribution.models.Distribution.Status",
        "ContactInvitationStatusEnum": "tenant_apps.distribution.models.Invitation.Status",
    },
}

# --- I18N, static ----------------------------------------------------------------------
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024  # JSON bodies; file uploads are streamed
FILE_UPLOAD_MAX_BYTES: int = env.int("FILE_UPLOAD_MAX_MB", default=25) * 1024 * 1024

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
# Uploaded files (file questions): S3/MinIO through django-storages when a bucket is configured, else the
# local filesystem under var/media. Never served directly: staff get short-lived signed URLs.
MEDIA_ROOT = BASE_DIR / "var" / "media"
UPLOAD_URL_SECONDS: int = env.int("UPLOAD_URL_SECONDS", default=300)
# Exports: rows per stored part (a checkpoint after each) and per fetch from the server-side cursor.
EXPORT_CHUNK_ROWS: int = env.int("EXPORT_CHUNK_ROWS", default=2000)

# Webhooks (tenant_apps.webhooks): one attempt is bounded by the timeout; failed attempts are retried with
# exponential backoff (base * 2**(n-1), capped, ± jitter) for the window; an endpoint is disabled after
# that many failed attempts in a row. Private, loopback and link-local destinations are refused unless allowed.
WEBHOOK_TIMEOUT_SECONDS: float = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
WEBHOOK_RETRY_BASE_SECONDS: float = env.float("WEBHOOK_RETRY_BASE_SECONDS", default=30.0)
WEBHOOK_RETRY_MAX_DELAY_SECONDS: float = env.float("WEBHOOK_RETRY_MAX_DELAY_SECONDS", default=4 * 3600.0)
WEBHOOK_RETRY_WINDOW_SECONDS: float = env.float("WEBHOOK_RETRY_WINDOW_SECONDS", default=24 * 3600.0)
WEBHOOK_RETRY_JITTER: float = env.float("WEBHOOK_RETRY_JITTER", default=0.2)
# Retries due within this many seconds are sent as countdown messages; later ones by the per-minute sweep.
WEBHOOK_COUNTDOWN_MAX_SECONDS: float = env.float("WEBHOOK_COUNTDOWN_MAX_SECONDS", default=600.0)
WEBHOOK_DISABLE_AFTER_FAILURES: int = env.int("WEBHOOK_DISABLE_AFTER_FAILURES", default=50)
WEBHOOK_ALLOW_PRIVATE_DESTINATIONS: bool = env.bool("WEBHOOK_ALLOW_PRIVATE_DESTINATIONS", default=False)
WEBHOOK_EXCERPT_BYTES: int = env.int("WEBHOOK_EXCERPT_BYTES", default=2048)
# CA bundle for https receivers (empty: certifi's).
WEBHOOK_CA_BUNDLE: str = env("WEBHOOK_CA_BUNDLE", default="")
AWS_STORAGE_BUCKET_NAME: str = env("AWS_STORAGE_BUCKET_NAME", default="")
STORAGES = {
    "default": {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": env("AWS_S3_ENDPOINT_URL", default=None),
            "region_name": env("AWS_S3_REGION_NAME", default=None),
            "access_key": env("AWS_ACCESS_KEY_ID", default=None),
            "secret_key": env("AWS_SECRET_ACCESS_KEY", default=None),
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": UPLOAD_URL_SECONDS,
            "file_overwrite": False,
        },
    }
    if AWS_STORAGE_BUCKET_NAME
    else {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed names + gzip copies (`make assets` builds the respondent bundle and runs collectstatic); WhiteNoise
    # serves hashed files with `Cache-Control: max-age=315360000, public, immutable`.
    "staticfiles": {"BACKEND": "config.staticfiles.StaticFilesStorage"},
}
# The minified respondent bundle (`npm run build`, see package.json); absent until built.
STATICFILES_DIRS = [path for path in [BASE_DIR / "build" / "static"] if path.is_dir()]
WHITENOISE_USE_FINDERS = True
# Files served at the root of every host (favicon.ico).
WHITENOISE_ROOT = BASE_DIR / "config" / "public"

# --- Keys for personal data (shared_apps/core/kms.py, tenant_apps/pii) ------------------
# Vault / OpenBao transit. Empty VAULT_ADDR: the local development key backend (files under KMS_LOCAL_DIR).
VAULT_ADDR: str = env("VAULT_ADDR", default="")
VAULT_TOKEN: str = env("VAULT_TOKEN", default="")
VAULT_ROLE_ID: str = env("VAULT_ROLE_ID", default="")
VAULT_SECRET_ID: str = env("VAULT_SECRET_ID", default="")
VAULT_K8S_ROLE: str = env("VAULT_K8S_ROLE", default="")
VAULT_K8S_JWT_PATH: str = env("VAULT_K8S_JWT_PATH", default="/var/run/secrets/kubernetes.io/serviceaccount/token")
VAULT_NAMESPACE: str = env("VAULT_NAMESPACE", default="")
VAULT_TRANSIT_MOUNT: str = env("VAULT_TRANSIT_MOUNT", default="transit")
VAULT_TIMEOUT: float = env.float("VAULT_TIMEOUT", default=2.0)
KMS_LOCAL_DIR: str = env("KMS_LOCAL_DIR", default=str(BASE_DIR / "var" / "local-kms"))
# How long an unwrapped data key stays in process memory (never on disk, in Redis or in logs).
PII_KEY_CACHE_SECONDS: int = env.int("PII_KEY_CACHE_SECONDS", default=300)

# --- Metrics (shared_apps/core/metrics.py) ----------------------------------------------
# /metrics on the platform host answers only with "Authorization: Bearer <METRICS_TOKEN>"; unset: 404.
METRICS_TOKEN: str = env("METRICS_TOKEN", default="")
# The tenant label names the N busiest organisations (refreshed from Redis this often), the rest are "other".
METRICS_TENANT_TOP_N: int = env.int("METRICS_TENANT_TOP_N", default=20)
METRICS_TENANT_REFRESH_SECONDS: int = env.int("METRICS_TENANT_REFRESH_SECONDS", default=60)
# A Celery worker serves its own metrics (task outcomes and run time) on this port when set.
CELERY_METRICS_PORT: int = env.int("CELERY_METRICS_PORT", default=0)

# --- Sentry (shared_apps/core/sentry.py): errors with tenant and request id as tags, answers/PII scrubbed ---
SENTRY_DSN: str = env("SENTRY_DSN", default="")
if SENTRY_DSN:
    from shared_apps.core.sentry import sentry_init

    sentry_init(
        dsn=SENTRY_DSN,
        environment=env("SENTRY_ENVIRONMENT", default="production"),
        release=env("RELEASE", default=None),
    )

# --- Logging: one JSON object a line, each carrying tenant and request id --------------
LOG_LEVEL: str = env("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "shared_apps.core.logging.ContextFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(tenant)s %(request_id)s",
            "rename_fields": {"asctime": "ts", "levelname": "level", "name": "logger"},
        }
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["context"]}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Billing (Stripe) ---------------------------------------------------------------------
# Off by default: checkout and portal answer 503 billing_disabled; limits of Organisation.plan apply anyway.
BILLING_ENABLED: bool = env.bool("BILLING_ENABLED", default=False)
STRIPE_SECRET_KEY: str = env("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET: str = env("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_API_BASE: str = env("STRIPE_API_BASE", default="https://api.stripe.com")
# Seconds a webhook's signed timestamp may be old (replays older than this are refused).
STRIPE_WEBHOOK_TOLERANCE: int = env.int("STRIPE_WEBHOOK_TOLERANCE", default=300)
# past_due keeps working this long, then the organisation is restricted (staff read-only, exports allowed).
BILLING_GRACE_DAYS: int = env.int("BILLING_GRACE_DAYS", default=7)
BILLING_TRIAL_DAYS: int = env.int("BILLING_TRIAL_DAYS", default=14)
