"""Work a third-party import does up front that the workbench rarely or never needs, moved to
its first use.

``jsonschema`` (imported by papermill/nbformat and by Great Expectations through altair)
imports ``rfc3987_syntax`` when it is installed (Jupyter's ``jsonschema[format-nongpl]``
brings it) to check the "iri" string format; that import builds an Earley parser from a
grammar: ~1.5 s on a quiet machine, ~4 s on a loaded one, in every `workbench run`, before
any cell runs. No schema the workbench validates uses that format.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any

_IRI = "rfc3987_syntax"


def defer_iri_grammar() -> None:
    """Put a stand-in for ``rfc3987_syntax`` in ``sys.modules``: the real module (and its
    parser) loads on the first use of any of its names, so an "iri" check, if one ever runs,
    gives the same answer. Nothing happens when it is absent or already imported."""
    if _IRI in sys.modules:
        return
    try:
        spec = importlib.util.find_spec(_IRI)
    except (ImportError, ValueError):
        return
    if spec is None or not spec.submodule_search_locations:
        return
    stand_in = importlib.util.module_from_spec(spec)  # __path__ and __spec__ set; body not run

    def _real() -> Any:
        return importlib.import_module(f"{_IRI}.syntax_helpers")  # the package's `import *` source

    def is_valid_syntax(term: str, value: str) -> bool:  # what jsonschema imports by name
        return _real().is_valid_syntax(term, value)

    def __getattr__(name: str) -> Any:  # every other name, from the real module
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(_real(), name)

    stand_in.is_valid_syntax = is_valid_syntax  # type: ignore[attr-defined]
    stand_in.__getattr__ = __getattr__  # type: ignore[attr-defined]
    sys.modules[_IRI] = stand_in
