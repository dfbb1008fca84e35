"""Sentence embeddings that run offline: ``wordllama`` (its weights ship inside the package).

The one module that imports wordllama. ``WordLlama.load()`` with no arguments goes to the
model hub; told to look in the package's own folder with downloads disabled, it loads the
shipped 256-dimension model in ~0.4 s (DESIGN.md, "Text and LLM pilots")."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import WorkbenchError

__all__ = ["encoder", "embed"]


@functools.lru_cache(maxsize=1)
def encoder() -> Any:
    """The shipped wordllama model (loaded once per process)."""
    try:
        import wordllama
        from wordllama import WordLlama
    except ImportError as exc:
        raise WorkbenchError("the embeddings candidate needs the `wordllama` package", where="eval_set.candidates",
                             hint="run `make setup` (it installs the workbench's dependencies)") from exc
    try:
        return WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)
    except Exception as exc:  # noqa: BLE001 - a missing weights file, a changed package layout
        raise WorkbenchError(f"cannot load wordllama's shipped model: {type(exc).__name__}: {exc}",
                             where=str(Path(wordllama.__file__).parent),
                             hint="reinstall it (`.venv/bin/uv pip install --reinstall wordllama`)") from exc


def embed(texts: Sequence[str]) -> np.ndarray:
    """One L2-normalised row per text (float32)."""
    return np.asarray(encoder().embed(list(texts), norm=True), dtype=np.float32)
