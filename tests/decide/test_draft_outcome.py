"""DRAFT: every gate passes but drafted values are unconfirmed — nothing moves, exit 7, the
record lists them (file:line) and later the confirmations; placeholders fail the plan gate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support import PLAN, build_pilot, candidate_metrics, make_charter
from workbench.charter.config import Charter
from workbench.charter.drafted import confirm
from workbench.decide.promotion import DECISION_ARTIFACT, history, production_plan_gate, promote
from workbench.errors import EXIT_DRAFT, EXIT_NO_GO, EXIT_OK
from workbench.formatting import outcome_label
from workbench.steps.runner import outcome_of
from workbench.store.tracking import Store


def _with_file(charter: Charter, folder: Path, text: str) -> Charter:
    """The charter as if loaded from ``folder/pilot.yaml`` holding ``text`` (its tags)."""
    path = folder / "pilot.yaml"
    path.write_text(text)
    return charter.model_copy(update={"path": path, "root": folder})


TAGGED = ("name: x\nowner: ana   # drafted: who answers\nbaseline:   # drafted: the prior\n  kind: prior\n"
          "gates:\n  - {kind: probes}\n")


def test_all_gates_pass_with_drafted_values_is_draft_and_moves_nothing(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    charter = _with_file(make_charter("drafty"), tmp_path, TAGGED)
    ids = build_pilot(store, charter, {"good": candidate_metrics(0.80)}, models=("good",))
    d = promote(charter, store, actor="ann")
    assert all(g.passed for g in d.gates)
    assert d.outcome == "draft" and d.exit_code == EXIT_DRAFT == 7 and not d.passed
    assert outcome_of(d) == ("DRAFT", 7) and outcome_label(d.outcome) == "DRAFT"
    assert d.alias_after is None and d.model_version is None
    assert store.client.search_model_versions("name = 'drafty-model'") == []  # nothing registered
    assert [(x["key"], x["line"]) for x in d.drafted] == [("owner", 2), ("baseline", 3)]
    summary = d.summary()
    assert summary.startswith("DRAFT: candidate 'good' passed")
    assert f"{d.drafted[0]['file']}:2: owner" in summary and "workbench confirm --pilot" in summary
    record = json.loads(store.download_text(ids["pilot"], DECISION_ARTIFACT))
    assert record["outcome"] == "draft" and record["exit_code"] == 7 and len(record["drafted"]) == 2

    # confirmed: the same evidence is a GO, and the record keeps who confirmed what and when
    confirm(charter, all_values=True, by="ana")
    confirmed = charter.model_copy(update={"confirmed": _confirmed(charter.path)})
    go = promote(confirmed, store, ids["pilot"], actor="ann")
    assert go.outcome == "go" and go.exit_code == EXIT_OK and go.drafted == ()
    assert [(c["key"], c["by"]) for c in go.confirmed] == [("owner", "ana"), ("baseline", "ana")]
    assert [r.outcome for r in history(confirmed, store)] == ["go", "draft"]


def _confirmed(path: Path) -> list:
    from ruamel.yaml import YAML

    from workbench.charter.config import ConfirmedValue

    return [ConfirmedValue(**c) for c in YAML(typ="safe").load(path.read_text())["confirmed"]]


def test_failing_gates_with_drafted_values_is_no_go_and_still_lists_them(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    charter = _with_file(make_charter("weak"), tmp_path, TAGGED)
    build_pilot(store, charter, {"weak": candidate_metrics(0.60)}, models=("weak",))
    d = promote(charter, store)
    assert d.outcome == "no-go" and d.exit_code == EXIT_NO_GO
    assert len(d.drafted) == 2 and "drafted, not yet confirmed (2)" in d.summary()


def test_a_summary_lists_the_first_drafted_values_and_the_record_keeps_them_all(tmp_path: Path) -> None:
    """A wide table's contract drafts a range and a null share a column: mosaicData's HELPfull left
    1,543 drafted values, and every run printed each of them twice. The summary (the terminal, the
    run's note) lists the first DRAFTED_SHOWN, in the file's order; the decision record holds all."""
    from workbench.decide.registry import DRAFTED_SHOWN

    store = Store(tmp_path / "store")
    many = "".join(f"  - {{kind: probes}}   # drafted: rule {i}\n" for i in range(DRAFTED_SHOWN + 25))
    charter = _with_file(make_charter("wide"), tmp_path, TAGGED + many)
    ids = build_pilot(store, charter, {"good": candidate_metrics(0.80)}, models=("good",))
    d = promote(charter, store)
    listed = [line for line in d.summary().splitlines() if line.startswith(f"    {tmp_path / 'pilot.yaml'}:")]
    assert len(d.drafted) == DRAFTED_SHOWN + 27 and len(listed) == DRAFTED_SHOWN
    assert listed[0].endswith(":2: owner — who answers")
    assert f"    ... and 27 more: the decision record ({DECISION_ARTIFACT}, `drafted`) holds every one" in d.summary()
    record = json.loads(store.download_text(ids["pilot"], DECISION_ARTIFACT))
    assert len(record["drafted"]) == DRAFTED_SHOWN + 27


@pytest.mark.parametrize("on_call", ["TODO", "oncall@example.org", "team", ""])
def test_a_placeholder_on_call_or_owner_fails_the_plan_gate(on_call: str) -> None:
    from workbench.charter.config import ProductionPlan

    gate = production_plan_gate(ProductionPlan(**{**PLAN, "on_call": on_call}), owner="ana@bank.internal")
    assert not gate.passed and "production.on_call" in gate.reason
    owner = production_plan_gate(ProductionPlan(**PLAN), owner="TBD")
    assert not owner.passed and "owner" in owner.reason and "TBD" in owner.reason
    assert production_plan_gate(ProductionPlan(**PLAN), owner="ana@bank.internal").passed
