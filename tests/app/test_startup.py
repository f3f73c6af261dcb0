"""Start-up of a serving process."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = textwrap.dedent(
    """
    import gc, sys
    from app import create_app
    app = create_app({"DATABASE_URL": sys.argv[1], "INSTANCE_PATH": sys.argv[2],
                      "TESTING": sys.argv[3] == "1"})
    gc.collect()
    # Frozen objects, and the objects a full collection still walks.
    print(gc.get_freeze_count(), len(gc.get_objects()))
    """
)


def _probe(tmp_path: Path, testing: bool) -> tuple[int, int]:
    url = f"sqlite:///{tmp_path / 'probe.db'}"
    out = subprocess.run(
        [sys.executable, "-c", PROBE, url, str(tmp_path), "1" if testing else "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.split()
    return int(out[0]), int(out[1])


def test_a_serving_process_keeps_startup_objects_out_of_full_collections(tmp_path):
    frozen, walked = _probe(tmp_path, testing=False)
    # Start-up builds a few hundred thousand long-lived objects; a serving process freezes
    # them, so a full collection no longer walks them.
    assert frozen > 100_000, frozen
    assert walked < frozen / 100, (frozen, walked)
    # Test apps are built many times in one process: they freeze nothing.
    frozen, walked = _probe(tmp_path, testing=True)
    assert frozen == 0
    assert walked > 100_000
