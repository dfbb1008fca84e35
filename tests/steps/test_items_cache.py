"""An eval-set candidate's own module is part of the step's cache key: editing it reruns the step."""

from __future__ import annotations

from pathlib import Path

from support import EVAL_SET_CHARTER as CHARTER

from workbench.charter.config import load_charter
from workbench.steps.runner import _callable_sources


def test_callable_module_source_changes_the_key(tmp_path: Path) -> None:
    (tmp_path / "pilot.yaml").write_text(CHARTER)
    charter = load_charter(tmp_path / "pilot.yaml", check_files=False)
    assert _callable_sources(charter) == {"pipeline.model": "absent"}
    (tmp_path / "pipeline").mkdir()
    module = tmp_path / "pipeline" / "model.py"
    module.write_text("def classify(item):\n    return 'a'\n")
    first = _callable_sources(charter)
    module.write_text("def classify(item):\n    return 'b'\n")
    second = _callable_sources(charter)
    assert first["pipeline.model"] not in ("absent", second["pipeline.model"])
