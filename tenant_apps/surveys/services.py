from __future__ import annotations

from shared_apps.accounts.models import User
from tenant_apps.surveys.models import Survey

DEMO_SURVEY_DEFINITION: dict[str, object] = {
    "pages": [
        {
            "id": "p1",
            "questions": [
                {
                    "id": "q_role",
                    "type": "single_choice",
                    "text": "What best describes your role?",
                    "choices": [
                        {"id": "dev", "text": "Engineering"},
                        {"id": "pm", "text": "Product"},
                        {"id": "other", "text": "Other"},
                    ],
                },
                {"id": "q_nps", "type": "nps", "text": "How likely are you to recommend us to a friend?"},
                {"id": "q_why", "type": "long_text", "text": "What is the main reason for your score?"},
            ],
        }
    ]
}


def survey_create(
    *, title: str, created_by: User | None, description: str = "", definition: dict[str, object] | None = None
) -> Survey:
    """Call inside the tenant's context."""
    return Survey.objects.create(
        title=title, description=description, definition=definition or {}, created_by=created_by
    )


def survey_create_demo(*, created_by: User | None) -> Survey:
    return survey_create(
        title="Customer satisfaction (demo)",
        description="A short demo survey created with the demo tenant.",
        definition=DEMO_SURVEY_DEFINITION,
        created_by=created_by,
    )
