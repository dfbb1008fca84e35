"""One interface for the data work of a pilot, whatever runs it.

A :class:`DataEngine` reads a declared source into a table (strictly typed, file:line
errors, nothing half-written), runs SQL written in DuckDB's dialect (Spark translates it
with sqlglot), writes a query's result as a table, fingerprints a table, validates a
contract with Great Expectations, profiles a table and scores a batch with a
logged MLflow model. Results that training and reports need come back to the driver as
Arrow tables, so measuring, deciding and showing stay the same on every engine.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

    from ...charter.config import Source
    from ..contracts import Contract, ContractResult
    from ..profiling import TableProfile
    from ..warehouse import IngestResult, TableFingerprint

__all__ = ["DataEngine", "ProfileStats", "scoring_copy"]


@dataclass(frozen=True)
class ProfileStats:
    """The aggregate profile numbers of a table: one scan of profiling's statistics SQL
    (row count; per column non-null count, approximate distinct count, min, max, mean,
    standard deviation, skewness, true/false counts), keyed as that SQL names them."""

    table: str
    values: tuple[tuple[str, Any], ...]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.values)


def scoring_copy(model_uri: str, dest: Path) -> tuple[str, list[str]]:
    """(a local copy of the logged model at ``model_uri`` whose integer inputs are declared
    as doubles, those inputs) for batch scoring through MLflow's pyfunc; the caller feeds
    them as doubles. A batch read from a table brings an integer column with a null as
    float64 (NumPy integers have no null), which MLflow's schema enforcement refuses for a
    model whose input example had no null there; the driver's own scoring reads such a
    column as float64 too, and the models turn every input into floats. Nothing else changes."""
    import mlflow.artifacts
    from mlflow.models import Model
    from mlflow.types.schema import ColSpec, DataType, Schema

    with _quiet("mlflow"):
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=str(dest)))
    meta = Model.load(str(local / "MLmodel"))
    inputs = meta.signature.inputs if meta.signature is not None else None
    if inputs is None or inputs.is_tensor_spec():
        return str(local), []
    integral = [c.name for c in inputs.inputs if c.type in (DataType.integer, DataType.long) and c.name]
    if integral:
        meta.signature.inputs = Schema([ColSpec(DataType.double, c.name, c.required) if c.name in integral else c
                                        for c in inputs.inputs])
        meta.save(str(local / "MLmodel"))
    return str(local), integral


class _quiet:
    """Raise a library's logger to ERROR for a block (MLflow warns on every batch-scoring call
    about environments the workbench manages itself)."""

    def __init__(self, *names: str) -> None:
        import logging

        self.loggers = [logging.getLogger(n) for n in names]
        self.levels = [lg.level for lg in self.loggers]

    def __enter__(self) -> None:
        import logging

        for lg in self.loggers:
            lg.setLevel(logging.ERROR)

    def __exit__(self, *exc: object) -> None:
        for lg, level in zip(self.loggers, self.levels, strict=True):
            lg.setLevel(level)


@runtime_checkable
class DataEngine(Protocol):
    kind: str

    def ingest(self, name: str, source: Source, path: Path, *, pii: Collection[str] = (),
               force: bool = False) -> IngestResult:
        """Load ``path`` as table ``name`` with the source's declared types, strictly."""
        ...

    def sql(self, query: str) -> pa.Table:
        """Run a SELECT written in DuckDB's dialect; the result on the driver."""
        ...

    def write_table(self, name: str, query: str) -> TableFingerprint:
        """Store a SELECT's result (DuckDB's dialect) as table ``name``; its fingerprint."""
        ...

    def fingerprint(self, table: str) -> TableFingerprint:
        """Rows, schema and an order-independent content hash, computed by the engine."""
        ...

    def check_contract(self, contract: Contract, **kwargs: Any) -> ContractResult:
        """The contract's rules through Great Expectations on the engine's table."""
        ...

    def profile_stats(self, table: str) -> ProfileStats:
        """The table's aggregate profile numbers, computed by the engine."""
        ...

    def profile(self, table: str, *, bins: int = 20, top_k: int = 10, reference: TableProfile | None = None,
                pii: Collection[str] = ()) -> TableProfile:
        """The table's whole profile (:mod:`workbench.data.profiling`: statistics, quantiles,
        histograms, top values, duplicates; counted on ``reference``'s buckets too), computed
        by the engine; ``pii``: columns profiled as counts only."""
        ...

    def score_batch(self, model_uri: str, table: str, columns: list[str], *,
                    keep: list[str] | None = None) -> pa.Table:
        """The table with a ``prediction`` column from the MLflow model at ``model_uri`` fed
        ``columns``; ``keep``: only these columns besides the prediction (default: all)."""
        ...

    def close(self) -> None:
        ...
