"""The modeling data: the charter's feature view, split into training and held-out rows.

The view is built in DuckDB (a source table, or the charter's SQL over the warehouse) and
split there as the charter says: temporal on a column with inclusive ranges, or random
with a seed (stratified for classification: each class gives its share of the held-out
rows). Memory stays bounded at any table size:

- the training rows are fetched through Arrow (the fast path) into pandas — all of them,
  or, with ``split.train_sample: {rows, seed}``, a sample drawn in DuckDB (stratified for
  classification: each class keeps its share), so the whole split never enters pandas;
- the held-out rows are streamed once, in Arrow record batches, into a scratch DuckDB
  file (:class:`~.heldout.HeldOut`) from which scoring streams them again.

Random draws rank rows by ``hash(hash(position, seed))`` in DuckDB, the position being the
row's place in the view's order (``row_number() OVER ()``): reproducible for a given view, seed
and DuckDB version, whatever the threads. Give a view that joins an ``ORDER BY`` so its order,
and so the draw, is fixed. The outer hash makes each seed a draw of its own: DuckDB's ``hash(a, b)``
XORs a value of ``b`` alone into one of ``a`` alone, so a seed flipped the same bits of every
row's hash, and the rows ranking lowest (or the groups below a cut) were one of a few sets
whatever the seed (4 group splits in 40 seeds; random ones repeated or complemented each other).
Rows whose target is null are dropped and counted. Feature kinds come
from the training rows: numbers (booleans count as numbers) are numeric, text is
categorical, dates and times are left out (a model cannot use them raw: derive e.g. a
month in the SQL view).

Personal data never leaves DuckDB: a column of the view named like a column some
contract marks ``pii: true`` (recorded in the warehouse at ingest) is dropped inside the
query (``SELECT * EXCLUDE (...)``) and listed in ``excluded``; it cannot be the target,
the split column or a slice. A column derived from personal data under another name is
not recognised: name it like its source, or exclude it in the view.
"""

from __future__ import annotations

import contextlib
import math
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ...charter.config import FeatureView, ModelSpec, Split, Task
from ...errors import ConfigError, EvaluationError
from ...data.sql import quote_ident, view_sql
from .heldout import MEMORY_LIMIT, HeldOut

__all__ = ["ModelingData", "load_data", "view_sql", "feature_kinds"]

_VIEW = "__wb_view"  # the view's alias
_POS = "__wb_pos"  # a row's position in the view's order, which random draws hash


@dataclass(frozen=True)
class ModelingData:
    """Training rows (in memory: the training split, or the charter's sample of it), the
    held-out rows (in DuckDB, streamed: :class:`~.heldout.HeldOut`), the feature columns
    and how the rows were split."""

    train: pd.DataFrame
    heldout: HeldOut
    target: str
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    split: dict[str, Any]
    excluded: dict[str, str] = field(default_factory=dict)  # column -> why it is not a feature
    dropped_null_target: int = 0
    personal: tuple[str, ...] = ()  # personal-data columns of the view, never loaded
    train_split_rows: int | None = None  # rows of the training split (None: all are in `train`)
    view: str | None = None  # the feature view's SQL (None: a source table), for the leakage checks
    # held-out rows equal to a row of the whole training split (every feature and the target),
    # counted in the warehouse when the models fit on a sample of it (None: count against `train`)
    split_copies: int | None = None

    @property
    def features(self) -> list[str]:
        return [*self.categorical, *self.numeric]

    @property
    def time_column(self) -> str | None:
        """A temporal split's column (in ``train``: the view's every column is), else None."""
        return self.split.get("column") if self.split.get("kind") == "temporal" else None

    @property
    def X_train(self) -> pd.DataFrame:  # noqa: N802 - the usual name
        return self.train[self.features]

    @property
    def y_train(self) -> pd.Series:
        return self.train[self.target]

    @property
    def eval_rows(self) -> int:
        return self.heldout.rows

    @property
    def evaluate(self) -> pd.DataFrame:
        """Every held-out row in memory — for small tables and tests; :func:`~.assess.assess`
        streams them instead, and :meth:`eval_head` gives the first few."""
        return self.heldout.frame()

    @property
    def X_eval(self) -> pd.DataFrame:  # noqa: N802
        return self.evaluate[self.features]

    @property
    def y_eval(self) -> pd.Series:
        return self.evaluate[self.target]

    def eval_head(self, n: int) -> pd.DataFrame:
        """The first ``n`` held-out rows (features and target), as the models take them."""
        return self.heldout.head(n)

    def summary(self) -> str:
        """One line for a notebook: training and held-out rows, the sample, the split."""
        train = f"{len(self.train):,} training rows"
        if self.train_split_rows is not None and self.train_split_rows > len(self.train):
            seed = (self.split.get("train_sample") or {}).get("seed", 0)
            train += f" (a sample of the {self.train_split_rows:,} in the training split, seed {seed})"
        shown = ", ".join(f"{k}={v}" for k, v in self.split.items() if k != "train_sample")
        return f"{train}, {self.heldout.rows:,} held-out rows ({shown})."

    def fingerprints(self) -> list[dict[str, Any]]:
        """The training and held-out rows as datasets (name, rows, columns, a digest of their
        values), for :meth:`workbench.store.tracking.Store.log_datasets`: what a candidate was
        trained and measured on, comparable across runs by digest."""
        import hashlib

        columns = [*self.features, self.target]
        train = self.train[columns]
        hashed = pd.util.hash_pandas_object(train, index=False).to_numpy()
        held_types = {r[0]: str(r[1]) for r in self.heldout.con.execute("DESCRIBE heldout").fetchall()}
        train_digest = hashlib.sha256(hashed.tobytes() + repr(list(train.dtypes.astype(str))).encode()).hexdigest()
        return [
            {"table": "training rows", "context": "training", "digest": train_digest[:16], "rows": len(train),
             "columns": [(c, str(t)) for c, t in train.dtypes.items()]},
            {"table": "held-out rows", "context": "held-out", "digest": self.heldout.digest(columns)[:16],
             "rows": self.heldout.rows, "columns": [(c, held_types.get(c, "")) for c in columns]},
        ]

    def params(self) -> dict[str, Any]:
        """The split and the features as run parameters (the split, and the training sample
        when there is one, are recorded on the run)."""
        out: dict[str, Any] = {}
        for key, value in self.split.items():
            if isinstance(value, dict):  # train_sample: {rows, seed} -> split.train_sample.rows, ...
                out.update({f"split.{key}.{k}": v for k, v in value.items()})
            else:
                out[f"split.{key}"] = value
        out.update({
            "split.train_rows": len(self.train),
            "split.train_split_rows": self.train_split_rows if self.train_split_rows is not None else len(self.train),
            "split.eval_rows": self.heldout.rows,
            "split.dropped_null_target": self.dropped_null_target,
            "features.numeric": ", ".join(self.numeric),
            "features.categorical": ", ".join(self.categorical),
            "features.excluded": ", ".join(f"{c} ({why})" for c, why in self.excluded.items()),
        })
        if pd.api.types.is_numeric_dtype(self.y_train) and not pd.api.types.is_bool_dtype(self.y_train):
            from ..leakage import grid_step  # the grid a number target is recorded on: near_perfect allows for it

            if (step := grid_step(self.y_train)) is not None:
                out["target.step"] = step
        return out


def feature_kinds(frame: pd.DataFrame, target: str, features: FeatureView,
                  split: Split | None = None) -> tuple[list[str], list[str], dict[str, str]]:
    """(numeric, categorical, excluded) feature columns of a modeling frame, in view order."""
    numeric: list[str] = []
    categorical: list[str] = []
    excluded: dict[str, str] = {c: "excluded in the charter" for c in features.exclude if c in frame.columns}
    if split is not None and split.kind == "group" and split.column in frame.columns and split.column not in excluded:
        excluded[str(split.column)] = "the group split's column: every value is on one side only"
    forced = set(features.categorical)
    for col in frame.columns:
        if col == target or col in excluded:
            continue
        dtype = frame[col].dtype
        if col in forced:
            categorical.append(col)
        elif pd.api.types.is_datetime64_any_dtype(dtype) or isinstance(dtype, pd.DatetimeTZDtype):
            excluded[col] = "date/time: derive numbers from it in the feature view"
        elif pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
            numeric.append(col)
        elif pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype) \
                or isinstance(dtype, pd.CategoricalDtype):
            categorical.append(col)
        else:
            excluded[col] = f"type {dtype} is neither a number nor text"
    return numeric, categorical, excluded


def _fetch(con: Any, sql: str, params: list | None = None, *, where: str) -> pd.DataFrame:
    try:
        return con.sql(sql, params=params or None).to_arrow_table().to_pandas()
    except Exception as exc:  # noqa: BLE001 - DuckDB's own errors carry the SQL problem
        raise _view_error(exc, where) from exc


def _view_error(exc: BaseException, where: str) -> ConfigError:
    return ConfigError(f"the feature view does not run: {str(exc).splitlines()[0]}", where=where,
                       hint="fix `features:` in the charter (a source name, or a SELECT over warehouse tables); "
                       "try it with `duckdb data/warehouse.duckdb`")


def _run(con: Any, sql: str, params: list | None = None, *, where: str) -> list[tuple]:
    try:
        return con.execute(sql, params or []).fetchall()
    except Exception as exc:  # noqa: BLE001 - DuckDB's own errors carry the SQL problem
        raise _view_error(exc, where) from exc


def _normalise(frame: pd.DataFrame, numeric: list[str], categorical: list[str]) -> pd.DataFrame:
    out = frame.copy()
    for col in categorical:  # text with NA, so every model sees the same representation
        out[col] = out[col].astype("string")
    for col in numeric:
        if pd.api.types.is_bool_dtype(out[col].dtype):
            out[col] = out[col].astype("float64")
    return out


def _largest_remainder(total: int, counts: dict[Any, int]) -> dict[Any, int]:
    """``total`` shared among the classes in proportion to ``counts`` (each at most its
    count), rounding by largest remainder so the shares add up exactly."""
    n = sum(counts.values())
    exact = {k: total * c / n for k, c in counts.items()}
    out = {k: min(counts[k], math.floor(v)) for k, v in exact.items()}
    order = sorted(counts, key=lambda k: (-(exact[k] - math.floor(exact[k])), str(k)))
    for k in order:
        if sum(out.values()) >= total:
            break
        if out[k] < counts[k]:
            out[k] += 1
    return out


def _quota_sql(target: str, quotas: dict[Any, Any], value_type: str) -> tuple[str, list]:
    """``CASE WHEN target = ? THEN ? ...`` over the classes (NULL for any other)."""
    parts, params = [], []
    for label, value in quotas.items():
        parts.append(f"WHEN {target} = ? THEN ?::{value_type}")
        params += [label, value]
    return "CASE " + " ".join(parts) + " END", params


def _draw(con: Any, view: str, where_sql: str, where_params: list, target: str, seed: int,
          quotas: dict[Any, int], *, where: str, view_params: list | None = None) -> tuple[str, list]:
    """A predicate keeping, per class (``None``: one draw over all rows), the ``quotas[c]``
    rows of ``view`` (numbered, filtered by ``where_sql``) with the smallest
    ``hash(hash(position, seed))``. One pass: DuckDB keeps the k smallest hashes per class
    (``min(h, k)``), not the rows."""
    h = f"hash(hash({_POS}, ?::BIGINT))"  # the outer hash: each seed its own order (module docstring)
    kmax = max(quotas.values())
    if kmax == 0:
        return "FALSE", []
    if list(quotas) == [None]:
        row = _run(con, f"SELECT list_extract(min({h}, ?), ?) FROM {view} WHERE {where_sql}",
                   [seed, kmax, kmax, *(view_params or []), *where_params], where=where)
        cutoff = row[0][0] if row else None
        return (f"{h} <= ?::UBIGINT", [seed, cutoff]) if cutoff is not None else ("FALSE", [])
    pick, pick_params = _quota_sql(target, quotas, "BIGINT")
    rows = _run(con, f"SELECT {target}, list_extract(min({h}, ?), {pick}) FROM {view} "
                f"WHERE {where_sql} AND {target} IS NOT NULL GROUP BY {target}",
                [seed, kmax, *pick_params, *(view_params or []), *where_params], where=where)
    cutoffs = {label: cutoff for label, cutoff in rows if cutoff is not None and quotas.get(label)}
    if not cutoffs:
        return "FALSE", []
    case, case_params = _quota_sql(target, cutoffs, "UBIGINT")
    return f"coalesce({h} <= {case}, FALSE)", [seed, *case_params]


def _part_counts(con: Any, view: str, parts: list[tuple[str, list]], target: str, classification: bool, *,
                 where: str) -> list[tuple[dict[Any, int], int]]:
    """:func:`_counts` of several (possibly overlapping) parts of ``view`` in one scan."""
    key = target if classification else f"CASE WHEN {target} IS NULL THEN NULL ELSE TRUE END"
    flags = ", ".join(f"coalesce(({sql}), FALSE) AS __wb_in_{i}" for i, (sql, _) in enumerate(parts))
    names = [f"__wb_in_{i}" for i in range(len(parts))]
    rows = _run(con, f"SELECT {', '.join(names)}, __wb_key, count(*) FROM (SELECT {flags}, {key} AS __wb_key "
                f"FROM {view}) WHERE {' OR '.join(names)} GROUP BY ALL",
                [p for _, params in parts for p in params], where=where)
    out = []
    for i in range(len(parts)):
        counts: dict[Any, int] = {}
        nulls = 0
        for row in rows:
            if not row[i]:
                continue
            k, c = row[-2], int(row[-1])
            if k is None:
                nulls += c
            else:
                label = k if classification else None
                counts[label] = counts.get(label, 0) + c
        out.append((counts, nulls))
    return out


def _counts(con: Any, view: str, where_sql: str, params: list, target: str, classification: bool, *,
            where: str) -> tuple[dict[Any, int], int]:
    """({class or None: rows with a target}, rows whose target is null) under ``where_sql``."""
    key = target if classification else f"CASE WHEN {target} IS NULL THEN NULL ELSE TRUE END"
    rows = _run(con, f"SELECT {key} AS __wb_key, count(*) FROM {view} WHERE {where_sql} GROUP BY 1", params,
                where=where)
    nulls = sum(c for k, c in rows if k is None)
    counts = {(k if classification else None): int(c) for k, c in rows if k is not None}
    return counts, int(nulls)


@contextlib.contextmanager
def _bounded(con: Any) -> Iterator[None]:
    """DuckDB's buffer capped at :data:`~.heldout.MEMORY_LIMIT` while the view is read (a
    sort of a large view spills to a private temporary folder instead of growing), then
    restored. The setting is the database instance's: a caller's other cursors share it."""
    import duckdb

    with tempfile.TemporaryDirectory(prefix="workbench-load-") as spill:
        previous: dict[str, str] = {}
        for name, value in (("memory_limit", MEMORY_LIMIT), ("temp_directory", spill)):
            with contextlib.suppress(duckdb.Error):  # temp_directory is refused once the instance spilled
                before = con.execute(f"SELECT current_setting('{name}')").fetchone()[0]
                con.execute(f"SET {name} = '{value}'")
                previous[name] = before
        try:
            yield
        finally:
            for name, before in previous.items():
                with contextlib.suppress(duckdb.Error):
                    con.execute(f"SET {name} = '{before}'")


def load_data(con: Any, spec: ModelSpec, task: Task, *, batch_rows: int = 100_000) -> ModelingData:
    """Build the feature view in DuckDB, split it as the charter declares, fetch the
    training rows (or the declared sample of them) and stream the held-out rows into a
    scratch DuckDB file (``batch_rows`` rows at a time). DuckDB's memory is capped while
    it reads (see :func:`_bounded`)."""
    with _bounded(con):
        return _load(con, spec, task, batch_rows)


def _load(con: Any, spec: ModelSpec, task: Task, batch_rows: int) -> ModelingData:
    if spec.features is None or spec.split is None:
        missing = [k for k in ("features", "split") if getattr(spec, k) is None]
        raise ConfigError(f"the charter has no {' and no '.join(f'`{m}:`' for m in missing)}",
                          where="pilot charter",
                          hint="declare the modeling table (`features: {table: SOURCE}`) and the split "
                          "(`split: {kind: random}`); `workbench new` writes both")
    base = view_sql(spec.features)
    target = quote_ident(task.target)
    where = "pilot charter: features"
    personal = _personal_columns(con, base, where=where)
    for role, column in (("task.target", task.target), ("split.column", spec.split.column),
                         ("split.cluster", spec.split.cluster)):
        if column is not None and str(column) in personal:
            raise ConfigError(f"the {role.split('.')[0]} column '{column}' is personal data (pii: true in its contract)",
                              where=f"pilot charter: {role}",
                              hint="personal data never leaves DuckDB: derive what the model needs in the feature view "
                              "under another name, or choose another column")
    if personal:
        base = f"SELECT * EXCLUDE ({', '.join(quote_ident(c) for c in personal)}) FROM ({base}) AS personal_data_dropped"
    split = spec.split
    columns = [r[0] for r in _run(con, f"DESCRIBE SELECT * FROM ({base}) AS view", where=where)]
    if task.target not in columns:
        raise ConfigError(f"the feature view has no target column '{task.target}'", where=where,
                          hint=f"its columns: {', '.join(map(str, columns))}; fix `task.target` or the view")
    if split.kind in ("temporal", "group") and str(split.column) not in columns:
        raise ConfigError(f"the split column '{split.column}' is not in the feature view", where="pilot charter: split.column",
                          hint=f"its columns: {', '.join(map(str, columns))}")
    if split.cluster is not None and str(split.cluster) not in columns:
        raise ConfigError(f"the cluster column '{split.cluster}' is not in the feature view",
                          where="pilot charter: split.cluster", hint=f"its columns: {', '.join(map(str, columns))}")
    view = f"({base}) AS {_VIEW}"
    numbered = f"(SELECT row_number() OVER () AS {_POS}, * FROM ({base}) AS view) AS {_VIEW}"
    classification = task.kind in ("classification", "multiclass")  # counted and stratified per class
    dropped = 0
    if split.kind == "temporal":
        col = quote_ident(str(split.column))
        train_sql, train_params = f"{col} BETWEEN ? AND ?", list(split.train or [])
        eval_sql, eval_params = f"{col} BETWEEN ? AND ?", list(split.evaluate or [])
    elif split.kind == "group":  # a value's rows on one side: held out when its hash falls below the share
        key = f"hash(hash(coalesce(CAST({quote_ident(str(split.column))} AS VARCHAR), '__wb_null'), ?::BIGINT))"
        cutoff = min(int(split.test_size * 2**64), 2**64 - 1)
        eval_sql, eval_params = f"{key} < ?::UBIGINT", [split.seed, cutoff]
        train_sql, train_params = f"NOT ({eval_sql})", list(eval_params)
    else:
        totals, dropped = _counts(con, view, "TRUE", [], target, classification, where=where)
        if task.kind == "classification":
            _check_binary(list(totals), task)
        n = sum(totals.values())
        n_test = math.ceil(split.test_size * n)
        stratify = classification and split.stratify and len(totals) > 1 and min(totals.values()) >= 2
        quotas = _largest_remainder(n_test, totals) if stratify else {None: n_test}
        held_sql, held_params = _draw(con, numbered, f"{target} IS NOT NULL", [], target, split.seed, quotas,
                                      where=where)
        eval_sql, eval_params = held_sql, held_params
        train_sql, train_params = f"NOT ({held_sql})", held_params
        view = numbered  # the split's predicates need the positions
    if split.kind in ("temporal", "group"):  # one scan counts both parts
        (train_counts, train_nulls), (eval_counts, eval_nulls) = _part_counts(
            con, view, [(train_sql, train_params), (eval_sql, eval_params)], target, classification, where=where)
        dropped = train_nulls + eval_nulls
    else:
        train_counts, _ = _counts(con, view, train_sql, train_params, target, classification, where=where)
        eval_counts = {k: totals[k] - train_counts.get(k, 0) for k in totals}
    train_split_rows = sum(train_counts.values())
    nulls = {"training": train_nulls, "evaluation": eval_nulls} if split.kind in ("temporal", "group") else {}
    for name, rows in (("training", train_split_rows), ("evaluation", sum(eval_counts.values()))):
        if rows == 0:
            # rows there, none with a target value: a log kept on after its outcome stopped being recorded
            unlabelled = (f" of rows with a {task.target} value ({nulls[name]:,} rows fall in it, none with one)"
                          if nulls.get(name) else "")
            raise EvaluationError(f"the {name} split is empty{unlabelled}", where="pilot charter: split",
                                  hint=f"split by a column with more values than '{split.column}', or try another "
                                  "`seed:`" if split.kind == "group" else
                                  "check the split's ranges against the data (`workbench profile` shows them)"
                                  + ("; end them where the target is still recorded (`workbench new` drafts "
                                     "them so)" if unlabelled else ""))
    if task.kind == "classification":
        _check_binary(list(dict.fromkeys([*train_counts, *eval_counts])), task)
    elif task.kind == "multiclass":
        _check_classes(train_counts, eval_counts, task)
    sample = split.train_sample
    star = f"* EXCLUDE ({_POS})" if view == numbered else "*"
    query, params = f"SELECT {star} FROM {view} WHERE ({train_sql}) AND {target} IS NOT NULL", train_params
    if sample is not None and sample.rows < train_split_rows:
        # positions among the training rows (a temporal split numbers only those: a smaller sort)
        training = (f"(SELECT row_number() OVER () AS {_POS}, {star} FROM {view} "
                    f"WHERE ({train_sql}) AND {target} IS NOT NULL) AS {_VIEW}")
        quotas = _largest_remainder(sample.rows, train_counts) if classification and len(train_counts) > 1 \
            else {None: sample.rows}
        keep_sql, keep_params = _draw(con, training, "TRUE", [], target, sample.seed, quotas, where=where,
                                      view_params=train_params)
        query, params = f"SELECT * EXCLUDE ({_POS}) FROM {training} WHERE {keep_sql}", [*train_params, *keep_params]
    train = _fetch(con, query, params, where=where)
    numeric, categorical, excluded = feature_kinds(train, task.target, spec.features, split)
    if not numeric and not categorical:
        raise ConfigError("the feature view has no usable feature column", where=where,
                          hint="add columns to the view, or remove them from `features.exclude`")
    try:
        reader = con.sql(f"SELECT {star} FROM {view} WHERE ({eval_sql}) AND {target} IS NOT NULL",
                         params=eval_params or None).to_arrow_reader(int(batch_rows))
    except Exception as exc:  # noqa: BLE001 - DuckDB's own errors carry the SQL problem
        raise _view_error(exc, where) from exc
    held = HeldOut.copy(reader)
    # the unit of every interval: a group split's column, or the rows of a `cluster:` value
    held.group_column = str(split.column) if split.kind == "group" else split.cluster
    if held.group_column is None and split.kind == "temporal":
        held.group_column, held.group_sql = _series_blocks(held, str(split.column)) or (None, None)
    copies = None
    if sample is not None and sample.rows < train_split_rows and split.kind == "random":
        # the models saw a sample, but a held-out row copied from any training row is no held-out
        # row: counted against the whole training split here, where it is (one more scan; only a
        # random split can put copies of one record on both sides: leakage.check_data)
        key = "hash(" + ", ".join(quote_ident(c) for c in [*categorical, *numeric, task.target]) + ")"
        copies = int(_run(con, f"SELECT count(*) FROM {view} WHERE ({eval_sql}) AND {target} IS NOT NULL AND {key} IN "
                          f"(SELECT {key} FROM {view} WHERE ({train_sql}) AND {target} IS NOT NULL)",
                          [*eval_params, *train_params], where=where)[0][0])
    held.prepare = lambda frame: _normalise(frame, [c for c in numeric if c in frame.columns],
                                            [c for c in categorical if c in frame.columns])
    recorded = split.model_dump(mode="json", exclude_none=True)
    if split.kind == "temporal":
        for key in ("test_size", "seed", "stratify"):
            recorded.pop(key, None)
    if split.kind == "group":
        recorded.pop("stratify", None)
    excluded.update({c: "personal data (pii: true in its contract): never loaded" for c in personal})
    return ModelingData(_normalise(train, numeric, categorical), held, task.target, tuple(numeric), tuple(categorical),
                        recorded, excluded, dropped, tuple(personal), train_split_rows, spec.features.sql, copies)


SERIES_BLOCKS = 30  # the units a series' held-out periods are cut into at least: the sample-size gate's groups


def _series_blocks(held: HeldOut, column: str) -> tuple[str, str] | None:
    """A series held out on its time, one row a period: neighbouring periods' errors move
    together (a level a model misses for weeks on end), so its rows are no independent units,
    and intervals on them are too narrow. Blocks of consecutive periods, :data:`SERIES_BLOCKS`
    of them at least, are the units instead (batch means). (The name the units are shown by,
    the SQL of a row's block on ``heldout`` joined as ``h``), or None: several rows a period
    (events; a panel, whose `cluster:` says its unit), or fewer than two periods a block."""
    if column not in held.columns:
        return None
    t = quote_ident(column)
    rows, periods = held.con.execute(f"SELECT count(*), count(DISTINCT {t}) FROM heldout").fetchall()[0]
    width = rows // SERIES_BLOCKS
    if periods != rows or width < 2:
        return None
    return (f"{width} consecutive {column} values",
            f"CAST((dense_rank() OVER (ORDER BY h.{t}) - 1) // {width} AS VARCHAR)")


def _personal_columns(con: Any, base: str, *, where: str) -> list[str]:
    """Columns of the view named like a personal-data column of a warehouse table."""
    from ...data.warehouse import pii_columns

    marked = {c for cols in pii_columns(con).values() for c in cols}
    if not marked:
        return []
    try:
        names = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM ({base}) AS view").fetchall()]
    except Exception as exc:  # noqa: BLE001 - DuckDB's own errors carry the SQL problem
        raise ConfigError(f"the feature view does not run: {str(exc).splitlines()[0]}", where=where,
                          hint="fix `features:` in the charter (a source name, or a SELECT over warehouse tables)") from exc
    return [n for n in names if n in marked]


def _check_binary(values: list[Any], task: Task) -> None:
    """``values``: the distinct targets of both splits (nulls dropped)."""
    if len(values) > 2:
        shown = ", ".join(map(repr, list(values)[:6]))
        raise ConfigError(f"classification here is binary, but the target '{task.target}' has {len(values)} values ({shown})",
                          where="pilot charter: task",
                          hint="binarise it in the feature view (e.g. `(grade = 'A')::INTEGER AS target`), "
                          "or use `kind: multiclass` (three or more classes) or `kind: regression`")
    positive = task.positive_label
    if not any(_same(v, positive) for v in values):
        raise ConfigError(f"task.positive_label {positive!r} never occurs in the target '{task.target}' "
                          f"(values: {', '.join(map(repr, values))})", where="pilot charter: task.positive_label",
                          hint="set it to the value that marks the positive class")


def _check_classes(train_counts: dict[Any, int], eval_counts: dict[Any, int], task: Task) -> None:
    """Multiclass: every held-out class is known — declared in ``task.classes`` or seen in training
    (a model cannot answer a class it never saw; the metrics need it among the classes)."""
    from .multiclass import label_key

    known = {label_key(v) for v, n in train_counts.items() if n} | {label_key(v) for v in task.classes or ()}
    unseen = [v for v, n in eval_counts.items() if n and label_key(v) not in known]
    if unseen:
        raise ConfigError(f"held-out rows of the target '{task.target}' hold class(es) the training rows never do: "
                          f"{', '.join(map(repr, unseen[:6]))}", where="pilot charter: split",
                          hint="split so that every class is in training (a random split is stratified), or list "
                          "the classes in `task.classes`")
    if task.classes:
        declared = {label_key(c) for c in task.classes}
        outside = [v for v in dict.fromkeys([*train_counts, *eval_counts]) if label_key(v) not in declared]
        if outside:
            raise ConfigError(f"the target '{task.target}' has value(s) outside task.classes: "
                              f"{', '.join(map(repr, outside[:6]))}", where="pilot charter: task.classes",
                              hint="add them to `classes:` (in their order), or filter them out in the feature view")


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) or (isinstance(a, (int, float, np.number)) and float(a) == float(b))
    except (TypeError, ValueError):
        return str(a) == str(b)
