"""A survey with every question type (two versions), and submissions written the way submit writes them."""

from __future__ import annotations

import copy
import datetime as dt
import json
import random
import uuid
from typing import Any

from django.db import connection

from tenant_apps.responses.services import SUBMIT_SQL, _answer_rows
from tenant_apps.surveys import services
from tenant_apps.surveys.definition import question_types
from tenant_apps.surveys.models import Survey, SurveyVersion


def _choices(*ids: str) -> list[dict[str, str]]:
    return [{"id": i, "text": i.upper()} for i in ids]


DEFINITION_V1: dict[str, Any] = {
    "pages": [
        {
            "id": "p1",
            "title": "Choices",
            "questions": [
                {"id": "q_single", "type": "single_choice", "text": "Pick", "other": True,
                 "choices": _choices("a", "b", "c")},
                {"id": "q_drop", "type": "dropdown", "text": "Drop", "choices": _choices("x", "y")},
                {"id": "q_yes", "type": "yes_no", "text": "Yes?"},
                {"id": "q_multi", "type": "multiple_choice", "text": "Many", "choices": _choices("m1", "m2", "m3")},
            ],
        },
        {
            "id": "p2",
            "title": "Numbers",
            "questions": [
                {"id": "q_rating", "type": "rating", "text": "Rate", "scale": 5},
                {"id": "q_nps", "type": "nps", "text": "Recommend?"},
                {"id": "q_num", "type": "number", "text": "How many?", "min": 0, "max": 1000},
                {"id": "q_date", "type": "date", "text": "When?"},
            ],
        },
        {
            "id": "p3",
            "title": "More",
            "questions": [
                {"id": "q_matrix", "type": "matrix", "text": "Grid", "rows": _choices("r1", "r2"),
                 "columns": _choices("k1", "k2", "k3")},
                {"id": "q_rank", "type": "ranking", "text": "Order", "choices": _choices("a1", "a2", "a3")},
                {"id": "q_text", "type": "long_text", "text": "Why?"},
                {"id": "q_src", "type": "hidden", "text": "utm_source"},
            ],
        },
    ]
}  # fmt: skip


def definition_v2() -> dict[str, Any]:
    """Version 2: the dropdown is removed, a short text is added."""
    definition = copy.deepcopy(DEFINITION_V1)
    definition["pages"][0]["questions"] = [q for q in definition["pages"][0]["questions"] if q["id"] != "q_drop"]
    definition["pages"][2]["questions"].append({"id": "q_new", "type": "short_text", "text": "New?"})
    return definition


def survey_with_two_versions() -> tuple[Survey, dict[int, tuple[int, dict[str, Any]]]]:
    """Call inside a tenant context. Returns the survey and version number -> (version id, definition)."""
    from tenant_apps.surveys.models import Publication

    survey = services.survey_create_published(
        title=f"Analytics {uuid.uuid4().hex[:6]}", definition=copy.deepcopy(DEFINITION_V1)
    )
    survey = services.definition_replace(survey=survey, definition=definition_v2())
    publication = services.publication_request(survey=survey, requested_by_id=None)
    publication = services.publication_compile_run(publication=Publication.objects.get(pk=publication.pk))
    assert publication.status == Publication.Status.PUBLISHED, publication.errors
    return Survey.objects.get(pk=survey.pk), versions_of(survey)


def versions_of(survey: Survey) -> dict[int, tuple[int, dict[str, Any]]]:
    return {v.number: (v.pk, v.definition) for v in SurveyVersion.objects.filter(survey=survey)}


def random_answers(rng: random.Random, definition: dict[str, Any]) -> dict[str, Any]:  # noqa: PLR0912
    """Valid answers of random shape for every question (each skipped now and then)."""
    answers: dict[str, Any] = {}
    for qid, qtype in question_types(definition).items():
        if rng.random() < 0.15:
            continue
        if qtype in ("single_choice", "dropdown"):
            ids = {"q_single": ["a", "b", "c", "__other__"], "q_drop": ["x", "y"]}[qid]
            answers[qid] = rng.choice(ids)
            if answers[qid] == "__other__":
                answers[f"{qid}__other"] = rng.choice(["sales", "legal"])
        elif qtype == "yes_no":
            answers[qid] = rng.random() < 0.5
        elif qtype == "multiple_choice":
            picked = [c for c in ("m1", "m2", "m3") if rng.random() < 0.5]
            if picked:
                answers[qid] = picked
        elif qtype == "rating":
            answers[qid] = rng.randint(1, 5)
        elif qtype == "nps":
            answers[qid] = rng.randint(0, 10)
        elif qtype == "number":
            answers[qid] = rng.choice([rng.randint(0, 1000), round(rng.uniform(0, 1000), 2)])
        elif qtype == "date":
            answers[qid] = f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        elif qtype == "matrix":
            answers[qid] = {r: rng.choice(["k1", "k2", "k3"]) for r in ("r1", "r2") if rng.random() < 0.8}
            if not answers[qid]:
                del answers[qid]
        elif qtype == "ranking":
            order = ["a1", "a2", "a3"]
            rng.shuffle(order)
            answers[qid] = order
        elif qtype == "hidden":
            answers[qid] = rng.choice(["newsletter", "ads", "partner"])
        else:
            answers[qid] = rng.choice(["fast and simple", "too slow", "simple pricing", "great support"])
    return answers


def insert_submission(
    *, survey_id: int, version_id: int, definition: dict[str, Any], answers: dict[str, Any], at: dt.datetime
) -> int:
    """One submission with its answer rows, by the submit path's own statement (at a chosen time)."""
    with connection.cursor() as cursor:
        cursor.execute(
            SUBMIT_SQL,
            {
                "now": at,
                "started": None,
                "uid": str(uuid.uuid4()),
                "survey": survey_id,
                "version": version_id,
                "respondent": None,
                "end": None,
                "variables": "{}",
                "meta": "{}",
                "answers": json.dumps(_answer_rows(answers, question_types(definition))),
                "idem": None,
                "respondent_key": None,
                "result": "{}",
            },
        )
        return int(cursor.fetchone()[0])
