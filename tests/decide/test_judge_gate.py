"""A gate on an LLM judge's score counts only once its agreement with reviewer labels is measured
on enough of the gated candidate's answers and high enough (a real MLflow store and labels
database in tmp_path)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from workbench.charter.config import load_charter
from workbench.data.item_labels import write_label
from workbench.decide.judge_gate import guard_judge_gates, judge_agreement
from workbench.decide.registry import GateResult
from workbench.store.tracking import FINISHED, Store

CHARTER = """\
name: helpdesk
owner: support-lead@team.internal
question: Can an assistant answer customers' questions?
primary_metric: quality.token_f1
task: {kind: answer, target: answer}
sources:
  qa: {path: qa.jsonl, format: jsonl, columns: {id: VARCHAR, question: VARCHAR, answer: VARCHAR}}
eval_set:
  source: qa
  id: id
  inputs: [question]
  expected: answer
  judge: {base_url: "http://127.0.0.1:9/v1", model: judge-1, prompt: judge.txt, min_items: 6, min_agreement: 0.8}
  baseline: {name: canned, kind: rule, default: see the help pages}
  candidates: [{name: mine, kind: callable, function: "mine:answer"}]
steps:
  - {name: baseline, role: baseline, notebook: nb.ipynb}
gates:
  - {name: judged_good, kind: threshold, metric: quality.judge_score, op: ">=", value: 0.5}
"""
PROMPT = "Question: {input}\nReference: {reference}\nAnswer: {response}\ncorrect or wrong?"


def test_a_judge_gate_fails_until_enough_labels_agree_with_the_judge(tmp_path: Path) -> None:
    (tmp_path / "pilot.yaml").write_text(CHARTER)
    (tmp_path / "judge.txt").write_text(PROMPT)
    charter = load_charter(tmp_path / "pilot.yaml", check_files=False)
    store = Store.for_project(tmp_path, scope=charter.name)
    verdicts = [1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0]
    run = store.start_run(charter.name, "mine")
    store.log_params(run.run_id, {"judge.model": "judge-1",
                                  "judge.prompt_sha256": hashlib.sha256(PROMPT.encode()).hexdigest()})
    table = pd.DataFrame({"item_id": [f"q{i}" for i in range(8)], "output": ["x"] * 8, "judge": verdicts})
    store.client.log_table(run.run_id, data=table, artifact_file="items/mine.json")
    store.end_run(run.run_id, FINISHED)
    gate = GateResult(name="judged_good", kind="threshold", passed=True, reason="0.62 >= 0.5",
                      metric="quality.judge_score", measured=0.62)
    other = GateResult(name="few_errors", kind="threshold", passed=True, reason="ok", metric="items.error_rate")

    def label(i: int, agree: bool, reviewer: str = "ana@team.internal") -> None:
        right = (verdicts[i] == 1.0) == agree
        write_label(charter.warehouse_path, run_id=run.run_id, candidate="mine", item_id=f"q{i}",
                    label="correct" if right else "wrong", reviewer=reviewer)

    # no labels yet: the judge's gate fails and says what to do; other gates are untouched
    guarded = guard_judge_gates((gate, other), charter, store)
    assert not guarded[0].passed and "measured on 0 labelled answer(s)" in guarded[0].reason
    assert "Label panel" in guarded[0].reason and guarded[1] == other
    # today's canned reply, judged wrong 8 times and labelled wrong 8 times: the judge agrees with people on
    # answers nobody could get wrong, which says nothing of how it scores the candidate's (pooled, it passed)
    canned = store.start_run(charter.name, "canned")
    store.log_params(canned.run_id, {"judge.model": "judge-1",
                                     "judge.prompt_sha256": hashlib.sha256(PROMPT.encode()).hexdigest()})
    store.client.log_table(canned.run_id, data=table.assign(output="see the help pages", judge=0.0),
                           artifact_file="items/canned.json")
    store.end_run(canned.run_id, FINISHED)
    for i in range(8):
        write_label(charter.warehouse_path, run_id=canned.run_id, candidate="canned", item_id=f"q{i}", label="wrong",
                    reviewer="ana@team.internal")
    assert guard_judge_gates((gate,), charter, store)[0].passed  # every candidate's labels pooled
    mine = guard_judge_gates((gate,), charter, store, "mine")[0]
    assert not mine.passed and "measured on 0 labelled answer(s) of candidate 'mine'" in mine.reason
    assert "8 labelled answer(s) of other candidates do not count" in mine.reason
    assert "Label the judged answers of candidate 'mine' as" in mine.reason
    # 6 labels, 4 agreeing: measured, but 67 % < 80 %
    for i in range(6):
        label(i, agree=i < 4)
    assert judge_agreement(charter, store, "mine").items == 6
    failed = guard_judge_gates((gate,), charter, store, "mine")[0]
    assert not failed.passed and "agrees with reviewer labels on 67% of 6 answers of candidate 'mine'" in failed.reason
    # a reviewer changes two labels (the newest counts), "unsure" is left out: 6 of 6 agree
    for i in (4, 5):
        label(i, agree=True)
    write_label(charter.warehouse_path, run_id=run.run_id, candidate="mine", item_id="q7", label="unsure",
                reviewer="ana@team.internal")
    passed = guard_judge_gates((gate,), charter, store, "mine")[0]
    assert passed.passed and "judge agreement 100% on 6 labelled answers of candidate 'mine'" in passed.details
    # an edited judge prompt is another judge: the labels of runs it did not judge do not count
    (tmp_path / "judge.txt").write_text(PROMPT + " Be strict.")
    assert not guard_judge_gates((gate,), charter, store, "mine")[0].passed
