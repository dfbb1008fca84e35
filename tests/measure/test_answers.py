"""Answer pilots (``task.kind: answer``, document Q&A): the metrics on hand-computed examples,
paired intervals and groundedness by evidence, charter errors, and a retrieval-augmented LLM
candidate against the real local server (tests/llm_server.py) that never sends a personal value."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.charter.config import CostModel, load_charter
from workbench.charter.items import EvalSet, ItemCandidate
from workbench.errors import ConfigError
from workbench.measure import metrics, stats
from workbench.measure.items import ItemData, compare_items, fit_item_model, run_items
from workbench.measure.items.answers import answer_per_item, answer_quality, facts_found, normalize_answer

# a tiny corpus: one passage per topic; d4 names a customer (a personal value the eval set knows,
# and the one customer whose question is about d4: retrieval reads the raw question, locally)
CORPUS = {
    "d1": "Refunds are paid within 14 days after the parcel returns to our warehouse.",
    "d2": "Parcels to Norway arrive in 5 working days by courier.",
    "d3": "Kettles carry a warranty of 2 years from the date of purchase.",
    "d4": "The help desk answers calls Monday to Friday. Tomasz Kowalczyk leads it.",
}
QUESTIONS = [  # (question, reference answer, facts, source)
    ("How many days until refunds are paid?", "Within 14 days.", "14 days", "d1"),
    ("How long do parcels to Norway take?", "5 working days", "5 working days", "d2"),
    ("What warranty do kettles carry?", "2 years", "2 years|warranty", "d3"),
    ("Which days does the help desk answer calls?", "Monday to Friday", "Monday|Friday", "d4"),
]
CUSTOMERS = ["Margarethe Oberhuber", "Jonas Wiedemeyer", "Priya Raghunathan", "Tomasz Kowalczyk"]
EMAILS = ["m.oberhuber@example.org", "jonas.w@example.org", "priya@example.org", "tk@example.org"]
# a lookup "today": the answer of the passage whose distinctive word the question names
LOOKUP = '''
ANSWERS = {"refund": ("Within 14 days", "d1"), "norway": ("5 working days", "d2"),
           "kettle": ("2 years warranty", "d3"), "desk": ("Monday to Friday", "d4")}

def answer(item):
    q = item["question"].lower()
    for word, (text, source) in ANSWERS.items():
        if word in q:
            return {"answer": text, "sources": [source]}
    return ""
'''


def _data(candidate: ItemCandidate, *, n: int = 4, facts: bool = True) -> ItemData:
    es = EvalSet(source="qa", id="id", inputs=["question"], expected="answer",
                 facts="facts" if facts else None, sources="sources", separator="|",
                 corpus={"source": "docs", "id": "doc_id", "text": ["text"]},
                 baseline=ItemCandidate(name="canned", kind="rule", default="Please see our help pages",
                                        rules=[{"pattern": "(?i)refund", "label": "within 14 days"}]),
                 candidates=[candidate])
    rows = [QUESTIONS[i % len(QUESTIONS)] for i in range(n)]
    items = pd.DataFrame({
        "id": [f"q{i:02d}" for i in range(n)],
        # each question names its customer and e-mail: neither may reach the endpoint; its ticket
        # makes it a question of its own (the same text asked again would count once)
        "question": [f"{CUSTOMERS[i % 4]} ({EMAILS[i % 4]}) asks (ticket {i}): {q}"
                     for i, (q, *_rest) in enumerate(rows)],
        "answer": [a for _, a, _, _ in rows], "facts": [f for _, _, f, _ in rows], "sources": [s for *_, s in rows]})
    corpus = pd.DataFrame({"id": list(CORPUS), "text": list(CORPUS.values())})
    return ItemData(spec=es, items=items, train=None, corpus=corpus,
                    personal=pd.DataFrame({"customer": [CUSTOMERS[i % 4] for i in range(n)]}))


# -- no server needed --------------------------------------------------------------------------


def test_answer_metrics_on_hand_computed_examples() -> None:
    assert normalize_answer("The  Eiffel-Tower, in PARIS!") == "eiffel tower in paris"
    assert facts_found(["14 days", "refund", "4 days"], "A refund is paid in 14 days.") == [True, True, False]
    reference = ["Within 14 days.", "5 working days", "2 years", "Monday to Friday"]
    outputs = [
        "Within 14 days.",  # exact
        {"answer": "five working days", "sources": ["d1", "d2"]},  # tokens: working, days of 3 ("5" missing)
        None,  # an error: wrong on every metric
        {"answer": "The desk opens Monday; closed on Friday", "sources": ["d1"]},  # both facts, wrong source
    ]
    facts = [["14 days"], ["5 working days"], ["2 years", "warranty"], ["Monday", "Friday"]]
    sources = [{"d1"}, {"d2"}, {"d3"}, set()]  # the last item has no expected source: not judged
    q = answer_quality(reference, outputs, facts=facts, sources=sources)
    m = q.metrics()
    assert m["quality.exact_match"] == 0.25 and m["quality.normalized_exact_match"] == 0.25
    # token F1: 1; 2·(2/3)(2/3)/(4/3) = 2/3; 0; "monday to friday" vs "desk opens monday closed on friday": 2/3, 2/6
    f1_last = 2 * (2 / 6) * (2 / 3) / (2 / 6 + 2 / 3)
    assert m["quality.token_f1"] == pytest.approx((1 + 2 / 3 + 0 + f1_last) / 4)
    assert m["quality.facts_recall"] == pytest.approx((1 + 0 + 0 + 1) / 4) and m["quality.all_facts"] == 0.5
    # groundedness: item 1 answered without sources (0), item 2 cited d2 (1), item 3 an error (0)
    assert m["quality.groundedness"] == pytest.approx(1 / 3) and q.judged["quality.groundedness"] == 3
    assert m["items.errors"] == 1
    # a model that cites nothing has no groundedness at all (not a 0 to beat)
    assert "groundedness" not in answer_per_item(reference, ["x"] * 4, sources=sources)
    for name in ("exact_match", "normalized_exact_match", "token_f1", "facts_recall", "all_facts", "groundedness"):
        info = metrics.info(f"quality.{name}")
        assert info is not None and info.direction == "higher" and info.applies_to("answer"), name
        assert stats.item_method_for(name) == "normal"


def test_a_callable_against_a_rule_paired_item_by_item_with_groundedness(tmp_path: Path) -> None:
    (tmp_path / "lookup.py").write_text(LOOKUP)
    cand = ItemCandidate(name="lookup", kind="callable", function="lookup:answer")
    data = _data(cand, n=40)
    rule = run_items(fit_item_model(data.spec.baseline, data, "answer"), data, cost=CostModel())
    canned = ItemCandidate(name="canned", kind="rule", default="Please see our help pages")
    assert fit_item_model(canned, data, "answer").constant  # one reply for all: a guess (decision notes say so)
    assert not fit_item_model(data.spec.baseline, data, "answer").constant  # a rule for refunds answers otherwise
    look = run_items(fit_item_model(cand, data, "answer", root=tmp_path), data, cost=CostModel())
    r, c = rule.metrics(), look.metrics()
    assert "quality.groundedness" not in r and c["quality.groundedness"] == 1.0  # every cited id is the source
    # exact: "5 working days", "Monday to Friday"; normalized also "Within 14 days" (its full stop)
    assert c["quality.all_facts"] == 1.0 and c["quality.exact_match"] == 0.5
    assert c["quality.normalized_exact_match"] == 0.75
    assert r["quality.normalized_exact_match"] == 0.25 and r["quality.facts_recall"] == pytest.approx(0.25)
    assert look.items["sources"].tolist()[:4] == ["d1", "d2", "d3", "d4"] and look.items["correct"].all()
    # paired on the same items, through the logged tables (sources column included)
    comp = compare_items(look.items, rule.items, data, task="answer", candidate_name="lookup",
                         metrics=["quality.token_f1", "quality.facts_recall", "quality.groundedness"])
    f1 = comp.diffs["quality.token_f1"]
    assert f1.diff == pytest.approx(c["quality.token_f1"] - r["quality.token_f1"]) and f1.ci_low > 0
    assert comp.diffs["quality.facts_recall"].diff == pytest.approx(0.75)
    assert any(n.startswith("groundedness") for n in comp.notes)  # the rule cites nothing: no pair to take
    # an empty answer is an error, scored wrong and kept for review
    (tmp_path / "blank.py").write_text("def answer(item):\n    return '  '\n")
    blank = run_items(fit_item_model(ItemCandidate(name="blank", kind="callable", function="blank:answer"), data,
                                     "answer", root=tmp_path), data, cost=CostModel())
    assert blank.metrics()["items.error_rate"] == 1.0 and blank.items["error"].str.contains("empty answer").all()


CHARTER = """\
name: qa
owner: support-lead@team.internal
question: Can an assistant answer customers' questions from the help pages?
primary_metric: quality.token_f1
task: {{kind: {kind}, target: answer}}
sources:
  qa: {{path: qa.jsonl, format: jsonl, columns: {{id: VARCHAR, question: VARCHAR, answer: VARCHAR, facts: VARCHAR,
       sources: VARCHAR}}}}
eval_set:
  source: qa
  id: id
  inputs: [question]
  expected: answer
  facts: facts
  baseline: {{name: canned, kind: rule, default: see the help pages}}
  candidates:
    - {{name: smollm, kind: llm, base_url: "http://127.0.0.1:9/v1", model: m, prompt: p.txt,
       retrieve: {{candidate: bm25, k: 2}}}}
steps:
  - {{name: baseline, role: baseline, notebook: nb.ipynb}}
"""


def test_answer_blocks_in_the_charter_fail_with_their_key_path(tmp_path: Path) -> None:
    path = tmp_path / "pilot.yaml"
    path.write_text(CHARTER.format(kind="answer"))
    with pytest.raises(ConfigError, match=r"key eval_set\.candidates\[0\]\.retrieve\): candidate 'smollm' retrieves "
                       "passages, but the eval set declares no `corpus"):
        load_charter(path, check_files=False)
    path.write_text(CHARTER.format(kind="text-classification").replace(
        "       retrieve: {candidate: bm25, k: 2}}", "       }"))
    with pytest.raises(ConfigError, match=r"key eval_set\.facts\): `facts:` is for `task.kind: answer`"):
        load_charter(path, check_files=False)
    path.write_text(CHARTER.format(kind="answer").replace("       retrieve: {candidate: bm25, k: 2}}", "       }")
                    + "gates: [{name: judged, kind: threshold, metric: quality.judge_score, op: '>=', value: 0.5}]\n")
    with pytest.raises(ConfigError, match=r"key gates\[0\]\.metric\): gate 'judged' names an LLM judge's score, "
                       "but the eval set declares no `judge:`"):
        load_charter(path, check_files=False)
    path.write_text(CHARTER.format(kind="answer").replace("candidate: bm25", "candidate: sklearn"))
    with pytest.raises(ConfigError, match=r"candidates\[0\]\.retrieve\.candidate\): .*`bm25` or `embeddings`"):
        load_charter(path, check_files=False)


# -- against the real server -------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    from llm_server import LlamaServer, Proxy, require_llm_extra

    srv = LlamaServer(require_llm_extra(), tmp_path_factory.mktemp("llama") / "server.log")
    proxy = Proxy(srv.base_url)
    yield srv, proxy
    proxy.stop()
    srv.stop()


PROMPT = "Answer from the passages.\n{passages}\nQuestion: {question}\nAnswer:"


@pytest.mark.llm
def test_a_retrieval_augmented_llm_answers_from_redacted_passages(tmp_path: Path, server) -> None:
    _, proxy = server
    proxy.reset()
    cand = ItemCandidate(name="smollm", kind="llm", base_url=proxy.base_url, model="smollm2-135m", prompt="p.txt",
                         params={"temperature": 0.0, "max_tokens": 12, "seed": 3}, timeout_seconds=60,
                         prices={"input_per_1k_usd": 0.5, "output_per_1k_usd": 1.5},
                         retrieve={"candidate": "bm25", "k": 1})
    (tmp_path / "p.txt").write_text(PROMPT)
    data = _data(cand)
    model = fit_item_model(cand, data, "answer", root=tmp_path)
    run = run_items(model, data, cost=CostModel())
    received = proxy.text_received()
    assert len(proxy.received) == len(data.items)
    # neither the item's name and e-mail nor the name inside passage d4 reached the server
    leaked = [p for p in [*CUSTOMERS, *EMAILS, "Kowalczyk"] if p in received]
    assert not leaked, leaked
    assert "[name]" in received and "[email]" in received and run.metrics()["llm.redactions"] >= 9
    # BM25 finds each question's own passage (distinct words); the prompt carried it, and
    # groundedness is computed from those retrieved ids
    assert run.items["sources"].tolist() == ["d1", "d2", "d3", "d4"]
    bodies = [b["messages"][0]["content"] for b in proxy.received]  # in the order the calls went out
    for (question, *_), source in zip(QUESTIONS, run.items["sources"], strict=True):
        assert [b for b in bodies if question in b and f"[{source}] {CORPUS[source][:20]}" in b]
    answered = run.items["error"].isna()
    assert run.metrics()["quality.groundedness"] == pytest.approx(answered.mean())
    assert run.params["llm.retrieve"].startswith("smollm_retriever: BM25") and run.params["llm.prompt_sha256"]
    # free text: whatever the model said, stripped, is the answer (or an error, kept for review)
    assert all(o is None or (o == o.strip() and o) for o in run.items["output"])
    assert "Kowalczyk" not in json.dumps(run.to_dict()) + run.items.to_json()
    # a rerun asks nothing: the rendered prompts (passages included) are the cache keys
    again = run_items(fit_item_model(cand, data, "answer", root=tmp_path), data, cost=CostModel())
    assert len(proxy.received) == len(data.items) and again.metrics()["llm.calls"] == 0
    assert np.array_equal(again.items["sources"], run.items["sources"])


PILOT = """\
name: helpdesk
owner: support-lead@team.internal
question: Can an assistant answer customers' questions from the help pages better than today's canned reply?
primary_metric: quality.token_f1
task: {{kind: answer, target: answer}}
sources:
  qa: {{path: qa.jsonl, format: jsonl, columns: {{id: VARCHAR, question: VARCHAR, answer: VARCHAR, facts: VARCHAR,
       sources: VARCHAR, topic: VARCHAR}}}}
  docs: {{path: docs.jsonl, format: jsonl, columns: {{doc_id: VARCHAR, text: VARCHAR}}}}
eval_set:
  source: qa
  id: id
  inputs: [question]
  expected: answer
  facts: facts
  sources: sources
  slices: [topic]
  min_slice_items: 5
  corpus: {{source: docs, id: doc_id, text: [text]}}
  baseline: {{name: canned, kind: rule, default: Please see our help pages,
              rules: [{{pattern: '(?i)refund', label: Within 14 days}}]}}
  candidates:
    - {{name: lookup, kind: callable, function: "lookup:answer"}}
    - {{name: smollm, kind: llm, base_url: "{url}", model: smollm2-135m, prompt: prompt.txt, timeout_seconds: 60,
       params: {{temperature: 0.0, max_tokens: 8, seed: 3}}, prices: {{input_per_1k_usd: 0.5, output_per_1k_usd: 1.5}},
       retrieve: {{candidate: bm25, k: 2}}}}
steps:
  - {{name: baseline, role: baseline, notebook: {nb}/items_baseline.ipynb}}
  - {{name: evaluate, role: evaluate, notebook: {nb}/items_evaluate.ipynb}}
gates:
  - {{name: beats_canned_reply, kind: vs_baseline, metric: quality.token_f1, min_relative_improvement: 0.1}}
  - {{name: facts_present, kind: threshold, metric: quality.all_facts, op: ">=", value: 0.8}}
  - {{name: few_errors, kind: threshold, metric: items.error_rate, op: "<=", value: 0.05}}
  - {{kind: sample_size, min_rows: 20}}
promotion: {{model_name: helpdesk}}
production:
  on_call: support-oncall@team.internal
  service_levels: {{latency_p95_ms: 100, cost_per_1k_usd: 1.0}}
  monitoring: {{input_psi: 0.2, prediction_psi: 0.2, min_quality: 0.5, max_fallback_share: 0.05}}
  rollback: {{quality_breaches: 2}}
"""
ASK = ["{q}", "Please tell me: {q}", "Quick question. {q}", "{q} Thanks!", "Hello, {q}", "I wonder: {q}"]


@pytest.mark.llm
@pytest.mark.slow
def test_an_answer_pilot_with_a_retrieving_llm_reaches_a_decision(tmp_path: Path, server) -> None:
    from workbench.steps.runner import run_pilot
    from workbench.store.tracking import Store

    _, proxy = server
    proxy.reset()
    rows = [{"id": f"q{i:02d}", "question": ask.format(q=q) + f" ({EMAILS[i % 4]})", "answer": a, "facts": f,
             "sources": s, "topic": s} for i, (ask, (q, a, f, s)) in
            enumerate((ask, row) for ask in ASK for row in QUESTIONS)]
    (tmp_path / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    docs = "".join(json.dumps({"doc_id": k, "text": v}) + "\n" for k, v in CORPUS.items())
    (tmp_path / "docs.jsonl").write_text(docs)
    (tmp_path / "lookup.py").write_text(LOOKUP)
    (tmp_path / "prompt.txt").write_text(PROMPT)
    nb = (Path(__file__).resolve().parents[2] / "notebooks").as_posix()
    (tmp_path / "pilot.yaml").write_text(PILOT.format(url=proxy.base_url, nb=nb))
    result = run_pilot(load_charter(tmp_path / "pilot.yaml"))
    decision = result.decision
    assert decision.outcome == "go" and decision.candidate == "lookup", decision.summary()
    gates = {g.name: g for g in decision.gates}
    assert gates["beats_canned_reply"].passed and gates["beats_canned_reply"].ci_low is not None
    assert not [n for n in decision.notes if "is a constant" in n]  # its rule answers refunds otherwise
    assert len(proxy.received) == len(rows) and "@example.org" not in proxy.text_received()
    store = Store.for_project(tmp_path, scope="helpdesk")
    smollm = store.get_run(decision.evidence["candidates"]["smollm"])
    # groundedness from the retrieved ids: BM25 (k=2) finds each question's own passage
    table = json.loads(store.download_text(smollm.info.run_id, "items/smollm.json"))
    sources = [row[table["columns"].index("sources")] for row in table["data"]]
    assert all(s.split("|")[0] == r["sources"] for s, r in zip(sources, rows, strict=True))
    answered = sum(row[table["columns"].index("error")] is None for row in table["data"])
    assert smollm.data.metrics["quality.groundedness"] == pytest.approx(answered / len(rows))
    assert smollm.data.params["llm.retrieve"].startswith("smollm_retriever: BM25")


JUDGE = "Question: {input}\nReference: {reference}\nAnswer: {response}\nIs the answer correct or wrong? One word:"


@pytest.mark.llm
def test_an_llm_judge_is_recorded_and_sees_no_personal_data(tmp_path: Path, server) -> None:
    from workbench.charter.items import Judge

    _, proxy = server
    proxy.reset()
    (tmp_path / "lookup.py").write_text(LOOKUP)
    (tmp_path / "judge.txt").write_text(JUDGE)
    cand = ItemCandidate(name="lookup", kind="callable", function="lookup:answer")
    data = _data(cand)
    judge = Judge(base_url=proxy.base_url, model="smollm2-135m", prompt="judge.txt",
                  params={"temperature": 0.0, "max_tokens": 3, "seed": 1}, timeout_seconds=60)
    data = ItemData(spec=data.spec.model_copy(update={"judge": judge}), items=data.items, train=None,
                    corpus=data.corpus, personal=data.personal, root=tmp_path)
    run = run_items(fit_item_model(cand, data, "answer", root=tmp_path), data, cost=CostModel())
    assert len(proxy.received) == len(data.items)  # one verdict per answered item
    received = proxy.text_received()
    assert not [p for p in [*CUSTOMERS, *EMAILS] if p in received] and "Reference: Within 14 days." in received
    m = run.metrics()
    verdicts = run.items["judge"].to_numpy(dtype=float)
    judged = ~np.isnan(verdicts)
    assert m["judge.calls"] == len(data.items) and m["judge.unparsed"] == (~judged).sum()
    if judged.any():
        assert m["quality.judge_score"] == pytest.approx(verdicts[judged].mean())
    assert run.judge_params["judge.model"] == "smollm2-135m" and len(run.judge_params["judge.prompt_sha256"]) == 64
