"""Development settings: a fixed dev secret, DEBUG on, everything else from the environment."""

from .base import *  # noqa: F403
from .base import BASE_DIR, VAULT_ADDR, VAULT_TOKEN, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="dev-only-insecure-secret-key-change-me-0123456789")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", ".localhost", "127.0.0.1"])

# Development: emails are printed by the worker unless an SMTP server is configured.
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")

# `make run` starts a development OpenBao (`manage.py vault_dev`) and writes its address and token here.
if not VAULT_ADDR:
    _vault_dev = BASE_DIR / "var" / "vault-dev.env"
    if _vault_dev.exists():
        _values = dict(line.split("=", 1) for line in _vault_dev.read_text().split() if "=" in line)
        VAULT_ADDR, VAULT_TOKEN = _values.get("VAULT_ADDR", ""), _values.get("VAULT_TOKEN", "")
