"""The pilot charter (`pilot.yaml`): load, validate, and hash it.

A charter says who owns the pilot, which question it answers and by which metric, where
the data comes from (with declared types and a contract per source), which notebooks
run with which parameters, the cost model, the gates and the promotion target.
Unknown keys, wrong types and missing files are refused with the file, line, key path
and the fix (see :mod:`workbench.charter.yaml_reader`). Relative paths resolve against the charter's
folder, so `workbench run --pilot other/pilot.yaml` works from anywhere.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import ConfigError
from .drafted import placeholder
from .items import ITEM_TASKS, EvalSet
from .names import TABLE_NAME_RULE, identifier, import_path, table_name_problem
from .yaml_reader import LocatedYaml, load_yaml, raise_for_validation

__all__ = [
    "Charter",
    "Source",
    "Step",
    "CostModel",
    "Task",
    "Gate",
    "ThresholdGate",
    "BaselineGate",
    "ChampionGate",
    "ContractsGate",
    "ProbesGate",
    "SampleSizeGate",
    "SlicesGate",
    "ShiftGate",
    "LeakagePolicy",
    "Promotion",
    "Engine",
    "load_charter",
]

# Why each required key matters: shown when it is missing.
WHY_REQUIRED = {
    "owner": "a pilot needs one person who answers for its decision (e.g. `owner: jane.doe@example.org`)",
    "question": "state the business question the pilot answers, so the result can be judged against it",
    "primary_metric": "name the one metric the decision rests on (e.g. `primary_metric: quality.roc_auc`)",
    "name": "the pilot's name names its MLflow experiment",
    "sources": "a pilot must run on declared data sources, not on data picked by hand",
    "steps": "list the notebook steps to run (profile, baseline, evaluate)",
}

_METRIC = re.compile(r"^[a-z_]+(\.[A-Za-z0-9_]+)+$")
DUCKDB_TYPES = {
    "BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
    "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "DATE", "TIME", "TIMESTAMP", "TIMESTAMPTZ",
    "VARCHAR", "BLOB", "INTERVAL", "UUID", "TIMESTAMP WITH TIME ZONE",
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CsvOptions(_Model):
    delimiter: str = ","
    header: bool = True
    null_string: str | list[str] = "NA"  # one marker, or several (e.g. ["", "NA"])
    quote: str = '"'
    # how DATE and TIMESTAMP columns are written when not ISO (2024-03-15): a strptime format such as
    # "%d.%m.%Y" or "%m/%d/%Y %H:%M" (DuckDB's); every value must match it whole. None: ISO only
    dateformat: str | None = None
    timestampformat: str | None = None
    # the decimal mark of FLOAT, DOUBLE and DECIMAL columns: "," for 1234,5 (Excel in many
    # locales, with delimiter ";"); a thousands separator is refused either way
    decimal: Literal[".", ","] = "."

    @model_validator(mode="after")
    def _marks(self) -> CsvOptions:
        if self.decimal == self.delimiter:
            raise ValueError(f"the decimal mark {self.decimal!r} is also the field delimiter: a file with decimal "
                             "commas separates its fields with another character (delimiter: \";\")")
        return self

    @field_validator("dateformat", "timestampformat")
    @classmethod
    def _format(cls, value: str | None) -> str | None:
        if value is not None and "%" not in value:
            raise ValueError(f"'{value}' is not a strptime format: write it with % codes, e.g. \"%d.%m.%Y\" "
                             "(day.month.year) or \"%m/%d/%Y %H:%M\"")
        return value


class Source(_Model):
    path: Path
    format: Literal["csv", "parquet", "jsonl"] = "csv"  # jsonl: one JSON object a line
    columns: dict[str, str] = Field(min_length=1)
    contract: Path | None = None
    csv: CsvOptions = CsvOptions()
    description: str = ""

    @field_validator("columns")
    @classmethod
    def _types(cls, value: dict[str, str]) -> dict[str, str]:
        out = {}
        for col, typ in value.items():
            base = str(typ).upper().split("(")[0].strip()
            if base not in DUCKDB_TYPES and not base.startswith("DECIMAL"):
                raise ValueError(
                    f"column '{col}' has unknown type '{typ}'; use a DuckDB type such as "
                    "INTEGER, BIGINT, DOUBLE, VARCHAR, BOOLEAN, DATE, TIMESTAMP, DECIMAL(18,2)"
                )
            out[col] = str(typ).upper()
        return out


# Parameters the runner injects into every notebook: a step may not set them.
INJECTED = ("run_id", "tracking_uri", "warehouse", "pilot_name", "step_name", "cost_model", "task", "spec",
            "pilot_root", "engine", "charter_path")


class Step(_Model):
    name: str
    notebook: Path
    role: Literal["profile", "baseline", "evaluate", "other"] = "other"
    parameters: dict[str, Any] = {}
    timeout_seconds: int = Field(default=900, gt=0)
    description: str = ""
    metrics: list[str] = []  # what a custom notebook logs beyond the built-in names (for gates)
    # what the executed notebook may keep of its outputs (the head and tail of anything larger)
    max_cell_output_mb: float = Field(default=2.0, gt=0)
    max_output_mb: float = Field(default=20.0, gt=0)

    @field_validator("name")
    @classmethod
    def _ident(cls, value: str) -> str:
        return identifier(value, "a step name")

    @field_validator("parameters")
    @classmethod
    def _not_injected(cls, value: dict[str, Any]) -> dict[str, Any]:
        reserved = sorted(set(value) & set(INJECTED))
        if reserved:
            raise ValueError(f"{', '.join(repr(r) for r in reserved)} is set by the runner for every step and "
                             f"cannot be a step parameter (reserved: {', '.join(INJECTED)}); rename it")
        return value


class CostModel(_Model):
    """What a prediction costs: compute time, API calls, and the human time it replaces;
    and what its mistakes cost (for ``task.threshold: min_cost``)."""

    compute_usd_per_hour: float = Field(default=0.0, ge=0)
    usd_per_call: float = Field(default=0.0, ge=0)
    human_seconds_per_item: float | None = Field(default=None, ge=0)
    human_usd_per_hour: float | None = Field(default=None, ge=0)
    false_positive_usd: float | None = Field(default=None, ge=0)
    false_negative_usd: float | None = Field(default=None, ge=0)


class Task(_Model):
    """What is predicted. ``threshold``: the score at or above which a row is called
    positive (classification): a number, or ``min_cost`` to pick the threshold that
    minimises the cost model's false-positive/false-negative cost on a validation part
    of the training split."""

    # text-classification, retrieval: judged on an eval set (`eval_set:`, workbench.charter.items)
    # multiclass: tabular classification over three or more classes (workbench.measure.modeling.multiclass)
    kind: Literal["classification", "regression", "multiclass", "text-classification", "extraction", "retrieval",
                  "answer"]
    target: str
    positive_label: Any = 1
    # multiclass: the classes in their order (ordered categories keep it: tables, plots, the confusion
    # matrix); None: the distinct target values, sorted. A target value outside the list is refused.
    classes: list[Any] | None = None
    threshold: float | Literal["min_cost"] = 0.5

    @field_validator("threshold")
    @classmethod
    def _threshold(cls, value: Any) -> Any:
        if isinstance(value, float) and not 0.0 <= value <= 1.0:
            raise ValueError("a decision threshold is a score in [0, 1], or `min_cost`")
        return value


class FeatureView(_Model):
    """The modeling table: one source table, or a SQL query over the warehouse tables.

    Every column but the target (and ``exclude``) is a feature. ``categorical`` forces
    integer-coded columns to be treated as categories."""

    table: str | None = None
    sql: str | None = None
    exclude: list[str] = []
    categorical: list[str] = []

    @model_validator(mode="after")
    def _one(self) -> FeatureView:
        if (self.table is None) == (self.sql is None):
            raise ValueError("give exactly one of `table:` (a source name) or `sql:` (a SELECT over the warehouse)")
        return self


class TrainSample(_Model):
    """Fit on at most ``rows`` rows of the training split, drawn in DuckDB with ``seed``
    (stratified on the target for classification); a smaller split is used whole."""

    rows: int = Field(ge=1)
    seed: int = 0


class Split(_Model):
    """How rows divide into training and held-out evaluation.

    ``temporal``: on ``column``, ``train: [from, to]`` and ``evaluate: [from, to]``
    (inclusive; numbers or ISO dates). ``random``: ``test_size`` of the rows, drawn with
    ``seed``, stratified on the target for classification unless ``stratify: false``.
    ``group``: every row of a value of ``column`` (a customer, a patient, a device) on the
    same side, about ``test_size`` of the values held out (drawn with ``seed``): the model
    is judged on entities it never saw.
    ``train_sample: {rows, seed}``: train on a sample of the training split (bounded
    memory at any table size); the held-out rows are always scored in full.
    ``cluster``: a temporal or random split's column whose rows are one unit of evidence (a
    customer's months): every paired interval counts its values, not rows, and the
    sample-size gate its held-out values too. A group split's column is its own unit."""

    kind: Literal["temporal", "random", "group"]
    column: str | None = None
    cluster: str | None = None
    train: list[Any] | None = None
    evaluate: list[Any] | None = None
    test_size: float = Field(default=0.25, gt=0, lt=1)
    seed: int = 0
    stratify: bool = True
    train_sample: TrainSample | None = None

    @model_validator(mode="after")
    def _complete(self) -> Split:
        if self.kind == "group" and not self.column:
            raise ValueError("a group split needs `column:` (the entity whose rows stay together, e.g. customer_id)")
        if self.kind == "group" and self.cluster is not None and self.cluster != self.column:
            raise ValueError("a group split's unit of evidence is its `column:`; leave `cluster:` out")
        if self.kind == "temporal":
            missing = [k for k in ("column", "train", "evaluate") if getattr(self, k) is None]
            if missing:
                raise ValueError(f"a temporal split needs {', '.join(missing)} "
                                 "(e.g. column: month, train: [1, 9], evaluate: [10, 12])")
            for key in ("train", "evaluate"):
                if len(getattr(self, key)) != 2:
                    raise ValueError(f"`{key}` is a range [from, to] (inclusive)")
        return self


class Baseline(_Model):
    """Today's rule, the bar every candidate must clear.

    ``sql``: an SQL expression over a feature row (``expression:``), a score or a value;
    ``group_rate``: the training split's rate (or mean) per group of ``groups``, falling
    back to coarser groups (dropping the last key) below ``min_rows`` rows, then to the
    overall rate; ``prior``: the training split's positive rate or mean for every row.
    ``statistic`` (regression, ``prior`` and ``group_rate``): the constant a group gets, the
    ``mean`` or the ``median``; unset, the one the primary metric favours (the median for
    quality.mae: a mean is no fair bar for an absolute error on a skewed target); ``last``,
    under a temporal split: the target's value at the latest training time (of each group):
    the naive forecast a series or a panel is judged against, where a median of all its past
    is a straw man for anything that trends.
    For a baseline of your own, point the baseline step at your notebook instead."""

    kind: Literal["sql", "group_rate", "prior"]
    expression: str | None = None
    groups: list[str] = []
    min_rows: int = Field(default=30, ge=1)
    statistic: Literal["mean", "median", "last"] | None = None

    @model_validator(mode="after")
    def _complete(self) -> Baseline:
        if self.kind == "sql" and not (self.expression or "").strip():
            raise ValueError("a `sql` baseline needs `expression:` (e.g. CASE WHEN balance > 1800 THEN 1 ELSE 0 END)")
        if self.kind == "group_rate" and not self.groups:
            raise ValueError("a `group_rate` baseline needs `groups:` (the columns today's rule groups by)")
        return self


class Candidate(_Model):
    """A scikit-learn-compatible estimator named by import path, with its parameters.

    It gets the workbench's standard preprocessing (numbers, categories, nulls, unseen
    categories). Rows with a null in ``fallback_on_null`` are served by the baseline
    (the degraded mode) and counted."""

    name: str
    estimator: str
    params: dict[str, Any] = {}
    fallback_on_null: list[str] = []

    @field_validator("name")
    @classmethod
    def _ident(cls, value: str) -> str:
        return identifier(value, "a candidate name")

    @field_validator("estimator")
    @classmethod
    def _path(cls, value: str) -> str:
        return import_path(value, "sklearn.ensemble.HistGradientBoostingClassifier")


class ServiceLevels(_Model):
    """What the live system must keep."""

    latency_p95_ms: float | None = Field(default=None, gt=0)
    cost_per_1k_usd: float | None = Field(default=None, ge=0)


class Monitoring(_Model):
    """Thresholds every production batch is checked against (`workbench monitor`)."""

    input_psi: float | None = Field(default=None, gt=0)  # per input column
    prediction_psi: float | None = Field(default=None, gt=0)
    # on `quality_metric`, once labels arrive: a number, or `baseline` (today's rule's value
    # on the held-out rows of the pilot that promoted the champion)
    min_quality: float | Literal["baseline"] | None = None
    quality_metric: str | None = None  # default: the charter's primary metric
    max_fallback_share: float | None = Field(default=None, ge=0, le=1)  # refused or degraded items


class Rollback(_Model):
    """When the workbench proposes `workbench rollback` (it never rolls back by itself):
    after this many consecutive monitored batches breaching quality, or fallback share."""

    quality_breaches: int | None = Field(default=None, ge=1)
    fallback_breaches: int | None = Field(default=None, ge=1)


class ProductionPlan(_Model):
    """The plan for after the GO, required before the first promotion (a gate checks it)."""

    on_call: str | None = None
    service_levels: ServiceLevels = ServiceLevels()
    monitoring: Monitoring = Monitoring()
    degraded_mode: Literal["baseline"] = "baseline"  # which fallback serves: today's rule
    rollback: Rollback = Rollback()
    batch_source: str | None = None  # the source a monitored batch replaces (default: the feature table)
    items_per_month: int | None = Field(default=None, ge=0)  # expected volume: an LLM's projected monthly cost

    def missing(self) -> list[str]:
        """The keys a complete plan still lacks (empty: complete). A placeholder (TODO, an
        example address, a generic name) counts as missing."""
        out = []
        why = placeholder(self.on_call)
        if why:
            out.append(f"production.on_call (who is paged: {why})")
        for key in ("latency_p95_ms", "cost_per_1k_usd"):
            if getattr(self.service_levels, key) is None:
                out.append(f"production.service_levels.{key}")
        for key in ("input_psi", "prediction_psi", "min_quality", "max_fallback_share"):
            if getattr(self.monitoring, key) is None:
                out.append(f"production.monitoring.{key}")
        if self.rollback.quality_breaches is None and self.rollback.fallback_breaches is None:
            out.append("production.rollback (quality_breaches and/or fallback_breaches)")
        return out


class ModelSpec(_Model):
    """What the generic baseline and evaluate notebooks build: the charter's `features`,
    `split`, `baseline` and `candidates` (injected into them as the `spec` parameter)."""

    features: FeatureView | None = None
    split: Split | None = None
    baseline: Baseline | None = None
    candidates: list[Candidate] = []
    eval_set: EvalSet | None = None  # eval-set pilots (text-classification, retrieval)


def _metric(value: str) -> str:
    if not _METRIC.match(value):
        raise ValueError(
            f"'{value}' is not a metric name; use '<group>.<name>' such as quality.roc_auc, "
            "latency.p95_ms or cost.per_1k_usd"
        )
    return value


class _Gate(_Model):
    name: str | None = None


class ThresholdGate(_Gate):
    """An absolute threshold: `quality.roc_auc >= 0.70`, `latency.p95_ms <= 50`."""

    kind: Literal["threshold"]
    metric: str
    op: Literal[">=", ">", "<=", "<"]
    value: float
    _m = field_validator("metric")(classmethod(lambda cls, v: _metric(v)))


class BaselineGate(_Gate):
    """Better than the baseline by at least a relative margin (0.05 = 5 %)."""

    kind: Literal["vs_baseline"]
    metric: str
    min_relative_improvement: float = 0.0
    higher_is_better: bool | None = None  # None: from the metric registry (workbench.measure.metrics)
    _m = field_validator("metric")(classmethod(lambda cls, v: _metric(v)))


class ChampionGate(_Gate):
    """No worse than the current champion by more than an absolute margin (``max_regression``),
    or, with ``min_improvement``, better than it by at least that much (absolute)."""

    kind: Literal["vs_champion"]
    metric: str
    max_regression: float = Field(default=0.0, ge=0)
    min_improvement: float = Field(default=0.0, ge=0)
    higher_is_better: bool | None = None  # None: from the metric registry (workbench.measure.metrics)
    _m = field_validator("metric")(classmethod(lambda cls, v: _metric(v)))

    @model_validator(mode="after")
    def _one_margin(self) -> ChampionGate:
        if self.max_regression and self.min_improvement:
            raise ValueError("give one of `max_regression:` (the loss tolerated) or `min_improvement:` (the gain "
                             "required), not both")
        return self


class ContractsGate(_Gate):
    """No error-level contract failure in this pilot run."""

    kind: Literal["contracts"]


class ProbesGate(_Gate):
    """No robustness probe crashed the candidate."""

    kind: Literal["probes"]


class SlicesGate(_Gate):
    """No slice worse than the champion's same slice by more than `margin`."""

    kind: Literal["slices"]
    metric: str
    margin: float = Field(default=0.05, ge=0)
    min_rows: int = Field(default=200, ge=1)  # smaller slices are reported, not gated: their metric is noise
    higher_is_better: bool | None = None  # None: from the metric registry (workbench.measure.metrics)
    _m = field_validator("metric")(classmethod(lambda cls, v: _metric(v)))


class ShiftGate(_Gate):
    """The held-out rows look like the training rows: no feature's PSI above ``max_psi``,
    no feature with more than ``max_unseen_share`` of held-out rows in a category the
    training rows never had (read from the evaluate step: ``shift.*``). None: not gated."""

    kind: Literal["shift"]
    max_psi: float | None = Field(default=0.25, gt=0)
    max_unseen_share: float | None = Field(default=0.05, ge=0, le=1)


class SampleSizeGate(_Gate):
    """Enough held-out rows, and rows of each class, to judge any difference (README,
    "Differences you can trust"). Every promotion applies it with these defaults (those of
    workbench.measure.stats); declare it to change them."""

    kind: Literal["sample_size"]
    min_rows: int = Field(default=100, ge=1)
    min_per_class: int = Field(default=30, ge=1)  # classification only
    min_groups: int = Field(default=30, ge=2)  # a group split only: held-out groups (its independent units)


Gate = Annotated[
    ThresholdGate | BaselineGate | ChampionGate | ContractsGate | ProbesGate | SlicesGate | ShiftGate | SampleSizeGate,
    Field(discriminator="kind"),
]


class LeakagePolicy(_Model):
    """Leakage findings a person has looked at: ``acknowledged: {feature: reason}``. An
    acknowledged feature no longer blocks a GO; the reason is kept in the decision record."""

    acknowledged: dict[str, str] = {}

    @field_validator("acknowledged")
    @classmethod
    def _reasons(cls, value: dict[str, str]) -> dict[str, str]:
        blank = [k for k, v in value.items() if not str(v or "").strip()]
        if blank:
            raise ValueError(f"acknowledging {', '.join(repr(b) for b in blank)} needs a written reason, e.g. "
                             "`leakage: {acknowledged: {fee: \"set when the loan is offered, before the decision\"}}`")
        return {k: str(v).strip() for k, v in value.items()}


class Promotion(_Model):
    model_name: str
    alias: str = "champion"
    candidate: str | None = None  # which candidate to promote; default: best on the primary metric

    @field_validator("alias")
    @classmethod
    def _alias(cls, value: str) -> str:
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_-]*$", value) or value.lower() == "latest":
            raise ValueError("an alias must be a name such as `champion` (and not `latest`, which MLflow reserves)")
        return value


class ConfirmedValue(_Model):
    """A drafted value a person confirmed (`workbench confirm` appends these)."""

    key: str
    file: str = ""
    text: str = ""
    by: str
    at: str
    why: str = ""  # why it was drafted (the tag's words); empty in confirmations logged before it was kept


_SPARK_MASTER = re.compile(r"^(local(\[(\d+|\*)(,\s*\d+)?\])?|(spark|sc|k8s)://\S+|yarn)$")


class Engine(_Model):
    """Where the data steps run (README, "Scale"): embedded DuckDB (the default: nothing
    to set up) or Apache Spark (the `spark` extra, `make setup-spark`) for tables no single
    machine holds. Training and per-pilot results stay on the driver either way."""

    kind: Literal["duckdb", "spark"] = "duckdb"
    # Spark only: local[N] on this machine, spark://host:7077, or a Spark Connect address sc://host:15002
    master: str | None = None
    conf: dict[str, str | int | float | bool] = {}  # Spark configuration (spark.driver.memory: 6g, ...)
    lake: Path = Path("data/lake")  # where ingested sources live, as partitioned Parquet (Spark)

    @field_validator("master")
    @classmethod
    def _master(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not _SPARK_MASTER.match(value):
            raise ValueError(f"{value!r} is not a Spark master: use local[2] (this machine, two cores), "
                             "spark://HOST:7077 (a standalone cluster) or sc://HOST:15002 (Spark Connect)")
        return value

    @field_validator("conf")
    @classmethod
    def _conf(cls, value: dict[str, Any]) -> dict[str, Any]:
        bad = sorted(k for k in value if not str(k).startswith("spark."))
        if bad:
            raise ValueError(f"{', '.join(repr(k) for k in bad)} is not a Spark setting: every key starts with "
                             "'spark.' (e.g. spark.driver.memory: 6g, spark.sql.shuffle.partitions: 8)")
        return value

    @model_validator(mode="after")
    def _spark_only(self) -> Engine:
        if self.kind == "duckdb" and (self.master is not None or self.conf):
            key = "master" if self.master is not None else "conf"
            raise ValueError(f"`{key}` is a Spark setting but the engine is duckdb: set `kind: spark` "
                             f"or remove `{key}`")
        return self

    @property
    def spark_master(self) -> str:
        return self.master or "local[2]"


class Charter(_Model):
    name: str
    owner: str
    question: str
    primary_metric: str
    description: str = ""
    warehouse: Path = Path("data/warehouse.duckdb")
    # the engine the data steps run on; duckdb unless the charter says otherwise (README, "Scale")
    engine: Engine = Engine()
    task: Task | None = None
    cost: CostModel = CostModel()
    sources: dict[str, Source] = Field(min_length=1)
    features: FeatureView | None = None
    split: Split | None = None
    baseline: Baseline | None = None
    candidates: list[Candidate] = []
    eval_set: EvalSet | None = None  # the items an eval-set pilot is judged on (workbench.charter.items)
    steps: list[Step] = Field(min_length=1)
    gates: list[Gate] = []
    promotion: Promotion | None = None
    production: ProductionPlan | None = None
    leakage: LeakagePolicy = LeakagePolicy()  # leakage findings acknowledged, each with a reason
    # a team tracking server (`mlflow server --serve-artifacts`); $WORKBENCH_TRACKING_URI wins;
    # none: the pilot's own store, mlruns/ beside the charter
    tracking_uri: str | None = None
    # drafted values a person confirmed, who and when (the decision record keeps them)
    confirmed: list[ConfirmedValue] = []

    # where the charter came from (not part of the YAML)
    path: Path = Field(default=Path("pilot.yaml"), exclude=True)
    root: Path = Field(default=Path("."), exclude=True)
    sha256: str = Field(default="", exclude=True)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", value):
            raise ValueError("a pilot name may hold letters, digits, '.', '_' and '-' only (it names the experiment)")
        return value

    @field_validator("tracking_uri")
    @classmethod
    def _tracking_uri(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not re.match(r"^https?://[^/@\s]+(/\S*)?$", value):
            raise ValueError("must be the http(s):// URL of an MLflow tracking server (e.g. http://127.0.0.1:5001, "
                             "which `make tracking-server` serves), without credentials (MLflow reads them from "
                             "MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD); omit it for the pilot's own store")
        return value.rstrip("/")

    @field_validator("owner", "question")
    @classmethod
    def _non_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @field_validator("primary_metric")
    @classmethod
    def _primary(cls, value: str) -> str:
        return _metric(value)

    @field_validator("sources")
    @classmethod
    def _source_names(cls, value: dict[str, Source]) -> dict[str, Source]:
        # A source name is its warehouse table's name; every SQL statement quotes it, so SQL
        # keywords (`default`), spaces and mixed case are fine (workbench/charter/names.py).
        seen: dict[str, str] = {}
        for name in value:
            problem = table_name_problem(name)
            if problem:
                raise ValueError(f"source name {name!r} {problem}; it names a warehouse table: {TABLE_NAME_RULE}")
            other = seen.setdefault(name.lower(), name)
            if other != name:
                raise ValueError(f"source names {other!r} and {name!r} differ only in case; DuckDB table names "
                                 "ignore case, so they would be one table: rename one")
        return value

    @model_validator(mode="after")
    def _steps(self) -> Charter:
        names = [s.name for s in self.steps]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"step names must be unique; repeated: {', '.join(dupes)}")
        cands = [c.name for c in self.candidates]
        dupes = sorted({n for n in cands if cands.count(n) > 1})
        if dupes:
            raise ValueError(f"candidate names must be unique; repeated: {', '.join(dupes)}")
        if self.baseline is not None and self.baseline.statistic == "last" and (
                self.split is None or self.split.kind != "temporal" or self.task is None
                or self.task.kind != "regression"):
            raise ValueError("baseline `statistic: last` carries the target's latest training value forward: it "
                             "needs a regression task and a temporal split (`split: {kind: temporal, column: ...}`)")
        return self

    def modeling(self) -> ModelSpec:
        """The modeling spec the generic notebooks read (injected as their `spec`)."""
        baseline = self.baseline
        unset = baseline is None or (baseline.kind != "sql" and baseline.statistic is None)
        if self.task.kind == "regression" and unset:
            # the constant that minimises the primary metric: the median for an absolute error
            statistic = "median" if self.primary_metric == "quality.mae" else "mean"
            baseline = (baseline or Baseline(kind="prior")).model_copy(update={"statistic": statistic})
        return ModelSpec(features=self.features, split=self.split, baseline=baseline,
                         candidates=self.candidates, eval_set=self.eval_set)

    # -- helpers -----------------------------------------------------------------------
    def resolve(self, path: Path) -> Path:
        return path if path.is_absolute() else (self.root / path)

    @property
    def warehouse_path(self) -> Path:
        return self.resolve(self.warehouse)

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise ConfigError(
            f"no step named '{name}'",
            where=str(self.path),
            hint=f"choose one of: {', '.join(s.name for s in self.steps)}",
        )


def _check_files(charter: Charter, doc: LocatedYaml) -> None:
    problems: list[str] = []
    for name, src in charter.sources.items():
        if not charter.resolve(src.path).is_file():
            problems.append(
                f"{doc.where(('sources', name, 'path'))}: source file {src.path} does not exist "
                "(run `make data` for the demo data, or fix the path; paths are relative to the charter)"
            )
        if src.contract is not None and not charter.resolve(src.contract).is_file():
            problems.append(
                f"{doc.where(('sources', name, 'contract'))}: contract file {src.contract} does not exist "
                "(write it, or draft one with `workbench contracts suggest TABLE`)"
            )
    for i, step in enumerate(charter.steps):
        if not charter.resolve(step.notebook).is_file():
            problems.append(f"{doc.where(('steps', i, 'notebook'))}: notebook {step.notebook} does not exist")
    if problems:
        raise ConfigError(
            f"{len(problems)} missing file(s) named by {doc.path}:\n  " + "\n  ".join(problems),
            hint="fix the paths above",
        )


def _check_semantics(charter: Charter, doc: LocatedYaml) -> None:
    problems: list[str] = []
    if not any(step.role == "baseline" for step in charter.steps):
        problems.append(
            f"{doc.where(('steps',))}: no step has `role: baseline`. A pilot needs a measured baseline "
            "(how the work is done today, on the same evaluation set) — without one no result can say "
            "whether the candidate is better. Add a baseline step, e.g. notebooks/baseline.ipynb with role: baseline"
        )
    needs_task = any(step.role in ("baseline", "evaluate") for step in charter.steps)
    if needs_task and charter.task is None:
        problems.append(
            f"{doc.where(())}: baseline and evaluate steps need `task:` (kind: classification|regression, target: COLUMN)"
        )
    problems += _eval_set_problems(charter, doc)
    if charter.promotion is not None and not charter.gates:
        problems.append(
            f"{doc.where(('promotion',))}: `promotion:` without `gates:` would move the alias on no evidence; "
            "declare the gates a candidate must pass (threshold, vs_baseline, vs_champion, contracts, probes, slices, shift)"
        )
    if problems:
        raise ConfigError(f"the charter {doc.path} is incomplete:\n  " + "\n  ".join(problems), hint="see above")


def _eval_set_problems(charter: Charter, doc: LocatedYaml) -> list[str]:
    """An eval-set task needs `eval_set:` naming declared sources and columns (and the reverse)."""
    kind = charter.task.kind if charter.task else None
    es = charter.eval_set
    if kind in ITEM_TASKS and es is None:
        return [f"{doc.where(('task', 'kind'))}: a {kind} pilot is judged on an eval set: declare `eval_set:` "
                "(source, id, inputs, expected, baseline, candidates; README, \"Text pilots\")"]
    if es is None:
        return []
    if kind not in ITEM_TASKS:
        return [f"{doc.where(('eval_set',))}: `eval_set:` is for task kinds {', '.join(ITEM_TASKS)}; "
                f"the task is {kind}"]
    out = []
    named = [("source", es.source, es.columns()), ("train", es.train, [*es.inputs, es.expected])]
    if es.corpus is not None:
        named.append(("corpus", es.corpus.source, [es.corpus.id, *es.corpus.text]))
    for key, source, columns in named:
        if source is None:
            continue
        where = doc.where(("eval_set", key) if key != "corpus" else ("eval_set", "corpus", "source"))
        if source not in charter.sources:
            out.append(f"{where}: no source named {source!r} (declared: {', '.join(charter.sources)})")
            continue
        missing = [c for c in columns if c not in charter.sources[source].columns]
        if missing:
            out.append(f"{where}: source {source!r} declares no column(s) {', '.join(missing)}")
    if kind == "retrieval" and es.corpus is None:
        out.append(f"{doc.where(('eval_set',))}: a retrieval pilot needs `corpus: {{source, id, text}}`")
    if kind != "answer":  # answer pilots only: expected facts, supporting passages, retrieved passages, a judge
        for key in ("facts", "sources", "judge"):
            if getattr(es, key) is not None:
                out.append(f"{doc.where(('eval_set', key))}: `{key}:` is for `task.kind: answer` (document Q&A); "
                           f"the task is {kind}")
        for i, cand in enumerate(es.candidates):
            if cand.retrieve is not None:
                out.append(f"{doc.where(('eval_set', 'candidates', i, 'retrieve'))}: `retrieve:` fills an answer "
                           f"pilot's {{passages}}; the task is {kind}")
    else:
        for i, cand in enumerate(es.candidates):
            if cand.retrieve is not None and es.corpus is None:
                out.append(f"{doc.where(('eval_set', 'candidates', i, 'retrieve'))}: candidate '{cand.name}' retrieves "
                           "passages, but the eval set declares no `corpus: {source, id, text}` to retrieve them from")
    if es.judge is None:  # a judge's score needs a recorded judge (and, at decision time, its agreement)
        for i, gate in enumerate(charter.gates):
            if "judge_score" in str(getattr(gate, "metric", "") or ""):
                out.append(f"{doc.where(('gates', i, 'metric'))}: gate '{gate.name or gate.kind}' names an LLM "
                           "judge's score, but the eval set declares no `judge:` (base_url, model, prompt, "
                           "min_agreement)")
    if es.judge is not None and not charter.resolve(Path(es.judge.prompt)).is_file():
        out.append(f"{doc.where(('eval_set', 'judge', 'prompt'))}: no prompt template file {es.judge.prompt} "
                   "(paths are relative to the charter; {reference}, {response} and the input columns)")
    if es.output_schema is not None and not charter.resolve(Path(es.output_schema)).is_file():
        out.append(f"{doc.where(('eval_set', 'output_schema'))}: no JSON schema file {es.output_schema} "
                   "(paths are relative to the charter)")
    if charter.task is not None and charter.task.target != es.expected:
        out.append(f"{doc.where(('task', 'target'))}: the task's target {charter.task.target!r} must be the eval "
                   f"set's expected column {es.expected!r}")
    return out


def load_charter(path: Path | str, *, check_files: bool = True) -> Charter:
    """Load and validate a charter; every problem is reported, located, in one error."""
    path = Path(path)
    doc = load_yaml(path, ConfigError, what="pilot charter")
    reserved = [k for k in ("path", "root", "sha256") if k in doc.data]
    if reserved:  # set by the loader from the file itself, never by the file
        raise ConfigError(
            f"unknown key(s) {', '.join(repr(k) for k in reserved)}",
            where=doc.where((reserved[0],)),
            hint="remove them; see the README's charter reference for the valid keys",
        )
    try:
        charter = Charter.model_validate(doc.data)
    except ValidationError as exc:
        raise_for_validation(exc, doc, Charter, ConfigError, hints=WHY_REQUIRED)
        raise  # unreachable: raise_for_validation always raises
    raw = path.read_bytes()
    charter = charter.model_copy(
        update={
            "path": path,
            "root": path.resolve().parent,
            "sha256": hashlib.sha256(raw).hexdigest(),
        }
    )
    _check_semantics(charter, doc)
    if check_files:
        _check_files(charter, doc)
    return charter


def charter_json(charter: Charter) -> str:
    """Canonical JSON of the charter (for hashing and artifacts)."""
    return json.dumps(charter.model_dump(mode="json"), sort_keys=True, indent=2)
