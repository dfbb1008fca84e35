"""Issue 24's fault cases reuse the promotion tests' pilot builder (tests/decide)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "decide"))
