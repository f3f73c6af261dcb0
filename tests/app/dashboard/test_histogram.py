"""Duration histograms: bucket bounds, merging, and percentile estimates against exact ones."""

from __future__ import annotations

import random

import pytest

from app.metrics import histogram


def test_buckets_cover_every_duration_without_overlap():
    previous_high = 0.0
    for index in range(0, 250):
        low, high = histogram.bounds(index)
        assert low == pytest.approx(previous_high) and high > low
        assert histogram.bucket((low + high) / 2) == index
        previous_high = high
    assert histogram.bucket(0) == 0 and histogram.bucket(0.1) == 0


def test_merging_is_adding_counts():
    a = histogram.from_values([1, 2, 3])
    b = histogram.from_values([3, 400])
    merged = histogram.merge(dict(a), histogram.stored(b))
    assert merged == histogram.from_values([1, 2, 3, 3, 400])
    assert histogram.count(merged) == 5


def test_exact_percentiles_interpolate_between_ranks():
    assert histogram.exact_percentile([10, 20, 30, 40], 0.5) == 25.0
    assert histogram.exact_percentile([5], 0.95) == 5.0
    assert histogram.exact_percentile([], 0.5) is None
    assert histogram.exact_percentile([1800, 7200], 0.9) == 6660.0


@pytest.mark.parametrize("q", [0.5, 0.9, 0.95])
def test_estimates_on_many_values_are_within_the_bucket_width(q):
    rng = random.Random(7)
    values = [rng.lognormvariate(6, 1.5) for _ in range(5000)]  # minutes to days, skewed
    estimate = histogram.percentile(histogram.from_values(values), q)
    assert estimate == pytest.approx(histogram.exact_percentile(values, q), rel=0.045)


def test_empty_histogram_has_no_percentile():
    assert histogram.percentile({}, 0.5) is None
