"""Membership of a user account (public schema) in this tenant, with its role."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Membership(models.Model):
    class Role(models.TextChoices):
        ADMIN = "admin"
        SURVEY_CREATOR = "survey_creator"
        ANALYST = "analyst"
        RESPONDENT = "respondent"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=32, choices=Role.choices, default=Role.RESPONDENT)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.user_id}:{self.role}"
