"""Data contracts: YAML specs compiled to Great Expectations suites, checked on DuckDB.

Importing this package is cheap: great_expectations (~6 s) is imported only inside the
functions that validate or build suites.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .results import ContractResult, RuleResult
from .spec import Contract, ContractSpec, Rule, load_contract

__all__ = [
    "Contract",
    "ContractSpec",
    "Rule",
    "RuleResult",
    "ContractResult",
    "load_contract",
    "check_contract",
    "suite_json",
    "render_html",
    "render_history",
    "suggest_contract",
]


def check_contract(warehouse: Path | str, contract: Contract, **kwargs: Any) -> ContractResult:
    """Validate ``contract`` on the DuckDB file ``warehouse`` (see check.check_contract)."""
    from .check import check_contract as _check

    return _check(warehouse, contract, **kwargs)


def suite_json(contract: Contract) -> dict[str, Any]:
    """The contract's GX ExpectationSuite as JSON (an MLflow artifact)."""
    from .compile import suite_json as _suite_json

    return _suite_json(contract)


def render_html(results: list[ContractResult], *, history_link: str | None = None) -> str:
    """A self-contained HTML summary of contract results, failures first."""
    from .report import render_html as _render

    return _render(results, history_link=history_link)


def render_history(rows: Any) -> str:
    """The index of past checks per contract (see report.render_history)."""
    from .report import render_history as _render

    return _render(rows)


def suggest_contract(warehouse: Path | str, table: str, **kwargs: Any) -> str:
    """A draft contract YAML for ``table``, profiled in DuckDB, for an analyst to edit."""
    from .suggest import suggest_contract as _suggest

    return _suggest(warehouse, table, **kwargs)
