"""An eval-set notebook reads its items with one call: the data, and the folder its relative
paths start from (the runner's pilot_root, by hand the charter's folder)."""

from __future__ import annotations

from pathlib import Path

from support import EVAL_SET_CHARTER

from workbench.charter.config import load_charter
from workbench.data.warehouse import ingest_all, writer
from workbench.steps.session import Session
from workbench.store.tracking import Store


def test_the_items_and_their_root(tmp_path: Path) -> None:
    pilot = tmp_path / "pilot"
    pilot.mkdir()
    (pilot / "pilot.yaml").write_text(EVAL_SET_CHARTER)
    (pilot / "items.csv").write_text("id,body,label\n" + "".join(f"i{n},text {n},{'ab'[n % 2]}\n" for n in range(7)))
    charter = load_charter(pilot / "pilot.yaml", check_files=False)
    with writer(charter.warehouse_path) as con:
        ingest_all(con, charter)
    store = Store(tmp_path / "mlruns")
    run = store.start_run("t", "baseline")
    s = Session(run_id=run.run_id, store=store, warehouse=charter.warehouse_path, pilot="t", step="baseline",
                owns_run=False, charter=charter)

    data, root = s.eval_set_items()  # by hand: the charter's folder
    assert root == pilot and data.ids == [f"i{n}" for n in range(7)]
    assert list(data.items["label"]) == ["a", "b"] * 3 + ["a"]
    elsewhere = tmp_path / "injected"
    _, root = s.eval_set_items(str(elsewhere))  # headless: what the runner injects wins
    assert root == elsewhere
