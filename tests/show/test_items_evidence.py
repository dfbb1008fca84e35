"""The scorecard's per-item evidence of an eval-set pilot: worst failures, the items a candidate
and the baseline answer differently (who was right), reviewer agreement; bounded and escaped."""

from __future__ import annotations

import re

import pandas as pd

from workbench.measure.review import Agreement
from workbench.show.items_report import disagreement_rows, item_evidence_html, worst_failures


def _rows(outputs: list[str | None], expected: list[str], latency: list[float], errors: list[str | None]) -> pd.DataFrame:
    return pd.DataFrame({"item_id": [f"i{k:02d}" for k in range(len(outputs))], "expected": expected, "output": outputs,
                         "correct": [o == e for o, e in zip(outputs, expected, strict=True)], "latency_ms": latency,
                         "error": errors})


EXPECTED = ["a", "a", "b", "b", "a", "b"]
CANDIDATE = _rows(["a", "b", None, "b", "b", "b"], EXPECTED, [1.0, 5.0, 9.0, 2.0, 7.0, 3.0],
                  [None, None, "TimeoutError: no answer within 1s", None, None, None])
BASELINE = _rows(["a", "a", "a", "a", "a", "a"], EXPECTED, [0.1] * 6, [None] * 6)


def test_worst_failures_put_errors_first_then_wrong_answers_slowest_first_bounded() -> None:
    worst = worst_failures(CANDIDATE)
    assert list(worst.item_id) == ["i02", "i04", "i01"]  # the error, then wrong by latency 7 > 5
    assert list(worst_failures(CANDIDATE, n=2).item_id) == ["i02", "i04"]


def test_disagreements_say_who_was_right_the_baselines_wins_first() -> None:
    shown, counts = disagreement_rows(CANDIDATE, BASELINE)
    # differ on i01 and i04 (baseline right), i03 and i05 (candidate right), i02 (candidate errored, baseline wrong)
    assert counts == {"baseline": 2, "candidate": 2, "neither": 1, "both": 0}
    assert list(zip(shown.item_id, shown.right)) == [("i01", "baseline"), ("i04", "baseline"), ("i03", "candidate"),
                                                     ("i05", "candidate"), ("i02", "neither")]
    assert len(disagreement_rows(CANDIDATE, BASELINE, n=2)[0]) == 2


def test_the_section_escapes_every_value_and_reports_agreement_per_model() -> None:
    texts = {"i01": "<script>alert(1)</script> refund please", "i04": "x" * 500}
    evil = CANDIDATE.assign(output=CANDIDATE.output.where(CANDIDATE.item_id != "i04", "<b>b</b>"))
    agreements = {"cand": Agreement(candidate="cand", labelled=5, unsure=1, compared=4, agree=3, reviewers=2,
                                    metric_correct_reviewer_wrong=1, metric_wrong_reviewer_correct=0, kappa=0.5)}
    html = item_evidence_html({"rule": BASELINE, "cand": evil}, baseline="rule", texts=texts, agreements=agreements)
    assert "<script>" not in html and "&lt;script&gt;" in html and "<b>b</b>" not in html and "&lt;b&gt;b&lt;/b&gt;" in html
    assert "x" * 200 not in html  # inputs are excerpts
    assert "cand and rule: items answered differently" in html
    assert "TimeoutError: no answer within 1s" in html and "(no answer)" in html
    review = html[html.index('id="review"'):]
    row = re.search(r"<tr><td>cand</td>(.*?)</tr>", review).group(1)
    assert "75% (3 of 4)" in row and "0.50" in row
    none = item_evidence_html({"rule": BASELINE}, baseline="rule", texts=None, agreements={})
    assert "No reviewer labels for these runs yet" in none and "answered differently" not in none


def test_an_email_in_an_expected_value_or_an_answer_is_withheld_like_the_inputs_one(tmp_path) -> None:  # noqa: ANN001
    """An extractor's answers hold what its inputs held: the scorecard masks the input text, so
    the expected value and each model's answer beside it are masked the same way."""
    from types import SimpleNamespace

    from workbench.show.items_report import disagreements, eval_inputs, masked

    expected = ['{"email": "ada@example.org"}', '{"email": "bob@example.org"}']
    cand = _rows(['{"email": "ada@example.org"}', '{"email": "ann@example.net"}'], expected, [1.0, 2.0], [None, None])
    base = _rows(['{"email": null}', '{"email": null}'], expected, [1.0, 1.0], [None, None])

    # what eval_inputs reads of a charter; no warehouse yet, so only the patterns can be withheld
    charter = SimpleNamespace(warehouse_path=tmp_path / "none.duckdb",
                              eval_set=SimpleNamespace(source="t", id="item_id", inputs=["text"]))
    texts, note, mask = eval_inputs(charter)
    assert texts is None and note.startswith("Inputs not shown")
    html = item_evidence_html({"b": base, "cand": cand}, baseline="b", texts={"i01": "from bob@example.org"},
                              agreements={}, mask=mask)
    assert "@example" not in html and "[email]" in html
    plain = item_evidence_html({"b": base, "cand": cand}, baseline="b", texts=None, agreements={})
    assert "ann@example.net" in plain  # without a mask nothing is withheld: the mask is what does it
    shown = disagreements(cand, base, texts={"i01": "write to bob@example.org"}, mask=mask)
    assert not shown.astype(str).apply(lambda c: c.str.contains("@example")).any().any(), shown
    assert shown.loc[shown.item_id == "i01", "text"].item() == "write to [email]"
    kept = masked(base.assign(output=[None, pd.NA]), mask)  # missing answers stay missing, not "None"
    assert kept.output.isna().all()
