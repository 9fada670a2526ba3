from __future__ import annotations

import secrets

from django.contrib.auth.password_validation import validate_password

from shared_apps.accounts.models import User
from shared_apps.accounts.selectors import user_get_by_email


def password_generate() -> str:
    return secrets.token_urlsafe(15)


def user_get_or_create(*, email: str, password: str | None) -> tuple[User, bool]:
    """Returns (user, created). An existing account keeps its password."""
    existing = user_get_by_email(email=email)
    if existing is not None:
        return existing, False
    if password:
        validate_password(password, user=User(email=email))
    return User.objects.create_user(email=email, password=password), True
