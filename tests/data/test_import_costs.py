"""The iri grammar jsonschema would build on import is built on first use instead, with the
same answers (workbench.data.import_costs). In a fresh interpreter: pytest's own process may
have imported jsonschema already."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
import workbench  # installs the stand-in
import papermill, jsonschema  # noqa: E401 - what a pilot run imports
built_on_import = "rfc3987_syntax.syntax_helpers" in sys.modules
from jsonschema import Draft202012Validator, FormatChecker
v = Draft202012Validator({"type": "string", "format": "iri"}, format_checker=FormatChecker())
import rfc3987_syntax
print(built_on_import, bool(list(v.iter_errors("not an iri"))), bool(list(v.iter_errors("https://ex.org/caf\\u00e9"))),
      rfc3987_syntax.parse("iri", "https://ex.org/a").data, "rfc3987_syntax.syntax_helpers" in sys.modules)
"""


def test_the_iri_grammar_is_built_on_first_use_and_checks_as_before() -> None:
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    # not built by the imports; an invalid iri is refused, a valid one passes, the module's own names work
    assert done.stdout.split() == ["False", "True", "False", "iri", "True"], done.stdout
