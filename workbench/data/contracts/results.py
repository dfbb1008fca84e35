"""Typed, JSON-ready results of a contract check (no GX objects leak out of here)."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["RuleResult", "ContractResult", "metric_name"]

_METRIC_BAD = re.compile(r"[^A-Za-z0-9_.\-/ ]")


def metric_name(name: str) -> str:
    """MLflow accepts only [A-Za-z0-9_.-/ ] in metric names."""
    return _METRIC_BAD.sub("_", name)


@dataclass(frozen=True)
class RuleResult:
    """Outcome of one rule. ``success`` is False when the expectation raised (``error``)."""

    rule_id: str
    column: str | None
    kind: str
    severity: str
    success: bool
    unexpected_count: int | None = None  # None: not computed (rule passed with a tolerance, or raised)
    unexpected_percent: float | None = None
    observed: Any = None  # e.g. the row count, the observed column type, the newest timestamp
    examples: tuple[Any, ...] = ()  # a few offending values; empty when masked
    masked: bool = False  # True for PII columns: counts only, never values
    error: str | None = None  # the exception text when the expectation raised
    on_fail: str = "report"
    quarantined_rows: int = 0

    @property
    def raised(self) -> bool:
        return self.error is not None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["examples"] = list(self.examples)
        return d


@dataclass(frozen=True)
class ContractResult:
    """Outcome of checking one contract against one table.

    ``passed``: no error-level rule failed, where an error-level row rule whose offending
    rows were all moved to quarantine no longer blocks (the table now satisfies it).
    """

    dataset: str
    contract_version: str
    contract_sha256: str
    contract_path: str
    rules: tuple[RuleResult, ...]
    row_count: int | None = None
    quarantine_table: str | None = None
    quarantined_rows: int = 0
    duration_s: float = 0.0
    previous_table_kept: bool = False  # the load broke error rules: its table was replaced by the previous one
    passed: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "passed", not self.blocking)

    @property
    def blocking(self) -> tuple[RuleResult, ...]:
        """Failed error-level rules that stop the pilot."""
        return tuple(
            r for r in self.rules
            if not r.success and r.severity == "error"
            and not (r.on_fail == "quarantine" and r.error is None and r.quarantined_rows > 0
                     and r.quarantined_rows >= (r.unexpected_count or 0))
        )

    @property
    def failed(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.rules if not r.success)

    @property
    def warnings(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.rules if not r.success and r.severity == "warn")

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "contract_version": self.contract_version,
            "contract_sha256": self.contract_sha256,
            "contract_path": self.contract_path,
            "passed": self.passed,
            "row_count": self.row_count,
            "quarantine_table": self.quarantine_table,
            "quarantined_rows": self.quarantined_rows,
            "duration_s": round(self.duration_s, 4),
            "previous_table_kept": self.previous_table_kept,
            "rules": [r.to_dict() for r in self.rules],
        }

    def metrics(self, *, details: bool = False) -> dict[str, float]:
        """Flat metrics: ``contract.<dataset>.*`` (the verdict and its counts), what the
        contracts step logs to MLflow; with ``details``, also the check's ``duration_s``
        and ``row_count`` and every rule's ``contract.<rule id>.*`` — those stay in
        ``contracts/<dataset>.json`` and the HTML summary (see :mod:`workbench.measure.metrics`)."""
        ds = f"contract.{self.dataset}"
        out: dict[str, float] = {
            f"{ds}.passed": float(self.passed),
            f"{ds}.rules": float(len(self.rules)),
            f"{ds}.rules_failed": float(len(self.failed)),
            f"{ds}.errors": float(len(self.blocking)),
            f"{ds}.warnings": float(len(self.warnings)),
            f"{ds}.rows_quarantined": float(self.quarantined_rows),
        }
        if details:
            out[f"{ds}.duration_s"] = float(self.duration_s)
        if details and self.row_count is not None:
            out[f"{ds}.row_count"] = float(self.row_count)
        for r in self.rules if details else ():
            base = f"contract.{r.rule_id}"
            out[f"{base}.success"] = float(r.success)
            if r.unexpected_count is not None:
                out[f"{base}.unexpected_count"] = float(r.unexpected_count)
            if r.unexpected_percent is not None and math.isfinite(r.unexpected_percent):
                out[f"{base}.unexpected_percent"] = float(r.unexpected_percent)
            if r.quarantined_rows:
                out[f"{base}.quarantined_rows"] = float(r.quarantined_rows)
        return {metric_name(k): v for k, v in out.items()}

    def failure_message(self, max_examples: int = 3) -> str:
        """Readable multi-line summary of the blocking failures (for the CLI)."""
        if self.passed:
            return "\n".join([f"Contract {self.dataset} v{self.contract_version}: passed ({len(self.rules)} rules)"
                              + (f", {len(self.warnings)} warning(s):" if self.warnings else ".")]
                             + ["  warning: " + describe(w, max_examples) for w in self.warnings])
        lines = [
            f"Contract {self.dataset} v{self.contract_version} failed: "
            f"{len(self.blocking)} error-level rule(s) broken ({self.contract_path})"
        ]
        for r in self.blocking:
            lines.append("  " + describe(r, max_examples))
        for w in self.warnings:
            lines.append("  warning: " + describe(w, max_examples))
        if self.previous_table_kept:
            lines.append(f"  The new load of {self.dataset} was refused: the previous table is back in the warehouse.")
        lines.append(
            "  Fix the data at its source, or edit the contract if the rule is wrong "
            "(a reviewed change with a new version)."
        )
        return "\n".join(lines)


def describe(r: RuleResult, max_examples: int = 3) -> str:
    """One line for one failed rule: id, counts, examples (masked for PII) or the error."""
    if r.error is not None:
        return f"{r.rule_id}: the check raised, counted as failed: {r.error}"
    parts = [f"{r.rule_id} ({r.kind})"]
    if r.unexpected_count is not None:
        pct = f" ({r.unexpected_percent:.3g}%)" if r.unexpected_percent is not None else ""
        parts.append(f"{r.unexpected_count} unexpected{pct}")
    if r.observed is not None:
        parts.append(f"observed {r.observed}")
    if r.masked:
        parts.append("examples masked (PII)")
    elif r.examples:
        parts.append("e.g. " + ", ".join(repr(v) for v in r.examples[:max_examples]))
    if r.quarantined_rows:
        parts.append(f"{r.quarantined_rows} row(s) quarantined")
    return ": ".join(parts[:1]) + ": " + "; ".join(parts[1:]) if len(parts) > 1 else parts[0]
