"""The charter's `eval_set:` block: what an eval-set pilot must declare, refused with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.charter.config import load_charter
from workbench.errors import ConfigError

CHARTER = """\
name: t
owner: someone@team.internal
question: which label?
primary_metric: quality.macro_f1
task: {{kind: {kind}, target: label}}
sources:
  items: {{path: items.jsonl, format: jsonl, columns: {{id: VARCHAR, body: VARCHAR, label: VARCHAR}}}}
{eval_set}
steps:
  - {{name: baseline, role: baseline, notebook: nb.ipynb}}
"""
EVAL_SET = """\
eval_set:
  source: items
  id: id
  inputs: [{inputs}]
  expected: label
  baseline: {{name: kw, kind: rule, rules: [{{pattern: 'x', label: a}}], default: b}}
  candidates: [{{name: lr, kind: sklearn}}]
"""


def _load(tmp_path: Path, *, kind: str = "text-classification", eval_set: str | None = None,
          inputs: str = "body") -> object:
    path = tmp_path / "pilot.yaml"
    block = EVAL_SET.format(inputs=inputs) if eval_set is None else eval_set
    path.write_text(CHARTER.format(kind=kind, eval_set=block), encoding="utf-8")
    return load_charter(path, check_files=False)


def test_a_complete_eval_set_loads_and_reaches_the_notebooks_spec(tmp_path: Path) -> None:
    charter = _load(tmp_path)
    spec = charter.modeling().eval_set  # type: ignore[attr-defined]
    assert spec.source == "items" and spec.inputs == ["body"] and spec.candidates[0].kind == "sklearn"
    assert spec.baseline.rules[0].label == "a" and spec.k == [1, 5, 10]


def test_a_text_task_without_an_eval_set_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, eval_set="")
    assert "pilot.yaml:5" in err.value.message and "eval_set:" in err.value.message


def test_an_undeclared_input_column_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, inputs="body, subject")
    assert "declares no column(s) subject" in err.value.message


def test_a_tabular_task_with_an_eval_set_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, kind="classification")
    assert "`eval_set:` is for task kinds" in err.value.message


def test_retrieval_needs_a_corpus_and_bad_rules_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, kind="retrieval")
    assert "corpus" in err.value.message
    bad = EVAL_SET.format(inputs="body").replace("pattern: 'x'", "pattern: '(unclosed'")
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, eval_set=bad)
    assert "is not a regular expression" in err.value.message
    callable_without_function = EVAL_SET.format(inputs="body").replace("kind: sklearn", "kind: callable")
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, eval_set=callable_without_function)
    assert "module:function" in err.value.message
