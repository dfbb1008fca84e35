"""Column widths for the MLflow runs table, so run names and metric headers are not cut short.

MLflow 3's runs table gives a metric column 100 px and the run names 190 px, which cuts
``baseline.quality.roc_auc`` and ``pilot 2026-12-03 07:24:45`` to an ellipsis. Its saved
view (``mlflow.sharedViewState.<key>``) carries ``columnWidths`` (pixels by column id),
applied to the columns ``columnOrder`` lists. A view is saved without a browser, so text
is measured in DejaVu Sans (matplotlib ships it): wider than the fonts the UI asks for
first (San Francisco, Segoe UI, Roboto), so elsewhere a column has room to spare.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["RUN_NAME_COLUMN", "DATE_COLUMN", "DURATION_COLUMN", "metric_column", "header_px", "run_name_px",
           "text_px"]

# the runs table's column ids (MLflow's experimentPage.column-utils)
RUN_NAME_COLUMN = "attributes.`Run Name`"
DATE_COLUMN = "runDateAndNestInfo"
DURATION_COLUMN = "duration"

FONT_PX = 12  # the table's font size (headers semi-bold, cells regular)
HEADER_PADDING_PX = 28  # the header cell's padding, and a few pixels of slack
# a run name's cell: its expander and colour dot before the name, padding after; a nested
# run is indented one step more per level
NAME_LEAD_PX, NAME_TAIL_PX, NAME_INDENT_PX = 56, 16, 24
MLFLOW_NAME_PX, MLFLOW_METRIC_PX = 190, 100  # MLflow's own widths: never narrower
MAX_COLUMN_PX = 420  # one very long name does not push the metrics off the screen


def metric_column(metric: str) -> str:
    return f"metrics.`{metric}`"


@functools.cache
def _font(bold: bool) -> Any:
    """DejaVu Sans from matplotlib's data, found without importing matplotlib; None if absent."""
    import importlib.util

    try:
        from PIL import ImageFont

        spec = importlib.util.find_spec("matplotlib")
        if spec is None or not spec.submodule_search_locations:
            return None
        ttf = Path(next(iter(spec.submodule_search_locations))) / "mpl-data" / "fonts" / "ttf"
        return ImageFont.truetype(str(ttf / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")), FONT_PX)
    except Exception:  # noqa: BLE001 - no font or no Pillow: the per-character estimate below
        return None


def text_px(text: str, *, bold: bool = False) -> float:
    """The width of ``text`` in the table's font (an upper estimate)."""
    font = _font(bold)
    if font is not None:
        return float(font.getlength(text))
    return len(text) * FONT_PX * (0.75 if bold else 0.68)  # DejaVu's widest common characters


def header_px(metric: str) -> int:
    """A metric column wide enough for its header."""
    return min(MAX_COLUMN_PX, max(MLFLOW_METRIC_PX, round(text_px(metric, bold=True) + HEADER_PADDING_PX)))


def run_name_px(names: Iterable[tuple[str, int]]) -> int:
    """The run name column wide enough for each (name, nesting depth; 0 = top level)."""
    need = [NAME_LEAD_PX + NAME_INDENT_PX * depth + text_px(name) + NAME_TAIL_PX for name, depth in names]
    return min(MAX_COLUMN_PX, max([MLFLOW_NAME_PX, *(round(n) for n in need)]))
