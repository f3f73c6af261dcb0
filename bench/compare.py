"""Run one benchmark on two commits alternately on this machine and print the ratio.

    bench/compare.sh [--runs N] [--own-bench] A B -- bench/api_bench.py --scenario single

``A`` and ``B`` are anything ``git rev-parse`` takes (a commit, a branch, ``HEAD~3``) or ``.``
for the working tree as it is. Each commit is checked out into a throw-away worktree; the
benchmark runs there with that tree's code first on ``PYTHONPATH``. By default both sides run
the benchmark scripts of ``B`` (``bench/`` copied over ``A``'s), so one measuring stick
meets two versions of the code; ``--own-bench`` runs each commit's own scripts instead.

The runs alternate A B B A A B ..., so a machine that gets busier or quieter in the middle
weighs on both sides alike. Each run's headline figures come from ``bench/figures.py``
(``record``). For every figure both sides reported, the ratio of each A/B pair is printed
as B over A where higher is better and A over B where lower is better, so a ratio above 1
always means B is faster, with the median and the spread (min-max) over the pairs. The full
output of every run is kept in the log folder printed at the start.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIGURES_ENV = "ORDERFLOW_BENCH_FIGURES"


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def _tree(ref: str, where: Path) -> tuple[Path, str]:
    """A checkout of ``ref`` (or the working tree for ``.``) and how to name it."""
    if ref == ".":
        return ROOT, "working tree"
    commit = _git("rev-parse", "--verify", f"{ref}^{{commit}}")
    _git("worktree", "add", "--detach", "--quiet", str(where), commit)
    return where, f"{ref} ({commit[:10]})"


def _run(tree: Path, command: list[str], log: Path) -> list[dict]:
    figures = log.with_suffix(".figures")
    figures.unlink(missing_ok=True)
    env = dict(os.environ, PYTHONPATH=str(tree), **{FIGURES_ENV: str(figures)})
    script, *args = command
    with log.open("w") as out:
        done = subprocess.run(
            [sys.executable, str(tree / script), *args],
            cwd=tree,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if done.returncode not in (0, 1):  # 1: a benchmark that missed its own target
        tail = log.read_text(errors="replace").splitlines()[-15:]
        raise SystemExit(f"{script} failed in {tree} (exit {done.returncode}):\n" + "\n".join(tail))
    if not figures.exists():
        return []
    return [json.loads(line) for line in figures.read_text().splitlines() if line.strip()]


def _by_name(runs: list[list[dict]]) -> dict[str, list[tuple[float, str]]]:
    out: dict[str, list[tuple[float, str]]] = {}
    for figures in runs:
        for f in figures:
            out.setdefault(f["name"], []).append((f["value"], f["better"]))
    return out


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--" not in argv:
        raise SystemExit("usage: bench/compare.sh [--runs N] [--own-bench] A B -- BENCH [ARGS]")
    split = argv.index("--")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--runs", type=int, default=3, help="runs of each side (default 3)")
    parser.add_argument("--own-bench", action="store_true", help="each side its own bench/")
    args = parser.parse_args(argv[:split])
    command = argv[split + 1 :]
    if not command:
        raise SystemExit("name the benchmark after --, e.g. -- bench/dsl_bench.py")

    work = Path(tempfile.mkdtemp(prefix="orderflow-compare-"))
    print(f"logs: {work}")
    trees: list[Path] = []
    try:
        tree_a, name_a = _tree(args.a, work / "a")
        tree_b, name_b = _tree(args.b, work / "b")
        trees = [t for t in (tree_a, tree_b) if t != ROOT]
        if not args.own_bench and tree_a != tree_b:
            shutil.copytree(tree_b / "bench", tree_a / "bench", dirs_exist_ok=True)
        results: dict[str, list[list[dict]]] = {"A": [], "B": []}
        for i in range(args.runs):
            order = ("A", "B") if i % 2 == 0 else ("B", "A")
            for side in order:
                tree = tree_a if side == "A" else tree_b
                log = work / f"{side}-{i + 1}.log"
                print(f"run {i + 1}/{args.runs} {side} ...", flush=True)
                results[side].append(_run(tree, command, log))
        _report(name_a, name_b, results)
    finally:
        for tree in trees:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                check=False,
                capture_output=True,
            )
    return 0


def _report(name_a: str, name_b: str, results: dict[str, list[list[dict]]]) -> None:
    print(f"\nA = {name_a}\nB = {name_b}")
    print("ratio > 1: B is better (B/A where higher is better, A/B where lower is better)\n")
    pairs = list(zip(results["A"], results["B"], strict=True))
    names: list[str] = []
    for figures in results["A"] + results["B"]:
        names.extend(f["name"] for f in figures if f["name"] not in names)
    if not names:
        print("The benchmark recorded no figures (bench/figures.py record); see the logs.")
        return
    width = max(len(n) for n in names)
    print(f"{'figure':<{width}}  {'A median':>12}  {'B median':>12}  {'ratio':>7}  spread")
    for name in names:
        a_values = _by_name([a for a, _ in pairs]).get(name, [])
        b_values = _by_name([b for _, b in pairs]).get(name, [])
        if len(a_values) != len(pairs) or len(b_values) != len(pairs):
            print(f"{name:<{width}}  (not reported by every run of both sides)")
            continue
        higher = a_values[0][1] == "higher"
        ratios = [
            (b / a if higher else a / b) if (a and b) else float("nan")
            for (a, _), (b, _) in zip(a_values, b_values, strict=True)
        ]
        a_med = statistics.median(v for v, _ in a_values)
        b_med = statistics.median(v for v, _ in b_values)
        print(
            f"{name:<{width}}  {_fmt(a_med):>12}  {_fmt(b_med):>12}  {statistics.median(ratios):>6.2f}x"
            f"  {min(ratios):.2f}-{max(ratios):.2f}"
        )


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


if __name__ == "__main__":
    sys.exit(main())
