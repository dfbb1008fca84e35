"""Charter validation: every refusal names the file, the line, the key path and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import write_project
from workbench.charter.config import load_charter
from workbench.errors import ConfigError


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_valid_charter_loads_with_resolved_paths(project: Path) -> None:
    charter = load_charter(project)
    assert charter.name == "tiny-pilot"
    assert charter.sources["items"].columns == {"id": "INTEGER", "name": "VARCHAR", "price": "DOUBLE"}
    assert charter.warehouse_path == project.parent / "data" / "warehouse.duckdb"
    assert len(charter.sha256) == 64


@pytest.mark.parametrize(
    ("key", "why"),
    [("owner", "answers for"), ("question", "business question"), ("primary_metric", "one metric")],
)
def test_missing_required_key_says_what_and_why(project: Path, key: str, why: str) -> None:
    lines = [ln for ln in project.read_text().splitlines() if not ln.startswith(f"{key}:")]
    project.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError) as info:
        load_charter(project)
    msg = str(info.value)
    assert f"missing required key '{key}'" in msg
    assert why in msg
    assert str(project) in msg


def test_unknown_key_gives_line_and_suggestion(project: Path) -> None:
    _edit(project, "owner:", "ownr:")
    with pytest.raises(ConfigError) as info:
        load_charter(project)
    msg = str(info.value)
    assert f"{project}:2:1" in msg
    assert "unknown key 'ownr'" in msg and "did you mean 'owner'" in msg


def test_nested_unknown_key_names_key_path_and_valid_keys(project: Path) -> None:
    _edit(project, "timeout_seconds: 60", "timeout_secs: 60")
    with pytest.raises(ConfigError) as info:
        load_charter(project)
    msg = str(info.value)
    assert "steps[0].timeout_secs" in msg
    assert "did you mean 'timeout_seconds'" in msg
    assert "valid keys here:" in msg and "notebook" in msg


def test_wrong_type_is_located(project: Path) -> None:
    _edit(project, "timeout_seconds: 60", "timeout_seconds: soon")
    with pytest.raises(ConfigError) as info:
        load_charter(project)
    msg = str(info.value)
    assert "steps[0].timeout_seconds" in msg and "'soon'" in msg
    line = next(i for i, ln in enumerate(project.read_text().splitlines(), 1) if "timeout_seconds" in ln)
    assert f"{project}:{line}:" in msg


def test_unknown_column_type_is_refused(project: Path) -> None:
    _edit(project, "price: DOUBLE", "price: DUBBLE")
    with pytest.raises(ConfigError, match="unknown type 'DUBBLE'"):
        load_charter(project)


def test_yaml_syntax_error_has_line_and_column(project: Path) -> None:
    _edit(project, "question: Does", "question: [Does")
    with pytest.raises(ConfigError) as info:
        load_charter(project)
    assert "invalid YAML" in str(info.value)
    assert f"{project}:" in str(info.value)


def test_missing_files_are_all_listed(project: Path) -> None:
    (project.parent / "data" / "items.csv").unlink()
    (project.parent / "notebooks" / "step.ipynb").unlink()
    with pytest.raises(ConfigError) as info:
        load_charter(project)
    msg = str(info.value)
    assert "sources.items.path" in msg and "data/items.csv does not exist" in msg
    assert "steps[0].notebook" in msg and "notebooks/step.ipynb does not exist" in msg


def test_charter_without_baseline_step_is_refused_with_reason(project: Path) -> None:
    _edit(project, "role: baseline", "role: evaluate")
    with pytest.raises(ConfigError) as info:
        load_charter(project)
    assert "role: baseline" in str(info.value)
    assert "measured baseline" in str(info.value)


def test_gate_shapes_are_validated(tmp_path: Path) -> None:
    write_project(tmp_path, extra_yaml="gates:\n  - {kind: threshold, metric: quality.roc_auc, op: '=>', value: 0.7}\n")
    with pytest.raises(ConfigError) as info:
        load_charter(tmp_path / "pilot.yaml")
    assert "gates[0].op" in str(info.value)


def test_gate_kind_typo_lists_choices(tmp_path: Path) -> None:
    write_project(tmp_path, extra_yaml="gates:\n  - {kind: treshold, metric: quality.roc_auc, op: '>=', value: 0.7}\n")
    with pytest.raises(ConfigError) as info:
        load_charter(tmp_path / "pilot.yaml")
    assert "threshold" in str(info.value) and "gates[0]" in str(info.value)


def test_valid_gates_and_promotion_load(tmp_path: Path) -> None:
    write_project(tmp_path, extra_yaml=(
        "gates:\n"
        "  - {kind: threshold, metric: quality.roc_auc, op: '>=', value: 0.7}\n"
        "  - {kind: vs_baseline, metric: quality.roc_auc, min_relative_improvement: 0.05}\n"
        "  - {kind: vs_champion, metric: quality.roc_auc, max_regression: 0.01}\n"
        "  - {kind: contracts}\n  - {kind: probes}\n  - {kind: slices, metric: quality.roc_auc, margin: 0.05}\n"
        "promotion: {model_name: late-arrivals, alias: champion}\n"))
    charter = load_charter(tmp_path / "pilot.yaml")
    assert [g.kind for g in charter.gates] == ["threshold", "vs_baseline", "vs_champion", "contracts", "probes", "slices"]
    assert charter.promotion is not None and charter.promotion.alias == "champion"


def test_duplicate_step_names_are_refused(tmp_path: Path) -> None:
    path = write_project(tmp_path)
    text = path.read_text()
    step = text[text.index("  - name: measure"):]
    path.write_text(text + step)
    with pytest.raises(ConfigError, match="repeated: measure"):
        load_charter(path)


def test_demo_charter_is_valid() -> None:
    from support import REPO

    charter = load_charter(REPO / "pilot.yaml", check_files=False)
    assert charter.primary_metric == "quality.roc_auc"
    assert {"flights", "weather"} <= set(charter.sources)


def test_unknown_key_under_a_named_source_lists_the_source_keys(project: Path) -> None:
    _edit(project, "    path: data/items.csv", "    pth: data/items.csv")
    with pytest.raises(ConfigError) as info:
        load_charter(project)
    msg = str(info.value)
    assert "sources.items.pth" in msg and "did you mean 'path'" in msg
    assert "valid keys here: columns, contract, csv, description, format, path" in msg


def test_loader_owned_fields_are_neither_offered_nor_accepted(project: Path) -> None:
    _edit(project, "owner:", "ownr:")
    with pytest.raises(ConfigError) as info:
        load_charter(project)
    valid = str(info.value).split("valid keys here: ")[1].split("\n")[0]
    assert "sha256" not in valid and "root" not in valid and "owner" in valid
    _edit(project, "ownr:", "owner:")
    project.write_text(project.read_text() + "root: /etc\n")
    with pytest.raises(ConfigError, match="unknown key"):
        load_charter(project)
