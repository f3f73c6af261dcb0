"""Flow editor benchmark: open a generated 200-node flow in Chromium and measure.

Prints the time from navigation to a rendered, interactive canvas (all nodes in the model,
the draft loaded, issues checked) and the frame times while panning and zooming it for a
few seconds (requestAnimationFrame deltas; 16.7 ms is 60 frames a second): panning alone,
zooming alone, and panning with a zoom step every tenth frame. The verdict: the canvas is
interactive within 2 s, and 95 % of the frames of the mixed gesture take at most two display
frames (30 frames a second, where lag starts to show); the exit status is 1 otherwise. Chromium runs
headless with software rendering, so the frame times are an upper bound for a desktop
browser with a GPU.

    .venv/bin/python bench/editor_bench.py [--nodes 200] [--seconds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOAD_TARGET_MS = 2000
# Frame times arrive in whole display frames (16.7 ms at 60 Hz): 30 frames a second is two of
# them, 33.3 ms, plus up to a millisecond of timer jitter.
FRAME_P95_TARGET_MS = 2 * 1000 / 60 + 1.0
sys.path.insert(0, str(ROOT))


from app import create_app  # noqa: E402
from app.db import get_session  # noqa: E402
from app.flows import services as flows  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.users import services as users  # noqa: E402
from flow_engine import CURRENT_FORMAT_VERSION, validate_flow  # noqa: E402
from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.browser.serving import serving  # noqa: E402


def big_flow(nodes: int) -> dict:
    """start, then (condition -> set | tag) steps, then end: ``nodes`` nodes in all."""
    steps = (nodes - 2) // 3
    out = [{"id": "start", "type": "start", "config": {}, "position": {"x": 0, "y": 200}}]
    edges = []
    prev = "start"
    for i in range(steps):
        x = 220 * (i + 1)
        out += [
            {"id": f"c{i}", "type": "condition", "position": {"x": x, "y": 200},
             "config": {"expression": f"order.amount > {i * 100}"}},
            {"id": f"s{i}", "type": "set", "position": {"x": x + 110, "y": 80},
             "config": {"fields": [{"path": f"vars.step{i}", "expression": "order.amount * 2"}]}},
            {"id": f"t{i}", "type": "tag", "position": {"x": x + 110, "y": 320}, "config": {"tags": [f"t{i}"]}},
        ]  # fmt: skip
        nxt = f"c{i + 1}" if i + 1 < steps else "end"
        edges += [
            {"id": f"e{i}a", "from": prev, "to": f"c{i}"} if i == 0 else None,
            {"id": f"e{i}b", "from": f"c{i}", "to": f"s{i}", "branch": "true"},
            {"id": f"e{i}c", "from": f"c{i}", "to": f"t{i}", "branch": "false"},
            {"id": f"e{i}d", "from": f"s{i}", "to": nxt},
            {"id": f"e{i}e", "from": f"t{i}", "to": nxt},
        ]
        prev = f"c{i}"
    while len(out) < nodes - 1:  # pad with tag nodes before the end
        k = len(out)
        out.append({"id": f"p{k}", "type": "tag", "position": {"x": 220 * (steps + 1), "y": 40 * k % 600}, "config": {"tags": ["p"]}})  # fmt: skip
    out.append({"id": "end", "type": "end", "config": {"outcome": "done"}, "position": {"x": 220 * (steps + 2), "y": 200}})  # fmt: skip
    doc = {
        "format_version": CURRENT_FORMAT_VERSION, "key": "big-flow", "name": {"en": "Big", "zh": "大流程"},
        "trigger": {"event": "order.created"}, "nodes": out, "edges": [e for e in edges if e],
    }  # fmt: skip
    return doc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="of-editor-bench-"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    upgrade(url)
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(tmp), "SECRET_KEY": "bench"})
    doc = big_flow(args.nodes)
    with app.app_context():
        db = get_session()
        users.create_user(
            db, None, username="bench", password="correct-horse", roles=("supervisor",)
        )
        flows.create_flow(db, None, doc)
        db.commit()
    unconnected = [i.code for i in validate_flow(doc) if i.severity == "error"]
    with serving(app) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(f"{base}/login")
        page.fill("input[name=username]", "bench")
        page.fill("input[name=password]", "correct-horse")
        page.click("button[type=submit].btn")
        page.wait_for_url(f"{base}/")
        loads = []
        for _ in range(3):
            started = time.perf_counter()
            page.goto(f"{base}/flows/big-flow")
            page.wait_for_function(
                f"window.OF && OF.editor && OF.editor.fg.graph.getNodes().length === {args.nodes}"
                " && document.querySelectorAll('#graph .x6-node').length > 0",
                timeout=60_000,
            )
            loads.append(time.perf_counter() - started)
        # Each frame pans; with a zoom step every `zoom_every` frames (0: never).
        gestures = {"pan": 0, "zoom": 1, "pan + zoom every 10th frame": 10}
        measured = {
            name: page.evaluate(
                """([seconds, zoomEvery]) => new Promise((done) => {
                    const g = OF.editor.fg.graph; const out = []; let last = performance.now();
                    const end = last + seconds * 1000; let i = 0;
                    function tick(now) {
                      out.push(now - last); last = now; i++;
                      if (zoomEvery !== 1) g.translateBy(i % 60 < 30 ? 12 : -12, i % 40 < 20 ? 5 : -5);
                      if (zoomEvery && i % zoomEvery === 0) g.zoom(i % (2 * zoomEvery) === 0 ? 0.1 : -0.1);
                      if (now < end) requestAnimationFrame(tick); else done(out.slice(1));
                    }
                    requestAnimationFrame(tick);
                })""",
                [args.seconds, every],
            )
            for name, every in gestures.items()
        }
        browser.close()
    print(
        f"flow: {args.nodes} nodes, {len(doc['edges'])} edges (validation errors: {len(unconnected)})"
    )
    print(
        f"load to interactive canvas: best {min(loads) * 1000:.0f} ms, median {statistics.median(loads) * 1000:.0f} ms over {len(loads)} loads"
    )
    p95s = {}
    for name, frames in measured.items():
        frames.sort()
        p95s[name] = frames[int(len(frames) * 0.95) - 1]
        print(
            f"{name}: {len(frames)} frames in {args.seconds:.1f} s, mean {statistics.mean(frames):.1f} ms, p95 {p95s[name]:.1f} ms, worst {frames[-1]:.1f} ms"
        )
    p95 = p95s["pan + zoom every 10th frame"]  # the verdict's gesture, as a user drives it
    load_ok = statistics.median(loads) * 1000 <= LOAD_TARGET_MS
    frames_ok = p95 <= FRAME_P95_TARGET_MS
    print(
        f"load median <= {LOAD_TARGET_MS} ms: {'ok' if load_ok else 'TARGET MISSED'}; "
        f"frame p95 <= {FRAME_P95_TARGET_MS:.1f} ms (two 60 Hz frames): {'ok' if frames_ok else 'TARGET MISSED'}"
    )
    if not (load_ok and frames_ok):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
