"""The headline figures of a benchmark, kept where ``bench/compare.sh`` can read them.

A benchmark prints its figures for people as it always has and, beside that, calls
:func:`record` for each headline figure (orders per second, seconds per backtest, ratio to a
baseline). When ``ORDERFLOW_BENCH_FIGURES`` names a file, each figure is appended to it as one
JSON line; otherwise :func:`record` does nothing, so a benchmark run alone costs nothing more.

    record("single sqlite orders/s", 812.4, better="higher")
"""

from __future__ import annotations

import json
import os
import resource
import sys
from typing import Literal

ENV = "ORDERFLOW_BENCH_FIGURES"


def record(name: str, value: float, *, better: Literal["higher", "lower"] = "higher") -> None:
    """Keep one figure of this run for ``bench/compare.sh`` (a no-op when it is not asking)."""
    path = os.environ.get(ENV)
    if not path:
        return
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps({"name": name, "value": float(value), "better": better}) + "\n")


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
