"""Duration histograms that add up, and percentiles read from them.

Buckets are logarithmic: eight per doubling above 0.1 s, so a bucket is 9 % wide and a
percentile read from it (linear inside the bucket) is within about 4.5 % of the exact value.
Histograms of any hours and channels merge by adding counts, which is what lets hourly
rollups answer "median of the last 30 days" without reading 30 days of rows. When a range
holds few values the dashboard reads them exactly instead (see :func:`exact_percentile`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

FLOOR = 0.1  # seconds: everything shorter falls in bucket 0
PER_DOUBLING = 8
Hist = dict[int, int]


def bucket(seconds: float) -> int:
    """The bucket index of a duration (0 holds everything up to 0.1 s)."""
    if seconds <= FLOOR:
        return 0
    return 1 + int(PER_DOUBLING * math.log2(seconds / FLOOR))


def bounds(index: int) -> tuple[float, float]:
    """``(low, high)`` seconds of a bucket."""
    if index <= 0:
        return 0.0, FLOOR
    return (
        FLOOR * 2 ** ((index - 1) / PER_DOUBLING),
        FLOOR * 2 ** (index / PER_DOUBLING),
    )


def add(hist: Hist, seconds: float, count: int = 1) -> None:
    key = bucket(seconds)
    hist[key] = hist.get(key, 0) + count


def merge(into: Hist, other: Mapping[str, int] | Mapping[int, int] | None) -> Hist:
    """Add ``other`` (stored form: keys may be text) into ``into``; returns ``into``."""
    for key, count in (other or {}).items():
        k = int(key)
        into[k] = into.get(k, 0) + int(count)
    return into


def stored(hist: Hist) -> dict[str, int]:
    """The JSON form: bucket indexes as text."""
    return {str(k): v for k, v in sorted(hist.items())}


def count(hist: Mapping[int, int]) -> int:
    return sum(hist.values())


def percentile(hist: Mapping[int, int], q: float) -> float | None:
    """The ``q`` quantile (0..1) estimated from a histogram; None when it is empty."""
    total = sum(hist.values())
    if total == 0:
        return None
    # Rank as in linear interpolation between closest ranks: position q*(n-1), 0-based.
    rank = q * (total - 1)
    seen = 0
    for key in sorted(hist):
        n = hist[key]
        if seen + n > rank:
            low, high = bounds(key)
            # Spread the bucket's n values evenly across it, at the middles of n slices.
            inside = (rank - seen + 0.5) / n
            return round(low + (high - low) * min(max(inside, 0.0), 1.0), 6)
        seen += n
    low, high = bounds(max(hist))
    return high


def exact_percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile of ``values`` with linear interpolation between closest ranks
    (PostgreSQL's ``percentile_cont``, numpy's default); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = math.ceil(position)
    if low == high:
        return float(ordered[low])
    return round(float(ordered[low] + (ordered[high] - ordered[low]) * (position - low)), 6)


def from_values(values: Iterable[float]) -> Hist:
    hist: Hist = {}
    for value in values:
        add(hist, value)
    return hist
