"""Workbench: take an AI/ML proof of concept to a tracked, gated pilot.

The public API is small and imported lazily (MLflow, papermill and Great Expectations
are slow to import; a cached rerun or `workbench --help` should not pay for them).
"""

from __future__ import annotations

from typing import Any

from .errors import *  # noqa: F403 - the exception tree is part of the public API
from .errors import __all__ as _errors_all

__version__ = "0.1.0"

# before anything imports jsonschema (papermill, Great Expectations): its "iri" format
# grammar (~1.5 s of every run) is built only if a schema ever uses that format
from .data.import_costs import defer_iri_grammar  # noqa: E402

defer_iri_grammar()

# Eager: it imports nothing heavy, and `workbench.session(...)` is how every notebook starts.
from .steps.session import session  # noqa: E402

__all__ = ["__version__", "load_charter", "run_pilot", "session", *_errors_all]

_LAZY = {
    "load_charter": ("workbench.charter.config", "load_charter"),
    "run_pilot": ("workbench.steps.runner", "run_pilot"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")
