"""Drafts: one unstorable record never poisons the beat sync, and any value the API accepts round-trips
exactly through Redis, PostgreSQL, the resume and the submit (hypothesis, real services)."""

from __future__ import annotations

import copy
import json
import math
import uuid

import pytest
from django.test import Client
from django.utils import timezone
from django_redis import get_redis_connection
from django_tenants.utils import tenant_context
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tenant_apps.responses.models import Answer, DraftCopy, Submission
from tenant_apps.responses.services import (
    _TAKE,
    draft_key,
    drafts_dirty_key,
    drafts_quarantine_key,
    drafts_sync,
    drafts_syncing_key,
)
from tenant_apps.responses.tasks import drafts_sync_task
from tenant_apps.surveys import services
from tenant_apps.surveys.logic.evaluator import is_empty
from tests.conftest import host_of


@pytest.fixture(scope="module")
def survey(tenant_a):
    with tenant_context(tenant_a):
        return services.survey_create_published(title="Round trip", definition=copy.deepcopy(services.DEMO_DEFINITION))


def _save(client: Client, survey, answers) -> dict:
    response = client.put(
        f"/api/v1/s/{survey.public_link}/draft/",
        {"answers": answers, "page": "p_about"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return response.json()


# Records an older version could write (json.dumps without allow_nan=False, no check at the door).
BAD_RECORDS = {
    "nul": '"Ann\\u0000"',
    "lone_surrogate": '"\\ud800"',
    "non_finite": "Infinity",
    "not_json": None,
}


@pytest.mark.parametrize("case", sorted(BAD_RECORDS))
def test_a_bad_draft_is_quarantined_and_the_clean_ones_beside_it_are_synced(tenant_a, survey, case, caplog):
    client = Client(HTTP_HOST=host_of(tenant_a))
    clean = [_save(client, survey, {"q_name": f"Clean {i}"})["submission_id"] for i in range(3)]
    bad_uid = str(uuid.uuid4())
    schema = tenant_a.schema_name
    record = {
        "survey_id": survey.pk,
        "version": survey.current_version_id,
        "answers": {"q_name": "PLACEHOLDER"},
        "page": "p_about",
        "expires": int(timezone.now().timestamp()) + 3600,
        "saved_at": timezone.now().isoformat(),
    }
    raw = json.dumps(record).replace('"PLACEHOLDER"', BAD_RECORDS[case] or '"x"')
    if BAD_RECORDS[case] is None:
        raw = raw[:-5]  # truncated
    redis = get_redis_connection("default")
    redis.set(draft_key(schema, bad_uid), raw, ex=3600)  # bypassing the API, as an older version wrote it
    redis.sadd(drafts_dirty_key(schema), bad_uid)

    with tenant_context(tenant_a):
        synced = drafts_sync(batch=500)  # one batch: the bad record sits beside the clean ones
        copies = {str(c.uid): c.data["answers"] for c in DraftCopy.objects.filter(uid__in=[*clean, bad_uid])}
    assert synced >= 3
    assert {uid: copies.get(uid) for uid in clean} == {uid: {"q_name": f"Clean {i}"} for i, uid in enumerate(clean)}
    assert bad_uid not in copies
    assert redis.hexists(drafts_quarantine_key(schema), bad_uid)  # drafts_quarantined(schema=...) lists them
    assert redis.get(draft_key(schema, bad_uid)) is None
    assert redis.get(drafts_quarantine_key(schema, bad_uid)) == raw.encode()
    assert not redis.sismember(drafts_dirty_key(schema), bad_uid)
    assert any(r.message == "draft quarantined" and getattr(r, "tenant", None) == schema for r in caplog.records)


def test_the_beat_task_survives_a_bad_draft(tenant_a, survey, celery_worker_process):
    """The real task on the real worker: the bad record no longer fails the run or strands the clean ones."""
    client = Client(HTTP_HOST=host_of(tenant_a))
    clean = _save(client, survey, {"q_name": "Beside a bad one"})["submission_id"]
    schema = tenant_a.schema_name
    bad_uid = str(uuid.uuid4())
    redis = get_redis_connection("default")
    raw = json.dumps(
        {"survey_id": survey.pk, "answers": {"q_nps": "X"}, "expires": int(timezone.now().timestamp()) + 3600}
    ).replace('"X"', "1e400")
    redis.set(draft_key(schema, bad_uid), raw, ex=3600)
    redis.sadd(drafts_dirty_key(schema), bad_uid)
    result = drafts_sync_task.apply_async(kwargs={"schema_name": schema}).get(timeout=60)
    assert result >= 1
    with tenant_context(tenant_a):
        assert DraftCopy.objects.filter(uid=clean).exists()
        assert not DraftCopy.objects.filter(uid=bad_uid).exists()
    assert redis.hexists(drafts_quarantine_key(schema), bad_uid)


def test_a_failure_mid_batch_puts_the_ids_back(tenant_a, survey):
    """A run that dies half-way (here: the worker's time limit, simulated by a record whose expiry cannot be
    represented) must leave every id of the batch to the next run."""
    client = Client(HTTP_HOST=host_of(tenant_a))
    uid = _save(client, survey, {"q_name": "Retry me"})["submission_id"]
    schema = tenant_a.schema_name
    redis = get_redis_connection("default")

    class Interrupted(BaseException):
        pass

    original = redis.mget

    def mget_then_die(*args, **kwargs):
        original(*args, **kwargs)
        raise Interrupted

    redis.mget = mget_then_die  # the run is interrupted after popping the batch (a SoftTimeLimitExceeded)
    try:
        with tenant_context(tenant_a), pytest.raises(Interrupted):
            drafts_sync()
    finally:
        del redis.mget
    assert redis.sismember(drafts_dirty_key(schema), uid)
    with tenant_context(tenant_a):
        assert drafts_sync() >= 1
        assert DraftCopy.objects.filter(uid=uid).exists()


def test_a_run_killed_outright_leaves_its_batch_to_the_next_run(tenant_a, survey):
    """SIGKILL runs no ``except``: a run killed after taking its batch leaves the ids in flight, not lost."""
    client = Client(HTTP_HOST=host_of(tenant_a))
    uid = _save(client, survey, {"q_name": "Killed mid-run"})["submission_id"]
    schema = tenant_a.schema_name
    redis = get_redis_connection("default")
    dirty, syncing = drafts_dirty_key(schema), drafts_syncing_key(schema)
    # The first step of a run, exactly as drafts_sync takes it; then the process dies.
    taken = redis.register_script(_TAKE)(keys=[dirty, syncing], args=[500])
    assert uid.encode() in taken
    assert not redis.sismember(dirty, uid)
    with tenant_context(tenant_a):
        assert not DraftCopy.objects.filter(uid=uid).exists()
        assert drafts_sync() >= 1
        assert DraftCopy.objects.get(uid=uid).data["answers"] == {"q_name": "Killed mid-run"}
    assert not redis.exists(syncing)


# --- 6: hypothesis round trip -----------------------------------------------------------------------


def _same(a, b) -> bool:
    """Equal as JSON values. PostgreSQL's jsonb keeps numbers as decimals, so ``1e300`` comes back as the
    integer 10**300: numbers compare by value."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b or float(a) == float(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


TEXT = st.one_of(
    st.text(),  # every code point, NUL and lone surrogates included
    st.text(alphabet=st.characters(categories=["Cs", "Cc"]), min_size=1),
    st.sampled_from(["\u202eevil\u202c", "שלום عليكم", "👩‍👩‍👧‍👦🏳️‍🌈", "a\x00b", "\ud83d", "\udfff\ud800"]),
    st.text(min_size=10_000, max_size=12_000),
    st.just("x" * 300_000),
)
NUMBER = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -0.0, 1e308, 5e-324, 2**63 - 1, -(2**63), 2**63, 10**400]),
)
VALUE = st.one_of(TEXT, NUMBER, st.lists(TEXT, max_size=3))


def _json_text(value) -> str:
    """What a client could send: JSON as Python writes it, NaN/Infinity and lone surrogates included."""
    return json.dumps(value, allow_nan=True)


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(name=VALUE, nps=NUMBER)
def test_draft_save_sync_resume_submit_round_trip(tenant_a, survey, name, nps):
    client = Client(HTTP_HOST=host_of(tenant_a))
    link = survey.public_link
    # What the JSON text means (an escaped surrogate *pair* is one character, as in any JSON reader).
    name, nps = json.loads(_json_text([name, nps]))
    answers = {"q_name": name, "q_nps": nps}
    body = '{"answers": {"q_name": %s, "q_nps": %s}, "page": "p_score"}' % (_json_text(name), _json_text(nps))  # noqa: UP031
    saved = client.put(f"/api/v1/s/{link}/draft/", body, content_type="application/json")
    assert saved.status_code < 500, saved.content
    storable = all(_storable(v) for v in (name, nps))
    if saved.status_code >= 400:
        assert saved.json()["error"]["details"], saved.content
        assert not storable or len(body) > 200_000, (name, nps, saved.content)
        return
    assert storable, (name, nps)
    uid, token = saved.json()["submission_id"], saved.json()["token"]

    with tenant_context(tenant_a):
        drafts_sync()  # never raises
        copy_data = DraftCopy.objects.get(uid=uid).data
    assert _same(copy_data["answers"], answers)

    resumed = client.get(f"/api/v1/s/{link}/draft/{uid}/", {"token": token})
    assert resumed.status_code == 200, resumed.content
    assert _same(resumed.json()["answers"], answers)
    get_redis_connection("default").delete(draft_key(tenant_a.schema_name, uid))  # Redis lost it: from PostgreSQL
    resumed = client.get(f"/api/v1/s/{link}/draft/{uid}/", {"token": token})
    assert resumed.status_code == 200, resumed.content
    assert _same(resumed.json()["answers"], answers)

    submit = {"answers": {"q_name": name, "q_role": "dev", "q_nps": nps}, "submission_id": uid, "token": token}
    submitted = client.post(
        f"/api/v1/s/{link}/submit/", json.dumps(submit, allow_nan=True), content_type="application/json"
    )
    assert submitted.status_code < 500, submitted.content
    if submitted.status_code in (200, 201):
        with tenant_context(tenant_a):
            submission = Submission.objects.get(uid=uid)
            stored = dict(Answer.objects.filter(submission_id=submission.id).values_list("question_id", "value"))
        assert _same(stored.get("q_name"), name) or (is_empty(name) and "q_name" not in stored), (name, nps, stored)
        assert _same(stored["q_nps"], nps), (name, nps, stored)
    else:
        assert submitted.json()["error"]["details"], submitted.content


def _storable(value) -> bool:
    if isinstance(value, str):
        return "\x00" not in value and not any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    if isinstance(value, list):
        return all(_storable(v) for v in value)
    return True
