"""The shipped text demos, end to end on their real data (slow): the NACE retrieval pilot, whose
candidate is worse than its baseline, ends NO-GO on that comparison's paired interval."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from workbench.charter.config import load_charter
from demos.text import extract as extract_text_demo
from workbench.steps.runner import run_pilot

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_nace_retrieval_with_a_worse_candidate_ends_no_go(tmp_path: Path) -> None:
    folder = tmp_path / "pilots" / "nace"
    shutil.copytree(ROOT / "pilots" / "nace", folder, ignore=shutil.ignore_patterns("data", "mlruns", "reports"))
    extract_text_demo("nace", folder / "data")
    text = (folder / "pilot.yaml").read_text().replace("../../notebooks", (ROOT / "notebooks").as_posix())
    (folder / "pilot.yaml").write_text(text)
    # the shipped charter as it is: can BM25 replace today's embedding search? It ranks worse.
    result = run_pilot(load_charter(folder / "pilot.yaml"))
    decision = result.decision
    assert decision.outcome == "no-go" and decision.candidate == "keyword_search"
    gate = next(g for g in decision.gates if g.name == "no_worse_than_embeddings")
    assert not gate.passed and not gate.tie  # surely worse, not a tie
    assert gate.measured < gate.reference  # worse than the baseline, not merely short of the margin
    # judged on the paired interval: even its upper end lies below the -5 % margin
    assert gate.ci_high is not None and gate.reference + gate.ci_high < gate.threshold
    assert "worse than today" in gate.reason
    # the NO-GO is that comparison's alone
    assert [g.name for g in decision.gates if not g.passed] == ["no_worse_than_embeddings"]
    # the scorecard shows the same interval
    html = (folder / "reports" / "nace-search" / f"{result.run_id}.html").read_text()
    assert "on the very same eval items" in html
    assert f"{gate.diff:+.4g} [{gate.ci_low:+.4g}, {gate.ci_high:+.4g}]" in html
    # an eval-set pilot has no split: its data section names the eval set, every item, the corpus
    import pandas as pd

    assert "No split recorded" not in html
    data = html[html.index('<section id="data">'):html.index("<h3>Contracts</h3>")]
    queries, classes = (len(pd.read_csv(folder / "data" / f)) for f in ("nace_queries.csv", "nace_classes.csv"))
    assert "<h3>Eval set</h3>" in data and "<code>nace_queries</code>" in data
    assert f">{queries}<" in data and f">{classes}<" in data and "none declared" in data


@pytest.mark.slow
def test_reviews_with_eval_items_among_the_training_items_ends_no_go(tmp_path: Path) -> None:
    import pandas as pd

    from demos.text import frame

    folder = tmp_path / "pilots" / "reviews"
    shutil.copytree(ROOT / "pilots" / "reviews", folder, ignore=shutil.ignore_patterns("data", "mlruns", "reports"))
    extract_text_demo("reviews", folder / "data")
    # the package's own training reviews, the 7 that are also eval reviews left in
    raw = frame("modeldata", "training_data").rename(columns={"rownames": "id"})
    raw[["id", "product", "review", "score"]].to_csv(folder / "data" / "reviews_train.csv", index=False)
    text = (folder / "pilot.yaml").read_text().replace("../../notebooks", (ROOT / "notebooks").as_posix())
    (folder / "pilot.yaml").write_text(text)
    decision = run_pilot(load_charter(folder / "pilot.yaml")).decision
    assert decision.outcome == "no-go"
    gate = next(g for g in decision.gates if g.name == "no_leakage")
    assert not gate.passed and "eval_set.overlap" in gate.reason
    assert any("7 of 1,000 eval items" in d for d in gate.details)
    # every other gate passes: the overlap alone holds the GO back
    assert [g.name for g in decision.gates if not g.passed] == ["no_leakage"]
    assert decision.leakage["findings"][0]["check"] == "exact duplicate"
    assert len(pd.read_csv(folder / "data" / "reviews_train.csv")) == 4000
