"""The retry schedule: exponential backoff with jitter, for ``WEBHOOK_RETRY_WINDOW_SECONDS`` (24 h).

The n-th retry waits ``min(base * 2**(n-1), cap)`` seconds, times a random factor in
``[1 - jitter, 1 + jitter]``; a retry that would start after the window (counted from the delivery's
creation) is not made and the delivery is marked failed. ``manage.py webhook_retry_schedule``
prints the nominal schedule of the current settings."""

from __future__ import annotations

import random

from django.conf import settings


def nominal_delay(retry: int) -> float:
    """Seconds before retry number ``retry`` (1 = the first retry), without jitter."""
    base = float(settings.WEBHOOK_RETRY_BASE_SECONDS)
    cap = float(settings.WEBHOOK_RETRY_MAX_DELAY_SECONDS)
    return min(base * 2 ** (retry - 1), cap)


def delay(retry: int, rng: random.Random | None = None) -> float:
    jitter = float(settings.WEBHOOK_RETRY_JITTER)
    factor = (rng or random.SystemRandom()).uniform(1 - jitter, 1 + jitter)
    return nominal_delay(retry) * factor


def nominal_schedule() -> list[tuple[int, float, float]]:
    """(retry number, nominal delay, nominal seconds since the first attempt) up to the window."""
    window = float(settings.WEBHOOK_RETRY_WINDOW_SECONDS)
    rows: list[tuple[int, float, float]] = []
    elapsed = 0.0
    retry = 1
    while True:
        wait = nominal_delay(retry)
        if elapsed + wait > window:
            return rows
        elapsed += wait
        rows.append((retry, wait, elapsed))
        retry += 1
