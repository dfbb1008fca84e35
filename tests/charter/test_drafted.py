"""Drafted values (`# drafted` tags) with file:line and key, confirming them, and placeholders."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from workbench.charter.config import load_charter
from workbench.charter.drafted import confirm, drafted_values, find_drafted, placeholder
from workbench.errors import ConfigError

CHARTER = textwrap.dedent("""\
    # A line tagged `# drafted` in a whole-line comment marks nothing
    name: tagged
    owner: "ana@bank.internal"   # drafted: who answers
    question: "Is # a hash in a value a comment? no"
    primary_metric: quality.roc_auc
    task: {kind: classification, target: y}
    sources:
      t:
        path: t.csv
        contract: contracts/t.yml
        columns: {a: DOUBLE, y: INTEGER}
    baseline:                 # drafted: the prior
      kind: prior
    steps:
      - {name: base, role: baseline, notebook: nb.ipynb}
    gates:
      - {name: beats, kind: vs_baseline, metric: quality.roc_auc, min_relative_improvement: 0.05}   # drafted: margin
      - {name: fast, kind: threshold, metric: latency.p95_ms, op: "<=", value: 100}  # latency budget, agreed
    promotion: {model_name: tagged}
    production:
      on_call: 'desk # 2'   # Drafted: who is paged
      rollback: {quality_breaches: 2}
    """)
CONTRACT = textwrap.dedent("""\
    dataset: t
    columns:
      a:
        type: DOUBLE
        range: {min: 0, max: 9, severity: warn}  # drafted: observed
      y:
        type: INTEGER
    """)


def _project(root: Path) -> Path:
    (root / "contracts").mkdir(parents=True)
    (root / "contracts" / "t.yml").write_text(CONTRACT)
    (root / "t.csv").write_text("a,y\n1,0\n")
    (root / "nb.ipynb").write_text("{}")
    (root / "pilot.yaml").write_text(CHARTER)
    return root / "pilot.yaml"


def test_every_drafted_value_is_found_with_its_file_line_and_key(tmp_path: Path) -> None:
    charter = load_charter(_project(tmp_path))  # the tags refuse nothing
    found = drafted_values(charter)
    got = [(Path(v.file).name, v.line, v.key) for v in found]
    assert got == [("pilot.yaml", 3, "owner"), ("pilot.yaml", 12, "baseline"),
                   ("pilot.yaml", 17, "gates[0] (beats)"), ("pilot.yaml", 21, "production.on_call"),
                   ("t.yml", 5, "columns.a.range")]
    lines = CHARTER.splitlines()
    for v in found[:4]:  # the line number is the line the tag is on
        assert "drafted" in lines[v.line - 1].lower()
    assert found[0].value == '"ana@bank.internal"' and found[0].why == "who answers"
    assert found[3].value == "'desk # 2'"  # a '#' inside quotes is no comment
    # a block's header: what the block holds is what a person confirms (it was "(the block below)")
    assert found[1].line_text().endswith("baseline = {kind: prior} — the prior")
    assert found[1].to_dict()["text"] == "baseline: {kind: prior}"


def test_confirming_removes_the_tag_and_logs_who_and_when(tmp_path: Path) -> None:
    path = _project(tmp_path)
    done = confirm(load_charter(path), ["baseline", "beats"], by="ana")
    assert [v.key for v in done] == ["baseline", "gates[0] (beats)"]
    text = path.read_text()
    assert "baseline:\n" in text and "min_relative_improvement: 0.05}\n" in text
    charter = load_charter(path)  # still a valid charter, with the log
    assert [(c.key, c.by) for c in charter.confirmed] == [("baseline", "ana"), ("gates[0] (beats)", "ana")]
    assert charter.confirmed[0].at.endswith("+00:00")
    assert charter.confirmed[0].text == "baseline: {kind: prior}"  # the record says which rule was confirmed
    assert charter.confirmed[0].why == "the prior"  # ... and the question the person answered
    assert [v.key for v in drafted_values(charter)] == ["owner", "production.on_call", "columns.a.range"]
    # a second confirmation appends to the same list; a selector matching nothing changes nothing
    with pytest.raises(ConfigError, match="no drafted value matches 'nope'"):
        confirm(charter, ["nope"])
    confirm(charter, all_values=True, by="bo")
    charter = load_charter(path)
    assert drafted_values(charter) == ()
    assert [c.by for c in charter.confirmed] == ["ana", "ana", "bo", "bo", "bo"]
    assert "range: {min: 0, max: 9, severity: warn}\n" in (tmp_path / "contracts" / "t.yml").read_text()


def test_a_full_disk_while_confirming_cuts_no_file_short(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk fills while a file is written (half of it lands, then ENOSPC): the charter, a
    file its author wrote by hand, used to be left cut in half. Now each file is written whole
    or not at all: the charter first, with who confirmed; a contract that could not be written
    keeps its tag, so its value stays drafted."""
    import errno

    path = _project(tmp_path)
    contract = tmp_path / "contracts" / "t.yml"
    real = Path.write_text
    full: list[str] = []

    def half_then_full(self: Path, data: str, *args: object, **kwargs: object) -> int:
        if any(name in self.name for name in full):
            real(self, data[: len(data) // 2], *args, **kwargs)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, data, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", half_then_full)
    full.append("pilot.yaml")
    with pytest.raises(OSError, match="No space left"):
        confirm(load_charter(path), all_values=True, by="ana")
    assert path.read_text() == CHARTER and contract.read_text() == CONTRACT  # nothing changed
    full[:] = ["t.yml"]
    with pytest.raises(OSError, match="No space left"):
        confirm(load_charter(path), all_values=True, by="ana")
    assert contract.read_text() == CONTRACT
    charter = load_charter(path)  # whole, confirmed and logged; the contract's value still drafted
    assert [v.key for v in drafted_values(charter)] == ["columns.a.range"]
    assert len(charter.confirmed) == 5
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["nb.ipynb", "pilot.yaml", "t.csv", "t.yml"]
    monkeypatch.setattr(Path, "write_text", real)
    confirm(charter, all_values=True, by="ana")  # room again: the rest is confirmed
    assert drafted_values(load_charter(path)) == ()


def test_an_unreadable_file_is_reported_not_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1,   # drafted: x\n")
    (v,) = find_drafted(bad)
    assert v.line == 1 and v.key == "a"
    assert find_drafted(tmp_path / "missing.yaml") == []


@pytest.mark.parametrize("value", ["", "  ", "TODO", "TODO: you@example.org", "tbd", "FIXME later", "owner", "Team",
                                   "someone", "me", "user", "<name>", "ops@example.org", "ops@EXAMPLE.com",
                                   "pager@example.net", "ops@example", "ops@corp.example", "x@y.invalid", None])
def test_placeholders_are_named(value: str | None) -> None:
    assert placeholder(value)


@pytest.mark.parametrize("value", ["ana@bank.internal", "ana@host-17", "payments on-call rota", "ops-team@acme.com",
                                   "ops.test-team@acme.com", "counterexample.org.uk desk", "maria"])
def test_real_names_are_not_placeholders(value: str) -> None:
    assert placeholder(value) is None
