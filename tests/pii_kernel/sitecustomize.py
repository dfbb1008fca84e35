"""Loaded by every Python process tests/test_pii.py starts (PYTHONPATH): the pilot's
driver and its kernels. Records the text elements of every matplotlib figure saved (MLflow
artifacts, inline images, report images) to $CANARY_FIGURE_LOG, one JSON line a figure."""

import json
import os

_LOG = os.environ.get("CANARY_FIGURE_LOG")

if _LOG:
    from matplotlib.figure import Figure
    from matplotlib.text import Text

    _savefig = Figure.savefig

    def _recording_savefig(self, *args, **kwargs):
        try:
            self.draw_without_rendering()  # tick labels exist only once drawn
            texts = [t.get_text() for t in self.findobj(Text) if t.get_text()]
        except Exception as exc:  # noqa: BLE001 - recorded, so the test sees it
            texts = [f"<texts unreadable: {exc!r}>"]
        with open(_LOG, "a", encoding="utf-8") as f:
            f.write(json.dumps({"pid": os.getpid(), "texts": texts}) + "\n")
        return _savefig(self, *args, **kwargs)

    Figure.savefig = _recording_savefig
