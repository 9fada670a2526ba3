"""User accounts live in the public schema: one account can belong to several organisations
(through a membership in each tenant's schema). Login is by email."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.utils import timezone


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        """``manage.py createsuperuser``: a platform operator (the Django admin on the platform host)."""
        extra["is_platform_staff"] = True
        extra.setdefault("is_active", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser):
    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    # Platform operators; tenant roles come from memberships, not from this flag.
    is_platform_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    def __str__(self) -> str:
        return self.email

    # The Django admin (platform host only, shared_apps.operators) asks these. Every platform operator may use
    # every page of that admin, which shows platform records only; tenant permissions never come from here.
    @property
    def is_staff(self) -> bool:
        return self.is_platform_staff

    @property
    def is_superuser(self) -> bool:
        return self.is_platform_staff

    def has_perm(self, perm: str, obj: object = None) -> bool:
        return self.is_active and self.is_platform_staff

    def has_perms(self, perm_list: Iterable[str], obj: object = None) -> bool:
        return all(self.has_perm(perm, obj) for perm in perm_list)

    def has_module_perms(self, app_label: str) -> bool:
        return self.is_active and self.is_platform_staff
