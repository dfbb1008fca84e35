"""The scorecard's leakage and shift section: findings with their acknowledgements, and
the shift table worst first, sorted as numbers."""

from __future__ import annotations

import re

import pytest

from support import build_pilot, candidate_metrics, make_charter
from workbench.charter.config import Charter
from workbench.show.leakage_report import leakage_shift_section
from workbench.show.scorecard import render_scorecard
from workbench.store.tracking import Store

FINDINGS = ({"feature": "grade<b>", "check": "bucketed_target", "evidence": "its 6 values cover disjoint ranges",
             "value": 1.0},
            {"feature": "fee", "check": "single_feature", "evidence": "alone it explains R² 0.991", "value": 0.991})
SHIFT = {"train_rows": 900, "heldout_rows": 300, "columns": [
    {"column": "small", "kind": "numeric", "psi": 9.0e-3, "unseen_share": 0.0, "unseen_rows": 0},
    {"column": "city", "kind": "categorical", "psi": 0.31, "unseen_share": 0.1, "unseen_rows": 30},
    {"column": "big", "kind": "numeric", "psi": 10.5, "unseen_share": 0.0, "unseen_rows": 0}]}


def test_section_names_findings_acknowledgements_and_sorts_shift_as_numbers() -> None:
    html = leakage_shift_section(FINDINGS, {"fee": "set before the decision"}, SHIFT, run_id="abcdef1234567890",
                                 max_psi=0.25, max_unseen_share=0.05)
    assert "grade&lt;b&gt;" in html and "grade<b>" not in html  # escaped
    assert "its 6 values cover disjoint ranges" in html and "blocks GO" in html
    assert "set before the decision" in html and "acknowledged" in html
    order = re.findall(r"<td>(small|city|big)</td>", html)
    assert order == ["big", "city", "small"]  # 10.5 > 0.31 > 0.009: numbers, not text
    assert html.count('class="regress"') == 3  # the unacknowledged finding, and big and city beyond the gate
    assert "10%" in html or "10.0%" in html
    assert "Not checked" in leakage_shift_section(None, {}, None)
    assert "No feature carries the answer" in leakage_shift_section([], {}, None)


def test_an_eval_sets_section_says_what_its_checks_looked_at_and_that_shift_is_not_measured() -> None:
    html = leakage_shift_section([], {}, None, eval_set=True)
    assert "No eval item is among the training items" in html and "prompt template" in html
    assert "No feature carries the answer" not in html  # no feature was checked: an eval set has none
    assert "not measured on an eval set" in html and "shift/columns.json" not in html
    assert "Not checked" in leakage_shift_section(None, {}, None, eval_set=True)  # a missing check still says so


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    return Store(tmp_path_factory.mktemp("leakcard"))


def test_the_scorecard_shows_the_evaluate_runs_findings_and_the_charters_acknowledgement(store: Store) -> None:
    charter = make_charter("leakcard", gates=[{"kind": "shift", "max_psi": 0.25}])
    ids = build_pilot(store, charter, {"hgb": candidate_metrics(0.9)}, models=("hgb",), leakage=FINDINGS[1:],
                      shift={"shift.max_psi": 0.1, "shift.unseen_share_max": 0.0})
    store.log_dict(ids["evaluate"], SHIFT, "shift/columns.json")
    acked = Charter.model_validate({**charter.model_dump(mode="json"),
                                    "leakage": {"acknowledged": {"fee": "the fee is quoted before the decision"}}})
    page = render_scorecard(acked, store, ids["pilot"])
    assert 'id="leakage"' in page and "alone it explains R² 0.991" in page
    assert "the fee is quoted before the decision" in page and "<td>big</td>" in page
