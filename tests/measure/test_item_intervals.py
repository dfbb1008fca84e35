"""Paired intervals on eval items: a candidate minus today's way on the same items, checked
against resamples and t intervals computed here by hand, and how the gates judge them."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import t as student_t
from sklearn.metrics import f1_score

from workbench.charter.config import BaselineGate, SampleSizeGate
from workbench.charter.items import EvalSet, ItemCandidate
from workbench.decide.promotion import NO_BETTER, NO_GO, baseline_gate, outcome_of_gates, sample_size_gate
from workbench.measure import stats
from workbench.measure.items import ItemData, compare_items, retrieval_quality
from workbench.measure.items.scoring import classification_quality


def _labels(rng: np.random.Generator, truth: np.ndarray, right: float, classes: list[str]) -> list[str | None]:
    out: list[str | None] = []
    for y in truth:
        r = rng.random()
        out.append(str(y) if r < right else None if r < right + 0.03 else str(rng.choice(classes)))
    return out


def test_macro_f1_interval_is_the_percentile_of_item_resamples() -> None:
    rng = np.random.default_rng(3)
    classes = ["a", "b", "c"]
    truth = rng.choice(classes, size=300)
    cand, ref = _labels(rng, truth, 0.8, classes), _labels(rng, truth, 0.6, classes)
    got = stats.paired_macro("quality.macro_f1", truth, cand, ref, resamples=200, seed=0)
    # the point values are the scorer's own
    assert got.candidate == pytest.approx(classification_quality(list(truth), cand, classes).macro_f1)
    assert got.reference == pytest.approx(classification_quality(list(truth), ref, classes).macro_f1)
    # the same 200 resamples of the items, drawn as the bootstrap draws them, scored by scikit-learn
    draws = np.random.default_rng(0).integers(0, len(truth), size=(200, len(truth)))
    as_text = (lambda xs: np.array(["(error)" if x is None else x for x in xs]))
    c, r = as_text(cand), as_text(ref)
    diffs = [f1_score(truth[i], c[i], labels=classes, average="macro", zero_division=0)
             - f1_score(truth[i], r[i], labels=classes, average="macro", zero_division=0) for i in draws]
    lo, hi = np.quantile(diffs, [0.025, 0.975])
    assert (got.ci_low, got.ci_high) == (pytest.approx(lo), pytest.approx(hi))
    assert got.method == "bootstrap" and got.n == 300 and got.ci_low > 0  # 0.8 vs 0.6 right: surely better


def test_identical_answers_differ_by_exactly_nothing() -> None:
    truth = ["a", "b", "c", "a"] * 10
    same = stats.paired_macro("macro_f1", truth, truth, truth)
    assert (same.diff, same.ci_low, same.ci_high) == (0.0, 0.0, 0.0)


def _retrieval(n: int = 120) -> tuple[ItemData, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(5)
    es = EvalSet(source="q", id="id", inputs=["text"], expected="rel", k=[1, 5],
                 corpus={"source": "docs", "id": "doc", "text": ["title"]},
                 baseline=ItemCandidate(name="bm25", kind="bm25"),
                 candidates=[ItemCandidate(name="emb", kind="embeddings")])
    ids = [f"q{i:03d}" for i in range(n)]
    rel = [f"d{rng.integers(20)}" for _ in ids]
    items = pd.DataFrame({"id": ids, "text": [f"query {i}" for i in range(n)], "rel": rel})  # distinct inputs
    data = ItemData(spec=es, items=items, train=None, corpus=None)

    def ranked(p_first: float) -> list[str | None]:
        out: list[str | None] = []
        for r in rel:
            others = [f"d{j}" for j in rng.permutation(20)[:5] if f"d{j}" != r][:4]
            u = rng.random()
            out.append(None if u < 0.02 else "|".join([r, *others] if u < p_first else [*others[:2], r, *others[2:]]
                                                      if u < p_first + 0.2 else others))
        return out

    cand = pd.DataFrame({"item_id": ids, "output": ranked(0.5)})
    base = pd.DataFrame({"item_id": ids[::-1], "output": ranked(0.3)[::-1]})  # another order: joined on the id
    return data, cand, base


def test_retrieval_differences_are_t_intervals_on_per_query_values() -> None:
    data, cand, base = _retrieval()
    cmp = compare_items(cand, base, data, task="retrieval", candidate_name="emb",
                        metrics=["quality.mrr_at_5", "quality.hit_at_1"])
    split = (lambda frame: [o.split("|") if isinstance(o, str) else None for o in
                            frame.set_index("item_id").loc[data.ids, "output"]])
    qc = retrieval_quality(data.relevant(), split(cand), [1, 5]).values
    qb = retrieval_quality(data.relevant(), split(base), [1, 5]).values
    hit = cmp.diffs["quality.hit_at_1"]
    assert hit.diff == pytest.approx(qc["quality.hit_at_1"] - qb["quality.hit_at_1"])
    assert cmp.diffs["quality.mrr_at_5"].diff == pytest.approx(qc["quality.mrr_at_5"] - qb["quality.mrr_at_5"])
    # by hand: hit@1 per query is 1 when the first id is relevant
    first = (lambda frame: np.array([isinstance(o, str) and o.split("|")[0] == r for o, r in zip(
        frame.set_index("item_id").loc[data.ids, "output"], data.items["rel"], strict=True)], dtype=float))
    d = first(cand) - first(base)
    half = student_t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))
    assert (hit.ci_low, hit.ci_high) == (pytest.approx(d.mean() - half), pytest.approx(d.mean() + half))
    assert hit.method == "normal" and cmp.rows == 120 and cmp.class_counts is None


def _asked(data: ItemData, frames: tuple[pd.DataFrame, ...], times: int, texts: list[str] | None = None,
           ) -> tuple[ItemData, ...]:
    """The eval set (and its answer tables) with every item asked ``times`` times under new ids:
    the same input, expected answer and answer again (``texts``: the repeats' inputs)."""
    items = pd.concat([data.items.assign(id=[f"{i}-{k}" for i in data.ids]) for k in range(times)],
                      ignore_index=True)
    if texts is not None:
        items["text"] = texts
    asked = [pd.concat([f.assign(item_id=[f"{i}-{k}" for i in f["item_id"]]) for k in range(times)],
                       ignore_index=True) for f in frames]
    return (ItemData(spec=data.spec, items=items, train=None, corpus=None), *asked)


def test_an_input_asked_again_counts_once_in_the_interval_and_the_sample_size() -> None:
    # 120 queries, each asked four times (a query log's repeats, or a copy pasted twice):
    # the answers repeat, so the 480 items hold the evidence of 120, and are judged as 120
    data, cand, base = _retrieval()
    once = compare_items(cand, base, data, task="retrieval", candidate_name="emb", metrics=["quality.mrr_at_5"])
    four, cand4, base4 = _asked(data, (cand, base), 4)
    four_c = compare_items(cand4, base4, four, task="retrieval", candidate_name="emb", metrics=["quality.mrr_at_5"])
    d1, d4 = once.diffs["quality.mrr_at_5"], four_c.diffs["quality.mrr_at_5"]
    assert d4.diff == pytest.approx(d1.diff) and d4.n == 120 and d4.items == 480 and d1.items is None
    assert (d4.ci_low, d4.ci_high) == (pytest.approx(d1.ci_low), pytest.approx(d1.ci_high))
    assert four_c.rows == 480 and four_c.heldout_rows == 120 and four_c.repeats == 360
    assert any("480 eval items ask 120 distinct inputs" in n for n in four_c.notes)
    # an input typed again with other case, spacing or punctuation is the same input
    texts = [t if k % 2 else f"  {t.upper()}?" for k in range(4) for t in data.items["text"]]
    typed, cand_t, base_t = _asked(data, (cand, base), 4, texts)
    assert compare_items(cand_t, base_t, typed, task="retrieval", candidate_name="emb").heldout_rows == 120
    assert "(120 distinct inputs" in typed.summary()
    # the sample-size gate counts the distinct inputs, and says so
    logged = {"heldout.rows": 120.0, "heldout.repeats": 360.0}
    short = sample_size_gate(SampleSizeGate(kind="sample_size", min_rows=200), logged, task_kind="retrieval")
    assert not short.passed and short.reason.startswith("too few eval items to judge any difference: 120 distinct "
                                                        "eval inputs (480 items, 360 asking an input again)")
    ok = sample_size_gate(SampleSizeGate(kind="sample_size"), logged, task_kind="retrieval")
    assert ok.passed and ok.reason.startswith("120 distinct eval inputs (480 items with repeats)")


def test_grouped_intervals_equal_those_on_the_distinct_inputs_and_ungrouped_ones_are_unchanged() -> None:
    rng = np.random.default_rng(11)
    a, b = rng.random(150), rng.random(150)
    plain = stats.paired_values("token_f1", a, b)
    assert stats.paired_values("token_f1", a, b, groups=np.arange(150)) == plain  # one item per input
    # each input asked 3 times: the interval on the 150 distinct values, by hand
    grouped = stats.paired_values("token_f1", np.repeat(a, 3), np.repeat(b, 3), groups=np.repeat(np.arange(150), 3))
    d = a - b
    half = student_t.ppf(0.975, 149) * d.std(ddof=1) / math.sqrt(150)
    assert (grouped.ci_low, grouped.ci_high) == (pytest.approx(d.mean() - half), pytest.approx(d.mean() + half))
    assert grouped.n == 150 and grouped.items == 450
    # inputs asked unevenly: the cluster-robust variance (sum of each input's summed deviations squared)
    sizes = rng.integers(1, 6, size=60)
    g = np.repeat(np.arange(60), sizes)
    x, y = rng.random(len(g)), rng.random(len(g))
    got = stats.paired_values("token_f1", x, y, groups=g)
    dev = np.bincount(g, weights=(x - y) - (x - y).mean())
    se = math.sqrt(60 / 59 * (dev @ dev)) / len(g)
    assert got.ci_high - got.diff == pytest.approx(student_t.ppf(0.975, 59) * se)
    # a macro average: the bootstrap draws inputs with their repeats, the same draws as on the distinct items
    classes = ["a", "b", "c"]
    truth = rng.choice(classes, size=200)
    cand, ref = _labels(rng, truth, 0.75, classes), _labels(rng, truth, 0.65, classes)
    distinct = stats.paired_macro("macro_f1", truth, cand, ref, seed=4)
    rep = (lambda xs: [v for v in xs for _ in range(3)])
    again = stats.paired_macro("macro_f1", rep(truth), rep(cand), rep(ref), seed=4,
                               groups=np.repeat(np.arange(200), 3))
    assert (again.diff, again.ci_low, again.ci_high) == (pytest.approx(distinct.diff), pytest.approx(distinct.ci_low),
                                                         pytest.approx(distinct.ci_high))
    assert again.n == 200 and again.items == 600
    ungrouped = stats.paired_macro("macro_f1", rep(truth), rep(cand), rep(ref), seed=4)
    assert ungrouped.ci_high - ungrouped.ci_low < 0.75 * (distinct.ci_high - distinct.ci_low)  # what it overstated


def test_a_baseline_that_missed_items_is_no_paired_comparison() -> None:
    from workbench.errors import EvaluationError

    data, cand, base = _retrieval()
    with pytest.raises(EvaluationError, match="answered 119 of the 120 eval items"):
        compare_items(cand, base.iloc[1:], data, task="retrieval", candidate_name="emb")


def _gate(cmp: object, margin: float) -> object:
    gate = BaselineGate(kind="vs_baseline", metric="quality.macro_f1", min_relative_improvement=margin)
    d = cmp.to_dict()  # type: ignore[attr-defined]
    m = d["metrics"]["quality.macro_f1"]
    return baseline_gate(gate, {"quality.macro_f1": m["candidate"]}, {"quality.macro_f1": m["reference"]},
                         comparison=d)


def _classification(n: int, right_c: float, right_b: float, seed: int = 1):
    rng = np.random.default_rng(seed)
    classes = ["long label one", "two", "three", "four", "five"]
    truth = [str(x) for x in rng.choice(classes, size=n)]
    es = EvalSet(source="t", id="id", inputs=["text"], expected="y",
                 baseline=ItemCandidate(name="rule", kind="rule", default="two"),
                 candidates=[ItemCandidate(name="lr", kind="sklearn")])
    ids = [f"i{i}" for i in range(n)]
    data = ItemData(spec=es, items=pd.DataFrame({"id": ids, "text": [f"item {i}" for i in range(n)], "y": truth}),
                    train=None, corpus=None)
    frame = (lambda out: pd.DataFrame({"item_id": data.ids, "output": out}))
    answers = (lambda right: frame(_labels(rng, np.array(truth), right, classes)))
    return data, answers(right_c), answers(right_b)


def test_go_needs_the_lower_bound_past_the_margin_a_tie_is_no_better_and_worse_is_no_go() -> None:
    data, better, base = _classification(600, 0.85, 0.6)
    cmp = compare_items(better, base, data, task="text-classification", candidate_name="lr")
    assert cmp.class_counts is not None and sum(cmp.class_counts.values()) == 600
    assert _gate(cmp, 0.05).passed  # far better: the whole interval clears 5 %
    # a hair better on few items: the margin sits inside the interval -> a tie, "no better than today"
    data, close, base = _classification(150, 0.62, 0.6, seed=2)
    tie = _gate(compare_items(close, base, data, task="text-classification", candidate_name="lr"), 0.05)
    assert not tie.passed and tie.tie and "no better than today" in tie.reason
    assert outcome_of_gates([tie]) == NO_BETTER
    # surely worse: NO-GO, and the reason says so
    data, worse, base = _classification(600, 0.5, 0.8, seed=3)
    bad = _gate(compare_items(worse, base, data, task="text-classification", candidate_name="lr"), 0.0)
    assert not bad.passed and not bad.tie and "worse than today" in bad.reason and bad.ci_high < 0
    assert outcome_of_gates([bad]) == NO_GO


def test_sample_size_counts_eval_items_of_every_class() -> None:
    data, cand, base = _classification(200, 0.8, 0.6)
    cmp = compare_items(cand, base, data, task="text-classification", candidate_name="lr")
    metrics = {"heldout.rows": 200.0}
    ok = sample_size_gate(SampleSizeGate(kind="sample_size", min_per_class=30), metrics,
                          task_kind="text-classification", class_counts=cmp.class_counts)
    assert ok.passed and "200 eval items (5 classes" in ok.reason
    rare = min(cmp.class_counts, key=cmp.class_counts.get)  # type: ignore[arg-type]
    short = sample_size_gate(SampleSizeGate(kind="sample_size", min_per_class=60), metrics,
                             task_kind="text-classification", class_counts=cmp.class_counts)
    assert not short.passed and any(d.startswith(f"{cmp.class_counts[rare]} {rare} item(s)") for d in short.details)
    # without counts per class a text classification cannot be judged
    assert not sample_size_gate(SampleSizeGate(kind="sample_size"), metrics, task_kind="text-classification").passed


def test_slices_of_an_eval_set_are_judged_on_paired_intervals_not_point_values() -> None:
    # a candidate better overall, much worse on short texts (300 items: surely worse), a point
    # dip within the noise on the 60 emoji items (no longer a NO-GO by itself)
    from workbench.charter.config import SlicesGate
    from workbench.decide.promotion import slices_gate

    rng = np.random.default_rng(7)
    classes = ["pos", "neg"]
    length = np.array(["long"] * 900 + ["short"] * 300 + ["emoji"] * 60)
    truth = rng.choice(classes, size=len(length))
    es = EvalSet(source="t", id="id", inputs=["text"], expected="y", slices=["length"],
                 baseline=ItemCandidate(name="rule", kind="rule", default="pos"),
                 candidates=[ItemCandidate(name="lr", kind="sklearn")])
    ids = [f"i{i}" for i in range(len(length))]
    data = ItemData(spec=es, items=pd.DataFrame({"id": ids, "text": ids, "y": truth, "length": length}),
                    train=None, corpus=None)
    right_c = np.select([length == "long", length == "short"], [0.9, 0.5], 0.72)
    right_b = np.select([length == "long", length == "short"], [0.6, 0.8], 0.75)
    answer = (lambda right: [t if rng.random() < p else ("neg" if t == "pos" else "pos")
                             for t, p in zip(truth, right, strict=True)])
    cmp = compare_items(pd.DataFrame({"item_id": ids, "output": answer(right_c)}),
                        pd.DataFrame({"item_id": ids, "output": answer(right_b)}), data,
                        task="text-classification", candidate_name="lr", metrics=["quality.macro_f1"])
    by_key = {s.key: s for s in cmp.slices}
    assert set(by_key) == {"length.long", "length.short", "length.emoji"}
    assert by_key["length.short"].diff.ci_high < -0.05 and by_key["length.long"].diff.ci_low > 0
    assert by_key["length.emoji"].rows == 60 and by_key["length.emoji"].smallest_class < 30
    gate = SlicesGate(name="no_slice_regression", kind="slices", metric="quality.macro_f1", margin=0.05, min_rows=50)
    result = slices_gate(gate, {}, champion=None, champion_version=None, baseline={}, comparison=cmp.to_dict(),
                         unit="items")
    assert not result.passed and "95 % paired intervals" in result.reason
    assert "1 of 3 slice(s) with at least 50 items may be worse" in result.reason
    assert result.details[0].startswith("length.short: difference -")
    assert not any(d.startswith("length.emoji:") for d in result.details)  # thin, and not surely worse
