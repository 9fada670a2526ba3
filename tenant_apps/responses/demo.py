"""Demo responses: the demo organisation's survey gets answers at once, so its results pages show something."""

from __future__ import annotations

import random
from typing import Any

from shared_apps.core.registry import SeedContext

DEMO_RESPONSES = 30
NAMES = ("Ada", "Grace", "Linus", "Margaret", "Alan", "Barbara", "Ken", "Radia", "")
REASONS = ("Easy to build surveys", "The logic is powerful", "Analytics are fast", "Pricing", "")


def demo_answers(rng: random.Random) -> dict[str, Any]:
    nps = rng.choices(range(11), weights=(1, 1, 1, 1, 2, 2, 3, 5, 8, 9, 7))[0]
    answers: dict[str, Any] = {"q_role": rng.choice(["dev", "dev", "pm", "ops"]), "q_nps": nps}
    if name := rng.choice(NAMES):
        answers["q_name"] = name
    if reason := rng.choice(REASONS):
        answers["q_why"] = reason
    if nps > 6:
        answers["q_features"] = sorted(rng.sample(["builder", "logic", "analytics"], rng.randint(1, 3)))
    return answers


def seed_demo_responses(context: SeedContext) -> None:
    """Answers to the demo survey through the submit service (validated, counted, sealed like any other)."""
    from tenant_apps.responses.services import submission_create
    from tenant_apps.surveys.load import version_definition
    from tenant_apps.surveys.models import Survey

    if not context.demo:
        return
    survey = Survey.objects.filter(status=Survey.Status.PUBLISHED).order_by("pk").first()
    if survey is None or survey.current_version_id is None:
        return
    definition = version_definition(survey.current_version_id)
    rng = random.Random(7)  # noqa: S311 - demo data
    for _ in range(DEMO_RESPONSES):
        submission_create(
            survey_id=survey.pk,
            version_id=survey.current_version_id,
            definition=definition,
            answers=demo_answers(rng),
            meta={"user_agent": "demo"},
        )
