"""The permission catalogue and the built-in roles."""

from __future__ import annotations

from typing import Final

PERMISSIONS: Final[dict[str, str]] = {
    "survey.view": "See surveys and their versions",
    "survey.create": "Create surveys",
    "survey.edit": "Edit draft surveys",
    "survey.publish": "Publish, close and reopen surveys",
    "survey.delete": "Delete and archive surveys",
    "submission.view": "See all responses",
    "submission.export": "Export responses",
    "submission.delete": "Delete responses",
    "submission.view_pii": "See answers to questions marked as personal data, and respondent identifiers",
    "analytics.view": "See analytics dashboards",
    "user.manage": "Invite members, change roles, manage custom roles",
    "billing.manage": "Manage the plan and billing",
    "audit.view": "Read the audit log",
    "distribution.manage": "Manage contacts and send survey invitations",
    "webhook.manage": "Manage webhook endpoints and redeliver events",
    "privacy.manage": "Answer data-subject requests (access, erasure) and export the organisation's data",
}
ALL_PERMISSIONS: Final[frozenset[str]] = frozenset(PERMISSIONS)

# slug -> (name, permissions). Seeded into the template schema by a data migration, so every clone has them.
BUILTIN_ROLES: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "admin": ("Admin", tuple(sorted(PERMISSIONS))),
    "survey_creator": (
        "Survey Creator",
        ("survey.view", "survey.create", "survey.edit", "survey.publish", "submission.view", "analytics.view"),
    ),
    "analyst": ("Analyst", ("survey.view", "submission.view", "submission.export", "analytics.view")),
    # Answers restricted surveys and sees only its own submissions (enforced by the submission selectors).
    "respondent": ("Respondent", ()),
}
ADMIN_ROLE: Final = "admin"
