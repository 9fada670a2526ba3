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

    # Cross-schema reference to the public user table: no database constraint and no ORM cascade
    # (a delete in the public schema cannot see tenant tables). Removing a user's memberships is
    # an explicit service run in each tenant's context.
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    role = models.CharField(max_length=32, choices=Role.choices, default=Role.RESPONDENT)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.user_id}:{self.role}"
