"""Benchmark: `workbench new` on tables of growing width, the cost per column against the narrowest.

A table of ``--rows`` rows and W columns (a third numbers, a third text of a few values, a
third text of numbers with a few typos, which `new` counts and loads to locate), a binary
target; `new_pilot` in this process, after one warm-up run so imports are not counted. The
ratio is seconds a column at W over seconds a column at the narrowest W, in the same run: near
1 when the cost grows with the width, far above it when something grows faster. (Counting the
text columns with a query each, each reading the whole file, and the contract draft's FILTER
clauses grew so: mosaicData's HELPfull, 1,472 rows and 789 columns, took 51 s, now 13 s.)

    python bench/new_wide.py              # widths 30, 150, 600
    python bench/new_wide.py --widths 30 300 --rows 5000
    python bench/new_wide.py --quick      # widths 30, 150

Writes bench/results/new_wide.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results"


def _table(width: int, rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cols: dict[str, object] = {}
    for i in range(width):
        if i % 3 == 0:
            cols[f"num_{i}"] = rng.normal(size=rows).round(3)
        elif i % 3 == 1:
            cols[f"kind_{i}"] = rng.choice(["red", "green", "blue", "n/a"], rows)
        else:
            cols[f"code_{i}"] = rng.choice([f"{v}" for v in range(40)] + ["7x"], rows)
    cols["outcome"] = rng.integers(0, 2, rows)
    return pd.DataFrame(cols)


def _new(frame: pd.DataFrame, folder: Path, name: str) -> float:
    from workbench.new import new_pilot

    data = folder / f"{name}.csv"
    frame.to_csv(data, index=False)
    t0 = time.perf_counter()
    new_pilot(name, data, "outcome", pilots_dir=folder / "pilots")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--widths", type=int, nargs="+", default=[30, 150, 600])
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--quick", action="store_true", help="widths 30 and 150 only (make bench ARGS=--quick)")
    args = ap.parse_args()
    widths = sorted(w for w in args.widths if not args.quick or w <= 150)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _new(_table(widths[0], args.rows, seed=1), folder, "warmup")
        seconds = {w: _new(_table(w, args.rows), folder, f"wide{w}") for w in widths}
    per_column = {w: s / w for w, s in seconds.items()}
    first = per_column[widths[0]]
    print("| columns | rows | seconds | seconds a column | ratio to the narrowest |")
    print("|---:|---:|---:|---:|---:|")
    for w in widths:
        print(f"| {w} | {args.rows:,} | {seconds[w]:.1f} | {per_column[w]:.3f} | {per_column[w] / first:.2f} |")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "new_wide.json").write_text(json.dumps({"rows": args.rows, "seconds": seconds,
                                                         "ratio": {w: per_column[w] / first for w in widths}}, indent=2))


if __name__ == "__main__":
    main()
