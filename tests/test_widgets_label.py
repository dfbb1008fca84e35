"""The Label panel (faces): a tabular pilot has nothing to label; on a finished text pilot a
reviewer draws a seeded sample, labels it, sees the agreement, and the scorecard rebuilt
afterwards shows the per-item evidence and the agreement."""

from __future__ import annotations

from pathlib import Path

import pytest
from text_data import ticket_table

from support import write_project
from workbench.charter.config import load_charter
from workbench.widgets import LabelPanel, label_panel


def test_a_pilot_without_an_eval_set_has_nothing_to_label(tmp_path: Path) -> None:
    made = label_panel(load_charter(write_project(tmp_path)))
    assert isinstance(made, LabelPanel)
    assert "no eval set" in made.body.value and made.load_button.disabled and made.draw_button.disabled
    assert all(b.disabled for b in made.label_buttons.values())
    broken = label_panel(tmp_path / "missing.yaml")
    assert "wb-error" in broken.children[0].value


@pytest.mark.slow
def test_labels_clicked_in_the_panel_reach_the_scorecard(tmp_path: Path) -> None:
    from workbench.charter.drafted import confirm
    from workbench.data.item_labels import read_labels
    from workbench.new import new_text_pilot
    from workbench.show.scorecard import render_scorecard
    from workbench.steps.runner import project_store, run_pilot

    made = new_text_pilot("tickets", ticket_table(tmp_path / "tickets.csv", n=300), "category", ["body"],
                          pilots_dir=tmp_path / "pilots", owner="support-lead@team.internal")
    confirm(load_charter(made.charter), all_values=True, by="reviewer@team.internal")
    charter = load_charter(made.charter)
    run_pilot(charter)
    store = project_store(charter)
    before = render_scorecard(charter, store, store.newest_pilot_run(charter.name, complete=True).info.run_id)
    assert "worst failures" in before and "No reviewer labels for these runs yet" in before
    assert f"{charter.eval_set.candidates[0].name} and {charter.eval_set.baseline.name}: items answered differently" in before

    p = label_panel(charter)
    assert p.wait(120) and p.error.value == ""
    assert p.model.value == charter.eval_set.candidates[0].name  # a candidate first, the baseline last
    assert p.model.options[-1] == charter.eval_set.baseline.name
    p.reviewer.value, p.size.value, p.seed.value = "ann", 4, 3
    p.draw()
    first = [str(i) for i in p.sample.item_id]
    assert p.error.value == "" and "0 of 4 labelled" in p.progress.value
    for label in ("correct", "wrong", "unsure", "correct"):
        p.label(label)
    assert "4 of 4 labelled" in p.progress.value and "All 4 items" in p.card.value
    assert "Agreement with the metric" in p.agreement.value
    p.draw()  # the same seed: the same items, all labelled already
    assert [str(i) for i in p.sample.item_id] == first and p.position == 4

    labels = read_labels(charter.warehouse_path)
    assert list(labels.item_id) == first and list(labels.label) == ["correct", "wrong", "unsure", "correct"]
    after = render_scorecard(charter, store, store.newest_pilot_run(charter.name, complete=True).info.run_id)
    row = after[after.index('id="review"'):].split(f"<td>{p.model.value}</td>", 1)[1].split("</tr>")[0]
    assert '<td class="num">4</td>' in row and " of 3)" in row  # 4 labelled, 3 compared (one unsure)
