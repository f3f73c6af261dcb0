"""The whole API against its document, as an integrator would run it: the schemathesis CLI
with every check (stateful links included) against a live server on a loopback port.

Single worker: concurrency is tested elsewhere, and one request at a time keeps a failure
reproducible. The seed is fixed so that CI is repeatable; ``ORDERFLOW_FUZZ_SEED`` and
``ORDERFLOW_FUZZ_RUN_EXAMPLES`` run other and deeper searches locally.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser.serving import serving

CONFIG = Path(__file__).with_name("schemathesis.toml")
EXAMPLES = os.environ.get("ORDERFLOW_FUZZ_RUN_EXAMPLES", "10")
SEED = os.environ.get("ORDERFLOW_FUZZ_SEED", "18")


# The subprocess has 600 s; the default 300 s would stop a run of every operation on a busy host.
@pytest.mark.timeout(660)
def test_whole_api_passes_every_schemathesis_check(app, make_key, tmp_path):
    # Fuzzing sends thousands of requests, many of them without a valid key on purpose.
    app.config.update(RATELIMIT_API="", RATELIMIT_API_AUTH="", RATELIMIT_API_AUTH_ADDRESS="")
    key = make_key(owner="fuzzer")
    with serving(app) as base:
        done = subprocess.run(  # noqa: S603 - the test's own interpreter and arguments
            [sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "run",
             f"{base}/api/v1/openapi.json", "--checks", "all", "--workers", "1",
             "--max-examples", EXAMPLES, "--seed", SEED, "--header",
             f"Authorization: Bearer {key}", "--request-timeout", "30",
             "--report", "junit", "--report-dir", str(tmp_path)],
            capture_output=True, text=True, timeout=600, cwd=tmp_path,
        )  # fmt: skip
    # The failures with their curl reproductions, the summary and the seed come last.
    assert done.returncode == 0, done.stdout[-20000:] + done.stderr[-2000:]
