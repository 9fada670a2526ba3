"""Small exact statistics (no SciPy): chi-square test of independence with its p-value, NPS with a 95 %
confidence interval, mean and standard deviation from sums."""

from __future__ import annotations

import math
from collections.abc import Sequence

Z95 = 1.959963984540054


def _gamma_lower_series(a: float, x: float) -> float:
    """Regularized lower incomplete gamma P(a, x) by its power series (x < a + 1)."""
    term = total = 1.0 / a
    n = a
    for _ in range(10_000):
        n += 1
        term *= x / n
        total += term
        if abs(term) < abs(total) * 1e-15:
            break
    return total * math.exp(-x + a * math.log(x) - math.lgamma(a))


def _gamma_upper_fraction(a: float, x: float) -> float:
    """Regularized upper incomplete gamma Q(a, x) by its continued fraction (x >= a + 1), modified Lentz."""
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return math.exp(-x + a * math.log(x) - math.lgamma(a)) * h


def chi2_sf(statistic: float, dof: int) -> float:
    """P(X >= statistic) for X ~ chi-square with ``dof`` degrees of freedom."""
    if dof <= 0:
        return 1.0
    if statistic <= 0:
        return 1.0
    a, x = dof / 2, statistic / 2
    if x < a + 1:
        return max(0.0, 1.0 - _gamma_lower_series(a, x))
    return min(1.0, _gamma_upper_fraction(a, x))


def chi_square(table: Sequence[Sequence[int]]) -> tuple[float, int, float] | None:
    """Pearson's chi-square test of independence: (statistic, degrees of freedom, p-value); ``None`` when
    the table has fewer than two non-empty rows or columns."""
    rows = [r for r in table if sum(r)]
    if len(rows) < 2:
        return None
    columns = [j for j in range(len(rows[0])) if sum(r[j] for r in rows)]
    if len(columns) < 2:
        return None
    row_totals = [sum(r[j] for j in columns) for r in rows]
    column_totals = [sum(r[j] for r in rows) for j in columns]
    total = sum(row_totals)
    statistic = 0.0
    for i, r in enumerate(rows):
        for k, j in enumerate(columns):
            expected = row_totals[i] * column_totals[k] / total
            statistic += (r[j] - expected) ** 2 / expected
    dof = (len(rows) - 1) * (len(columns) - 1)
    return statistic, dof, chi2_sf(statistic, dof)


def nps(promoters: int, passives: int, detractors: int) -> tuple[float, float, float] | None:
    """The NPS (-100..100) with a 95 % confidence interval (normal approximation of the trinomial)."""
    n = promoters + passives + detractors
    if n == 0:
        return None
    p, d = promoters / n, detractors / n
    score = p - d
    variance = (p + d - score * score) / n
    margin = Z95 * math.sqrt(max(variance, 0.0))
    return 100 * score, 100 * max(-1.0, score - margin), 100 * min(1.0, score + margin)


def mean_std(n: int, total: float | None, total_sq: float | None) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation from n, sum and sum of squares."""
    if n == 0 or total is None:
        return None, None
    mean = total / n
    if n < 2 or total_sq is None:
        return mean, None
    variance = max(0.0, (total_sq - n * mean * mean) / (n - 1))
    return mean, math.sqrt(variance)
