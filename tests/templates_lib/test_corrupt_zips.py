"""Damaged bundle zips: each is a ``BundleError`` saying the file is not a valid bundle and
why, never a zip or zlib exception; what they would unpack to is bounded."""

from __future__ import annotations

import pytest

from templates_lib import BundleError, load_zip, to_zip
from templates_lib.loader import MAX_BYTES

from .damaged import FILES, GOOD, damaged_member, lying_size


def _declared_huge() -> bytes:
    """A member that unpacks to more than a bundle may hold, from a small zip."""
    return to_zip({**FILES, "reference/big.csv": b"0" * (MAX_BYTES + 1)})


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"%PDF-1.7 not a zip", "not a zip file"),
        (GOOD[: len(GOOD) // 2], "not a zip file"),
        (GOOD[:-10], "not a zip file"),
        (damaged_member(GOOD, "manifest.json", stored=True), "manifest.json"),
        (damaged_member(GOOD, "manifest.json", stored=False), "manifest.json"),
        (lying_size(), "reference/big.csv"),
        (_declared_huge(), "MiB"),
    ],
    ids=["not-a-zip", "truncated-half", "truncated-end", "bad-crc", "bad-deflate",
         "size-lie", "too-large-unpacked"],
)  # fmt: skip
def test_a_damaged_zip_is_a_bundle_error_with_the_reason(data: bytes, reason: str) -> None:
    with pytest.raises(BundleError) as caught:
        load_zip(data)
    problem = caught.value.problems[0]
    assert problem.code in ("bad_zip", "too_large")
    assert reason in f"{problem.file} {problem.message}"
    assert "not a valid template bundle" in problem.message or problem.code == "too_large"
    assert "不是有效的模板包" in problem.message_zh or problem.code == "too_large"


def test_an_intact_zip_still_loads() -> None:
    assert load_zip(GOOD).id == "large-order-finance-review"
