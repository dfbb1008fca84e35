"""One exception tree for the whole package.

Every error a user can cause or meet derives from :class:`WorkbenchError` and carries
three things: *what* failed, *where* (file, line, column, key, cell, table) and
*what to do next*. The CLI prints ``Error: <message>`` and exits non-zero; ``--debug``
shows the traceback. Library code wraps third-party exceptions at its boundary
(``raise IngestError(...) from exc``) so callers only ever catch this tree::

    WorkbenchError
    ├── ConfigError                 pilot.yaml (charter) is malformed or incomplete
    ├── ContractError
    │   ├── ContractSpecError       a data contract YAML is malformed
    │   └── ContractViolation       error-level rules failed on the data
    ├── WarehouseError
    │   ├── IngestError             a source file could not be loaded (file, line, column)
    │   └── WarehouseLockedError    another writer or a kernel holds the warehouse
    ├── TrackingError               the MLflow store could not be used
    ├── StoreLockedError            a pilot, ingest or promotion holds the pilot's store (names it)
    ├── ExposureError               a server would be reachable beyond loopback without authentication
    ├── StepError                   a pilot step did not finish
    │   ├── ParameterError          a step parameter the notebook does not declare
    │   ├── CellError               a notebook cell raised (notebook, cell, error)
    │   ├── KernelDiedError         the kernel died under the notebook
    │   ├── StepTimeoutError        a cell exceeded the step's timeout
    │   ├── ShellCommandError       a `!cmd` line in a cell exited non-zero
    │   └── StepInterrupted         SIGTERM / Ctrl-C while the step ran
    ├── EvaluationError             a metric or probe could not be computed
    ├── PromotionError              gates could not be evaluated or an alias could not move
    │   └── AuditError              the decision trail and the registry disagree (chain, alias, evidence)
    └── MonitorError                a production batch could not be monitored (no champion, unreadable batch)

A monitored batch that *breaches* the production plan is not an error: `workbench
monitor` records it and exits with ``EXIT_BREACH``.
"""

from __future__ import annotations

__all__ = [
    "WorkbenchError",
    "ConfigError",
    "ContractError",
    "ContractSpecError",
    "ContractViolation",
    "WarehouseError",
    "IngestError",
    "WarehouseLockedError",
    "EngineError",
    "TrackingError",
    "StoreLockedError",
    "ExposureError",
    "StepError",
    "ParameterError",
    "CellError",
    "KernelDiedError",
    "StepTimeoutError",
    "ShellCommandError",
    "StepInterrupted",
    "EvaluationError",
    "PromotionError",
    "AuditError",
    "MonitorError",
    "EXIT_BREACH",
    "EXIT_OK",
    "EXIT_ERROR",
    "EXIT_NO_GO",
    "EXIT_INTERRUPTED",
    "EXIT_LOCKED",
    "EXIT_AUDIT",
    "EXIT_DRAFT",
]

# Process exit codes, shared by the CLI and `make pilot`.
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_NO_GO = 3
EXIT_LOCKED = 4  # another pilot, ingest or promotion holds the store: try again when it ends
EXIT_AUDIT = 5  # `workbench audit` found the decision trail broken (or promote refused because of it)
EXIT_BREACH = 6  # `workbench monitor`: the batch broke the production plan (or was refused by its contract)
EXIT_DRAFT = 7  # every gate passed but drafted values (`# drafted` in the charter or a contract) are unconfirmed
EXIT_INTERRUPTED = 130


class WorkbenchError(Exception):
    """Root of every error the workbench raises on purpose.

    ``what``: one sentence saying what failed. ``where``: the location (``file:line:col``,
    a key path, a notebook cell, a table). ``hint``: what to do next.
    """

    exit_code = EXIT_ERROR

    def __init__(self, what: str, *, where: str | None = None, hint: str | None = None) -> None:
        self.what = what
        self.where = where
        self.hint = hint
        super().__init__(self.message)

    @property
    def message(self) -> str:
        parts = [f"{self.where}: {self.what}" if self.where else self.what]
        if self.hint:
            parts.append(f"Fix: {self.hint}")
        return "\n".join(parts)

    def __str__(self) -> str:
        return self.message


class ConfigError(WorkbenchError):
    """The pilot charter is malformed, incomplete or points at missing files."""


class ContractError(WorkbenchError):
    """Base for data contract problems."""


class ContractSpecError(ContractError):
    """A contract file is malformed: unknown rule or key, wrong type, unknown column."""


class ContractViolation(ContractError):
    """Error-level contract rules failed on the data; the pilot must stop."""


class WarehouseError(WorkbenchError):
    """The DuckDB warehouse could not be used."""


class IngestError(WarehouseError):
    """A source file could not be loaded; the previous table is left intact."""


class WarehouseLockedError(WarehouseError):
    """Another writer, or a kernel holding the file, has the warehouse."""


class EngineError(WarehouseError):
    """The charter's data engine (Spark) could not be started or reached, or refused the work."""


class TrackingError(WorkbenchError):
    """The MLflow tracking store could not be used."""


class StoreLockedError(WorkbenchError):
    """A pilot, an ingest, a promotion or a rollback holds the pilot's store; the message names it."""

    exit_code = EXIT_LOCKED


class ExposureError(WorkbenchError):
    """The MLflow UI or JupyterLab would listen beyond loopback without authentication."""


class StepError(WorkbenchError):
    """A pilot step did not finish."""


class ParameterError(StepError):
    """A step was given a parameter its notebook does not declare (or a wrong type)."""


class CellError(StepError):
    """A notebook cell raised."""


class KernelDiedError(StepError):
    """The kernel died while the notebook ran."""


class StepTimeoutError(StepError):
    """A cell ran longer than the step's timeout."""


class ShellCommandError(StepError):
    """A ``!cmd`` shell line in a notebook cell exited with a non-zero status."""


class StepInterrupted(StepError):
    """The pilot was interrupted (SIGTERM or Ctrl-C) while a step ran."""

    exit_code = EXIT_INTERRUPTED


class EvaluationError(WorkbenchError):
    """A metric, slice or probe could not be computed."""


class PromotionError(WorkbenchError):
    """Gates could not be evaluated, or the registry could not be updated."""


class AuditError(PromotionError):
    """The decision records, their hash chain and the registry disagree."""

    exit_code = EXIT_AUDIT


class MonitorError(WorkbenchError):
    """A production batch could not be monitored (no champion, an unreadable batch)."""
