"""The retry schedule: exponential backoff with jitter, for ``WEBHOOK_RETRY_WINDOW_SECONDS`` (24 h).

The n-th retry waits ``min(base * 2**(n-1), cap)`` seconds, times a random factor in
``[1 - jitter, 1 + jitter]``. A retry that would start after the window (counted from the delivery's
creation) is moved to the window's end, so the last attempt is made at 24 h; after it the delivery is
marked failed. ``manage.py webhook_retry_schedule``
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


def within_window(*, wait: float, elapsed: float) -> float | None:
    """The wait to use when ``elapsed`` seconds of the window are gone: ``wait``, or what is left of the
    window when that is shorter (the final attempt at the window's end), or None (no retry left)."""
    left = float(settings.WEBHOOK_RETRY_WINDOW_SECONDS) - elapsed
    if wait <= left:
        return wait
    # A final retry at the window's end, unless the window is (almost) used up already.
    return left if left >= float(settings.WEBHOOK_RETRY_BASE_SECONDS) else None


def nominal_schedule() -> list[tuple[int, float, float]]:
    """(retry number, nominal delay, nominal seconds since the first attempt) up to the window."""
    rows: list[tuple[int, float, float]] = []
    elapsed = 0.0
    retry = 1
    while True:
        wait = within_window(wait=nominal_delay(retry), elapsed=elapsed)
        if wait is None:
            return rows
        elapsed += wait
        rows.append((retry, wait, elapsed))
        retry += 1
