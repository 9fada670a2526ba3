"""Production settings: refuse to start without real secrets and hosts."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import CELERY_BROKER_URL, env

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY")  # no default: a missing secret stops the process
if len(SECRET_KEY) < 50 or "insecure" in SECRET_KEY or "change-me" in SECRET_KEY:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be a real secret of at least 50 characters.")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")  # no default
if not ALLOWED_HOSTS or "*" in ALLOWED_HOSTS:
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must list the platform's hosts (no '*').")
for _var in ("DATABASE_URL", "DATABASE_OWNER_URL", "REDIS_URL"):
    env(_var)  # raise ImproperlyConfigured when missing: no localhost fallbacks in production
if not CELERY_BROKER_URL:
    raise ImproperlyConfigured("CELERY_BROKER_URL must name a single Redis when REDIS_URL is a cluster.")

# Personal data is sealed with keys held by Vault: no local key backend, no dev root token.
VAULT_ADDR = env("VAULT_ADDR")
if not VAULT_ADDR:
    raise ImproperlyConfigured("VAULT_ADDR must name the Vault server holding the tenants' keys.")
_vault_token = env("VAULT_TOKEN", default="")
if _vault_token == "root":  # noqa: S105 - refusing the dev server's well-known token
    raise ImproperlyConfigured("VAULT_TOKEN 'root' is a development token; use AppRole or Kubernetes auth.")
if not (
    _vault_token
    or (env("VAULT_ROLE_ID", default="") and env("VAULT_SECRET_ID", default=""))
    or env("VAULT_K8S_ROLE", default="")
):
    raise ImproperlyConfigured(
        "Vault needs an auth method: VAULT_TOKEN, VAULT_ROLE_ID+VAULT_SECRET_ID or VAULT_K8S_ROLE."
    )
# Billing on needs its keys (never in the repository): refuse to start half-configured.
if env.bool("BILLING_ENABLED", default=False):
    for _var in ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"):
        if not env(_var, default=""):
            raise ImproperlyConfigured(f"BILLING_ENABLED needs {_var}.")
    if not env("STRIPE_SECRET_KEY").startswith(("sk_live_", "rk_live_")):
        raise ImproperlyConfigured("STRIPE_SECRET_KEY must be a live key (sk_live_/rk_live_) in production.")

PLATFORM_SCHEME = "https"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
