"""Benchmark: the cost of sealing personal data on submit. The same 20-question survey twice in one run, once
with 5 text answers flagged ``"pii": true`` and once unflagged; both seal the respondent's IP and user agent,
as every submit does. Rounds alternate between the two (noise hits both alike); the median round of each is
compared. Prints the overhead and the data-key cache hit rate (the unwrapped key stays in process memory for
PII_KEY_CACHE_SECONDS: Vault is asked only on a miss). A real OpenBao runs for it (``benchmarks._common``).
Run with ``make bench-pii`` (scratch database)."""

from __future__ import annotations

import copy
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

from benchmarks._common import published_survey
from benchmarks.respondent import build

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "7"))
PER_ROUND = int(os.environ.get("BENCH_PER_ROUND", "300"))
TARGET = 0.15


def main() -> None:
    import django

    django.setup()
    from django.conf import settings
    from django_tenants.utils import tenant_context

    from shared_apps.core import kms
    from shared_apps.tenants.models import Organisation
    from tenant_apps.pii.services import cache_clear, cache_stats
    from tenant_apps.responses.services import submission_create

    assert kms.backend() == "transit", "the benchmark runs against Vault (OpenBao)"
    plain, answers = build()
    flagged = copy.deepcopy(plain)
    questions = [q for page in flagged["pages"] for q in page["questions"]]
    # The 4 text questions and a number: 5 answered questions (the survey's other 15 stay plain).
    chosen = [q for q in questions if q["type"] == "short_text"] + [q for q in questions if q["type"] == "number"]
    for q in chosen[:5]:
        q["pii"] = True
    surveys = {
        "5 PII answers": published_survey("bench-pii", "Bench PII", "Flagged", flagged)[0],
        "unflagged": published_survey("bench-pii", "Bench PII", "Unflagged", plain)[0],
    }
    definitions = {"5 PII answers": flagged, "unflagged": plain}
    organisation = Organisation.objects.get(slug="bench-pii")
    meta = {"ip": "203.0.113.7", "user_agent": "Mozilla/5.0 (bench)"}
    rates: dict[str, list[float]] = {name: [] for name in surveys}
    with tenant_context(organisation):
        cache_clear()  # a cold process: the first submit unwraps the data key through Vault
        for name, survey in surveys.items():  # warm-up
            for _ in range(20):
                submission_create(
                    survey_id=survey.pk,
                    version_id=survey.current_version_id,
                    definition=definitions[name],
                    answers=answers,
                    meta=meta,
                )
        for _ in range(ROUNDS):
            for name, survey in surveys.items():
                started = time.perf_counter()
                for _ in range(PER_ROUND):
                    submission_create(
                        survey_id=survey.pk,
                        version_id=survey.current_version_id,
                        definition=definitions[name],
                        answers=answers,
                        meta=meta,
                    )
                rates[name].append(PER_ROUND / (time.perf_counter() - started))
    stats = cache_stats()
    flagged_rate = statistics.median(rates["5 PII answers"])
    plain_rate = statistics.median(rates["unflagged"])
    overhead = 1 - flagged_rate / plain_rate
    print(
        f"\nsubmit service, {ROUNDS} alternating rounds x {PER_ROUND} submits, 20 questions, one process, "
        f"Vault at {settings.VAULT_ADDR}"
    )
    for name, values in rates.items():
        print(
            f"  {name:<16} median {statistics.median(values):8.1f}/s  (rounds: {', '.join(f'{v:.0f}' for v in values)})"
        )
    print(f"  overhead of sealing 5 answers: {overhead * 100:.1f} % (target < {TARGET * 100:.0f} %)")
    print(
        f"  data-key cache: {stats['hits']} hits, {stats['misses']} misses, hit rate {stats['hit_rate'] * 100:.3f} %"
        f" (TTL {settings.PII_KEY_CACHE_SECONDS}s)"
    )
    sys.exit(0 if overhead < TARGET else 1)


if __name__ == "__main__":
    main()
