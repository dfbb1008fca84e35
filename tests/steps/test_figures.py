"""Figures render as images in executed notebooks, headless (the runner forces
MPLBACKEND=Agg): a bare matplotlib Figure shown with display() becomes an image/png output,
and the HTML attached to the step run embeds it as an <img>.

A real pilot run in tmp_path (real kernel, DuckDB and MLflow): the notebook logs through the
workbench session (which registers the PNG formatter) and displays figures the way the
shipped notebooks do (profiling, evaluation and timing plots, and a plain Figure).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support import STEP_PARAMS, write_project
from workbench.charter.config import load_charter
from workbench.steps.runner import run_pilot
from workbench.store.tracking import Store

SESSION_CELL = """
import workbench
s = workbench.session(step_name, run_id=run_id, tracking_uri=tracking_uri, warehouse=warehouse, pilot_name=pilot_name)
with s.connect() as con:
    n = con.execute("select count(*) from items").fetchone()[0]
s.log_metrics({"demo.rows": n, "demo.scale": scale})
"""

FIGURE_CELLS = (
    # the profile notebook's way: a bare Figure from workbench.data.profiling, display()ed
    """
from workbench.data import profiling
with s.connect() as con:
    profile = profiling.profile_table(con, "items")
display(profiling.plot_histograms(profile))
""",
    # a bare Figure as the cell's value (the last expression)
    """
from matplotlib.figure import Figure
fig = Figure(figsize=(3, 2))
fig.add_subplot().plot([1, 2, 3], [2, 1, 3])
fig
""",
    # two figures in one cell, as the baseline and evaluate notebooks show theirs
    """
import numpy as np
from workbench.measure import evaluation, timing
from workbench.charter.config import Task
task = Task(kind="classification", target="y")
y = np.array([0, 1, 0, 1, 1, 0, 1, 0])
score = np.array([0.1, 0.8, 0.3, 0.6, 0.9, 0.4, 0.7, 0.2])
for fig in (evaluation.plot_confusion(evaluation.evaluate(y, score, task=task)),
            evaluation.plot_roc_pr(evaluation.curves(y, score, task=task))):
    display(fig)
""",
)


@pytest.mark.slow  # runs a pilot
def test_every_figure_cell_of_an_executed_notebook_has_a_png_and_the_html_an_img(tmp_path: Path) -> None:
    charter = load_charter(write_project(tmp_path, notebook_cells=(SESSION_CELL, *FIGURE_CELLS),
                                         params=STEP_PARAMS + "step_name = 'measure'\nscale = 1\n"))
    result = run_pilot(charter)
    assert result.status == "FINISHED"
    step = next(s for s in result.steps if s.name == "measure")
    store = Store(tmp_path)
    executed = json.loads(store.download_text(step.run_id, "notebook/step.ipynb"))
    code = [c for c in executed["cells"] if c["cell_type"] == "code"]
    figure_cells = code[-len(FIGURE_CELLS):]
    assert ["".join(c["source"]).strip() for c in figure_cells] == [src.strip() for src in FIGURE_CELLS]
    for cell, expected in zip(figure_cells, (1, 1, 2)):
        pngs = [o for o in cell["outputs"] if "image/png" in o.get("data", {})]
        texts = "".join(str(o.get("data", {}).get("text/plain", "")) for o in cell["outputs"]
                        if "image/png" not in o.get("data", {}))
        assert len(pngs) == expected, ("".join(cell["source"])[:80], cell["outputs"])
        assert "<Figure size" not in texts  # never the text stand-in instead of the image
    page = store.download_text(step.run_id, "notebook/step.html")
    assert page is not None and page.count("<img") >= 4 and "data:image/png;base64," in page
