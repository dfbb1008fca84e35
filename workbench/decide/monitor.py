"""After the GO: every new batch checked, scored by `@champion`, compared with what the
pilot was judged on, and judged against the charter's production plan.

:func:`monitor_batch` takes one batch file (CSV or Parquet, the source's declared types):

1. ingests it strictly into a scratch DuckDB file beside copies of the pilot's other
   tables, and checks it against the source's contract — an error-level failure refuses
   the batch and nothing is scored;
2. builds the charter's feature view on it and scores it with the model behind the
   alias, in Arrow record batches (memory does not grow with the batch), timing every
   call; rows the model refuses or degrades on are served by the plan's fallback (today's
   rule) and counted; predictions are appended to ``monitor.duckdb`` (beside the
   warehouse) keyed by batch — never a PII column;
3. input drift: PSI per feature column against the profile of the training split;
   prediction drift: PSI of the scores against the champion's scores on the held-out
   split (both references computed once per champion version and kept in
   ``monitor.duckdb``);
4. when the batch carries the target: quality with the same metric definitions, the same
   threshold and the same slices the gates used, computed in DuckDB on the labelled rows
   (:mod:`workbench.measure.sql_metrics`), so a labelled batch stays in bounded memory too.

Only the columns the model, the quality and the slices use are read from the batch's
feature view: a ``pii: true`` column (which can be none of them) never leaves DuckDB.

Each batch is one MLflow run in the pilot's experiment, linked to the champion version and
the decision that promoted it. Thresholds the plan sets are checked: input drift is a
*warning* (inputs move with the seasons; the columns are named), every other broken
threshold — prediction drift, quality under the minimum, fallback share, latency and
cost service levels, a refused batch — is a *breach*: recorded on the run, and the CLI
exits with :data:`workbench.errors.EXIT_BREACH`. When the plan's rollback criteria are
met (that many consecutive breaching batches), a rollback is *proposed* with its evidence
and the proposal recorded; the workbench never rolls back by itself.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import formatting as fmt
from ..charter.config import Charter, ProductionPlan
from ..errors import ConfigError, EngineError, MonitorError
from ..store.tracking import FINISHED, TAG, Store

__all__ = ["BatchReport", "monitor_batch", "timeline", "MONITOR_DB", "EngineScores", "score_on_engine"]

MONITOR_DB = "monitor.duckdb"
CHUNK_ROWS = 50_000
SINGLE_ROWS = 200
_T = {"batch": "workbench.decide.monitor.batch", "version": "workbench.decide.monitor.champion_version",
      "decision": "workbench.decide.monitor.decision_run", "status": "workbench.decide.monitor.status",
      "breaches": "workbench.decide.monitor.breaches", "warnings": "workbench.decide.monitor.warnings",
      "proposal": "workbench.decide.monitor.rollback_proposed",
      # per-column input PSI (JSON) and the resolved quality floor: tags, not metrics, so the
      # runs table keeps few metric columns; the timeline charts read them
      "input_psi": "workbench.decide.monitor.input_psi", "min_quality": "workbench.decide.monitor.min_quality"}

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BatchReport:
    """What one monitored batch showed, and what the plan says of it."""

    batch_id: str
    path: str
    status: str  # scored | refused
    rows: int
    champion_version: str
    decision_run_id: str | None
    scored: int = 0
    run_id: str | None = None
    contract_failures: tuple[str, ...] = ()
    refused: int = 0
    degraded: int = 0
    latency_p95_ms: float | None = None
    per_item_ms: float | None = None
    cost_per_1k_usd: float | None = None
    input_psi: dict[str, float] = field(default_factory=dict)
    drifted: tuple[str, ...] = ()
    prediction_psi: float | None = None
    quality: dict[str, float] = field(default_factory=dict)
    slices: dict[str, float] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    breaches: tuple[str, ...] = ()
    rollback_proposal: dict[str, Any] | None = None
    min_quality: float | None = None  # the quality floor this batch was judged against (resolved)

    @property
    def fallback_share(self) -> float:
        return (self.refused + self.degraded) / self.scored if self.scored else 0.0

    @property
    def breached(self) -> bool:
        return bool(self.breaches)

    def metrics(self) -> dict[str, float]:
        out: dict[str, float] = {"monitor.rows": self.rows, "monitor.scored": self.scored, "monitor.refused": self.refused,
                                 "monitor.degraded": self.degraded, "monitor.fallback_share": self.fallback_share,
                                 "monitor.breaches": len(self.breaches), "monitor.warnings": len(self.warnings),
                                 "drift.columns_flagged": len(self.drifted)}
        if self.input_psi:
            out["drift.input_psi_max"] = max(self.input_psi.values())
        for key, value in (("drift.prediction_psi", self.prediction_psi), ("latency.p95_ms", self.latency_p95_ms),
                           ("latency.batch_per_item_ms", self.per_item_ms), ("cost.per_1k_usd", self.cost_per_1k_usd)):
            if value is not None:
                out[key] = float(value)
        from ..measure import metrics as registry

        out.update({k: v for k, v in self.quality.items() if (registry.info(k) is None or registry.info(k).logged)})
        return out

    def summary(self) -> str:
        head = f"batch {self.batch_id}: {self.status.upper()}, {self.rows:,} rows, champion v{self.champion_version}"
        if self.status == "scored":
            head += f"; scored {self.scored:,}, fallback {self.fallback_share:.1%}"
            if self.prediction_psi is not None:
                head += f", prediction PSI {self.prediction_psi:.3f}"
            head += "".join(f", {k.removeprefix('quality.')} {v:.3f}" for k, v in self.quality.items()
                            if k in ("quality.roc_auc", "quality.average_precision", "quality.mae", "quality.r2"))
            if self.latency_p95_ms is not None:
                head += f", p95 {self.latency_p95_ms:.1f} ms"
        lines = [head]
        lines += [f"  BREACH  {b}" for b in self.breaches]
        lines += [f"  warning {w}" for w in self.warnings]
        if self.rollback_proposal:
            lines.append(f"  PROPOSED: {self.rollback_proposal['command']} — {self.rollback_proposal['reason']}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "fallback_share": self.fallback_share}


# -- references (once per champion version) ------------------------------------------------


def _monitor_db(charter: Charter) -> Path:
    return charter.warehouse_path.parent / MONITOR_DB


def _open_monitor_db(charter: Charter) -> Any:
    import duckdb

    path = _monitor_db(charter)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE IF NOT EXISTS reference (version VARCHAR, kind VARCHAR, body VARCHAR, "
                "PRIMARY KEY (version, kind))")
    con.execute("CREATE TABLE IF NOT EXISTS predictions (batch_id VARCHAR, row_id BIGINT, score DOUBLE, "
                "served_by VARCHAR, label DOUBLE)")
    return con


def _plan(charter: Charter) -> ProductionPlan:
    if charter.production is None:
        raise ConfigError("the charter has no production plan", where=f"{charter.path}: production",
                          hint="add `production:` (on_call, service_levels, monitoring, rollback); "
                          "README, \"After the GO\"")
    return charter.production


def _batch_source(charter: Charter, plan: ProductionPlan) -> str:
    name = plan.batch_source or (charter.features.table if charter.features else None)
    if name is None:
        if len(charter.sources) == 1:
            return next(iter(charter.sources))
        raise ConfigError("which source does a batch replace?", where=f"{charter.path}: production.batch_source",
                          hint=f"name one of: {', '.join(charter.sources)}")
    if name not in charter.sources:
        raise ConfigError(f"production.batch_source '{name}' is not a source", where=f"{charter.path}: production",
                          hint=f"name one of: {', '.join(charter.sources)}")
    return name


def _train_filter(charter: Charter) -> tuple[str, list]:
    from ..data.sql import quote_ident as _q

    split = charter.split
    if split is not None and split.kind == "temporal":
        return f"WHERE {_q(str(split.column))} BETWEEN ? AND ?", list(split.train or [])
    return "", []


def _edges(values: np.ndarray, bins: int = 10) -> list[float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return [0.0, 1.0]
    edges = np.unique(np.quantile(finite, np.linspace(0, 1, bins + 1)))
    return [float(e) for e in edges] if edges.size >= 2 else [float(edges[0]), float(edges[0]) + 1e-9]


def _shares(values: np.ndarray, edges: list[float]) -> list[float]:
    inner = np.asarray(edges[1:-1])
    counts = np.bincount(np.searchsorted(inner, values, side="right"), minlength=len(edges) - 1)
    total = counts.sum()
    return [float(c / total) if total else 0.0 for c in counts]


def _references(charter: Charter, version: str, model: Any, mcon: Any, say: Progress) -> tuple[Any, dict]:
    """(training-split feature profile, held-out score histogram) for this champion version."""
    import duckdb

    from ..measure import modeling
    from ..data import profiling
    from ..data.sql import view_sql

    found = dict(mcon.execute("SELECT kind, body FROM reference WHERE version = ?", [version]).fetchall())
    if "profile" in found and "scores" in found:
        return profiling.TableProfile.from_dict(json.loads(found["profile"])), json.loads(found["scores"])
    say(f"computing the training profile and held-out scores of champion v{version} (once per version)")
    con = duckdb.connect(str(charter.warehouse_path), read_only=True)
    try:
        where, params = _train_filter(charter)
        cols = ", ".join(_quoted(c) for c in (*model.categorical, *model.numeric))
        con.execute(f"CREATE TEMP TABLE __train_features AS SELECT {cols} FROM ({view_sql(charter.features)}) AS v {where}",
                    params).fetchall()
        reference = profiling.profile_table(con, "__train_features")
        data = modeling.load_data(con.cursor(), charter.modeling(), charter.task)
    finally:
        con.close()
    # the held-out rows stream in record batches (only their scores stay: 8 bytes a row)
    try:
        parts = [_score_frame(model, data.heldout.prepare(b.to_pandas())[data.features])[0]
                 for b in data.heldout.batches(CHUNK_ROWS, data.features)]
    finally:
        data.heldout.close()
    scores = np.concatenate(parts) if parts else np.zeros(0)
    hist = {"edges": _edges(scores), "shares": []}
    hist["shares"] = _shares(scores, hist["edges"])
    for kind, body in (("profile", json.dumps(reference.to_dict())), ("scores", json.dumps(hist))):
        mcon.execute("INSERT OR REPLACE INTO reference VALUES (?, ?, ?)", [version, kind, body])
    return reference, hist


def _quoted(name: str) -> str:
    from ..data.sql import quote_ident as _q

    return _q(name)


# -- scoring -------------------------------------------------------------------------------


def _score_frame(model: Any, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, int]:
    """(scores, served_by_fallback mask, refused count): a chunk the model refuses is scored
    row by row, and the rows it still refuses are served by its fallback (today's rule)."""
    from ..measure.modeling import InputRefused

    try:
        out = model.score(frame)
        degraded = np.zeros(len(frame), dtype=bool)
        if getattr(out, "attrs", {}).get("degraded"):
            present = [c for c in getattr(model, "fallback_on_null", []) if c in frame.columns]
            degraded = frame[present].isna().any(axis=1).to_numpy() if present else degraded
        return np.asarray(out, dtype=float), degraded, 0
    except InputRefused:
        pass
    scores = np.empty(len(frame))
    fell_back = np.zeros(len(frame), dtype=bool)
    refused = 0
    fallback = getattr(model, "fallback", None)
    for i in range(len(frame)):
        row = frame.iloc[[i]]
        try:
            scores[i] = float(np.asarray(model.score(row))[0])
        except InputRefused:
            refused += 1
            fell_back[i] = True
            if fallback is None:
                raise MonitorError("the champion refused a row and has no fallback (degraded mode) to serve it",
                                   hint="train candidates with today's rule as fallback (the evaluate notebook does)") \
                    from None
            try:
                scores[i] = float(np.asarray(fallback.score(row))[0])
            except InputRefused:
                scores[i] = float(getattr(fallback, "value", np.nan))
    return scores, fell_back, refused


@dataclass(frozen=True)
class EngineScores:
    """A batch's feature view scored by the charter's engine (Spark: MLflow's spark_udf on
    the executors): ``scores[i]`` is the score of row ``i`` of ``rows`` (a Parquet file the
    driver reads back, in that order, for labels, slices and the predictions table)."""

    rows: Path
    scores: np.ndarray
    seconds: float


def score_on_engine(charter: Charter, model_uri: str, con: Any, query: str, features: list[str], *,
                    tag: str) -> EngineScores:
    """The rows of ``query`` (run by the DuckDB connection ``con``) scored by the charter's
    engine: written once, numbered, as Parquet to a folder of the lake (``_wb_monitor_TAG``,
    removed by :func:`drop_engine_rows`), scored there, the scores brought back in row order."""
    from ..data.engines import engine_for

    folder = charter.resolve(charter.engine.lake) / f"_wb_monitor_{tag}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rows = folder / "part-0.parquet"
    try:
        con.execute(f"COPY (SELECT row_number() OVER () - 1 AS __wb_row, * FROM ({query}) AS q) "
                    f"TO '{str(rows).replace(chr(39), chr(39) * 2)}' (FORMAT PARQUET)")
        started = time.perf_counter()
        out = engine_for(charter).score_batch(model_uri, folder.name, features, keep=["__wb_row"])
        seconds = time.perf_counter() - started
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # the lake keeps nothing of a batch it could not score
        raise
    order = np.argsort(out.column("__wb_row").to_numpy())
    return EngineScores(rows, out.column("prediction").to_numpy(zero_copy_only=False)[order].astype(float), seconds)


def drop_engine_rows(scored: EngineScores | None) -> None:
    if scored is not None:
        shutil.rmtree(scored.rows.parent, ignore_errors=True)


def _degraded_rows(model: Any, frame: pd.DataFrame) -> np.ndarray:
    """The rows the champion's degraded mode serves (a null in ``fallback_on_null``): the
    engine's scores already hold the fallback's; the count is kept on the driver."""
    present = [c for c in getattr(model, "fallback_on_null", []) if c in frame.columns]
    if not present or getattr(model, "fallback", None) is None:
        return np.zeros(len(frame), dtype=bool)
    return frame[present].isna().any(axis=1).to_numpy()


def _normalise(frame: pd.DataFrame, model: Any) -> pd.DataFrame:
    for col in model.categorical:
        if col in frame.columns:
            frame[col] = frame[col].astype("string")
    return frame


# -- one batch -----------------------------------------------------------------------------


def _ingest_batch(charter: Charter, source_name: str, batch: Path, scratch: Path) -> None:
    """The batch as the source's table in a scratch warehouse, beside copies of the other
    sources. Production rows carry no label yet: a batch may leave the target out (it is
    loaded as an empty column); any other declared column it lacks refuses it."""
    import duckdb

    from ..data.sql import quote_ident as _q
    from ..data.warehouse import charter_pii, file_columns, ingest_source

    source = charter.sources[source_name].model_copy(update={"path": batch})
    target = charter.task.target if charter.task else None
    con = duckdb.connect(str(scratch))
    try:
        present = file_columns(con, batch, source)
        unlabelled = present is not None and target in source.columns and target not in present
        if present is not None:
            lacking = [c for c in source.columns if c not in present and c != target]
            if lacking:
                raise MonitorError(
                    f"the batch lacks column(s) {', '.join(lacking)} of source '{source_name}'", where=str(batch),
                    hint=f"write every column the charter declares for '{source_name}' (`sources: {source_name}: "
                    f"columns:`); the target{f' {target!r}' if target in source.columns else ''} may be left out "
                    "or empty until the labels arrive")
        if unlabelled:
            source = source.model_copy(update={"columns": {c: t for c, t in source.columns.items() if c != target}})
        con.execute(f"ATTACH '{str(charter.warehouse_path).replace(chr(39), chr(39) * 2)}' AS wh (READ_ONLY)")
        for name in charter.sources:
            if name != source_name:
                con.execute(f"CREATE TABLE {_q(name)} AS SELECT * FROM wh.{_q(name)}")
        con.execute("DETACH wh")
        # the contract's personal columns stay masked in a refusal; the others are quoted (with no
        # list, every value was masked: "a value (masked: personal data)" for a mistyped age)
        ingest_source(con, source_name, source, batch, force=True,
                      pii=charter_pii(charter).get(source_name, frozenset()))
        if unlabelled:
            declared = charter.sources[source_name].columns[target]
            con.execute(f"ALTER TABLE {_q(source_name)} ADD COLUMN {_q(target)} {declared}")
    finally:
        con.close()


def _check_contract(charter: Charter, source_name: str, scratch: Path) -> tuple[str, ...]:
    from ..data.contracts import check_contract, load_contract

    src = charter.sources[source_name]
    if src.contract is None:
        return ()
    import dataclasses

    contract = load_contract(charter.resolve(src.contract))
    # a batch is a slice of the table: the table's size and freshness are not its to keep
    # and its labels may not have arrived yet: the target may be null
    target = charter.task.target if charter.task else None
    batch_rules = tuple(dataclasses.replace(r, params={"min": 1, "max": None}, severity="error")
                        if r.kind == "row_count" else r for r in contract.rules
                        if r.kind != "freshness" and not (r.column == target and r.kind in ("not_null", "max_null_fraction")))
    result = check_contract(scratch, dataclasses.replace(contract, rules=batch_rules), quarantine=False)
    out = []
    for r in result.blocking:  # counts only: the examples may be personal data
        what = f"{r.unexpected_count:,} row(s)" if r.unexpected_count is not None else (r.error or "failed")
        out.append(f"{r.rule_id} ({what})")
    return tuple(out)


def monitor_batch(charter: Charter, store: Store, batch: Path | str, *, batch_id: str | None = None,
                  progress: Progress | None = None) -> BatchReport:
    """Check, score and judge one production batch; one MLflow run records it."""
    from ..data import profiling
    from ..measure import sql_metrics
    from ..data.sql import view_sql
    from .promotion import T_DECISION_RUN, champion
    from ..measure.sql_metrics import ROW, SCORE, Y

    say = progress or (lambda _m: None)
    if charter.eval_set is not None:  # its champion answers eval items; a batch of them has no place here yet
        raise ConfigError(f"monitoring batches of a {charter.task.kind if charter.task else 'eval-set'} pilot is not "
                          "built yet", where=f"{charter.path}: eval_set",
                          hint="an LLM champion: `workbench monitor --canary`; otherwise judge new labelled items "
                          "by running the pilot on them as its eval set (`make pilot`)")
    if charter.task is not None and charter.task.kind == "multiclass":  # its scores are class answers, not rates
        raise ConfigError("monitoring a multiclass champion is not built yet", where=f"{charter.path}: task.kind",
                          hint="judge production batches by re-running the pilot on them (README, \"Multiclass pilots\")")
    batch = Path(batch)
    if not batch.is_file():
        raise MonitorError("the batch file does not exist", where=str(batch), hint="pass a CSV or Parquet file")
    plan = _plan(charter)
    missing = plan.missing()
    if missing:
        raise ConfigError(f"the production plan is incomplete: {', '.join(missing)}", where=f"{charter.path}: production",
                          hint="complete it (README, \"After the GO\"); `workbench validate` lists what is missing")
    source_name = _batch_source(charter, plan)
    version = champion(charter, store)
    if version is None:
        raise MonitorError(f"no model behind {charter.promotion.model_name if charter.promotion else '?'}@"
                           f"{charter.promotion.alias if charter.promotion else 'champion'}",
                           hint="run the pilot until it promotes a champion (`make pilot`)")
    sha = hashlib.sha256(batch.read_bytes()).hexdigest()
    batch_id = batch_id or f"{batch.stem}-{sha[:8]}"
    decision_run = version.tags.get(T_DECISION_RUN)
    model = store.load_model(f"models:/{charter.promotion.model_name}/{version.version}")
    say(f"batch {batch_id}: champion v{version.version} ({charter.promotion.model_name})")

    mcon = _open_monitor_db(charter)
    scratch_dir = Path(tempfile.mkdtemp(prefix="wb-monitor-"))
    try:
        reference, score_hist = _references(charter, str(version.version), model, mcon, say)
        scratch = scratch_dir / "batch.duckdb"
        _ingest_batch(charter, source_name, batch, scratch)
        failures = _check_contract(charter, source_name, scratch)
        import duckdb

        rows = duckdb.connect(str(scratch), read_only=True).execute(
            f"SELECT count(*) FROM {_quoted(source_name)}").fetchone()[0]
        base = dict(batch_id=batch_id, path=str(batch), rows=int(rows), champion_version=str(version.version),
                    decision_run_id=decision_run)
        if rows == 0:
            raise MonitorError("the batch has no rows", where=str(batch), hint="pass a file with at least one row")
        if failures:
            say(f"batch {batch_id}: refused by the contract ({len(failures)} rule(s)); nothing scored")
            report = BatchReport(status="refused", contract_failures=failures,
                                 breaches=tuple(f"contract: {f}" for f in failures), **base)
            return _record(charter, store, report, plan, sha)

        con = duckdb.connect(str(scratch), read_only=True)
        from threadpoolctl import threadpool_limits

        limits = threadpool_limits(limits=1)  # timed as the pilot timed it: one thread, no contention spikes
        mcon.execute("DELETE FROM predictions WHERE batch_id = ?", [batch_id])
        target = charter.task.target
        features = [*model.categorical, *model.numeric]
        slice_cols = _slice_columns(charter)
        keep = [c for c in dict.fromkeys([*features, target, *slice_cols])]
        refused = degraded = 0
        timings: list[float] = []
        single: list[float] = []
        labelled = 0
        row0 = 0
        # only the columns the model, the quality and the slices use: a personal column
        # (which can be none of them) never leaves DuckDB
        view_cols = {r[0] for r in con.execute(
            f"DESCRIBE SELECT * FROM ({view_sql(charter.features)}) AS v").fetchall()}
        wanted = [c for c in keep if c in view_cols]
        usable = [c for c in slice_cols if c in view_cols]
        binary = charter.task.kind == "classification"
        mcon.execute(f"CREATE OR REPLACE TEMP TABLE __labelled AS SELECT 0::BIGINT AS {ROW}, "
                     f"NULL::{'INTEGER' if binary else 'DOUBLE'} AS {Y}, NULL::DOUBLE AS {SCORE}"
                     + "".join(f", NULL::VARCHAR AS {_quoted(c)}" for c in usable) + " LIMIT 0")
        on_engine: EngineScores | None = None
        try:
            rows_from = f"({view_sql(charter.features)}) AS v"
            if charter.engine.kind != "duckdb":  # the batch is scored where the data lives (README, "Scale")
                try:
                    on_engine = score_on_engine(charter, f"models:/{charter.promotion.model_name}/{version.version}",
                                                con, f"SELECT {', '.join(_quoted(c) for c in wanted)} FROM {rows_from}",
                                                features, tag=hashlib.sha256(batch_id.encode()).hexdigest()[:12])
                    rows_from = (f"read_parquet('{str(on_engine.rows).replace(chr(39), chr(39) * 2)}') AS v "
                                 "ORDER BY __wb_row")
                    timings.append(on_engine.seconds)
                    say(f"batch {batch_id}: scored on {charter.engine.kind} in {on_engine.seconds:.1f}s")
                except EngineError as exc:  # e.g. the champion refused a row: the driver serves it by its fallback
                    say(f"batch {batch_id}: not scored on {charter.engine.kind} ({exc.what}); scoring on the driver")
            reader = con.sql(f"SELECT {', '.join(_quoted(c) for c in wanted)} FROM {rows_from}").to_arrow_reader(CHUNK_ROWS)
            for chunk in reader:
                frame = _normalise(chunk.to_pandas(), model)
                missing_cols = [c for c in features if c not in frame.columns]
                if missing_cols:
                    raise MonitorError(f"the batch's feature view lacks {', '.join(missing_cols)}", where=str(batch),
                                       hint="the batch must carry the source's declared columns")
                X = frame[features]  # noqa: N806
                if on_engine is not None:
                    scores, fell_back, n_refused = on_engine.scores[row0:row0 + len(X)], _degraded_rows(model, X), 0
                else:
                    t0 = time.perf_counter()
                    scores, fell_back, n_refused = _score_frame(model, X)
                    timings.append(time.perf_counter() - t0)
                if not single:
                    for i in range(min(20, len(X))):  # warm-up, untimed
                        _score_frame(model, X.iloc[[i]])
                    for i in range(min(SINGLE_ROWS, len(X))):
                        t1 = time.perf_counter()
                        _score_frame(model, X.iloc[[i]])
                        single.append((time.perf_counter() - t1) * 1000)
                refused += n_refused
                degraded += int(fell_back.sum()) - n_refused
                label = frame[target] if target in frame.columns else pd.Series(np.nan, index=frame.index)
                truth = _label_values(label, charter)
                out = pd.DataFrame({"batch_id": batch_id, "row_id": np.arange(row0, row0 + len(frame)),
                                    "score": scores, "served_by": np.where(fell_back, "fallback", "model"),
                                    "label": truth})
                mcon.register("chunk_out", out)
                mcon.execute("INSERT INTO predictions SELECT * FROM chunk_out")
                mcon.unregister("chunk_out")
                known = label.notna().to_numpy()
                if known.any():  # labelled rows go to DuckDB, where quality and slices are computed
                    rows = pd.DataFrame({ROW: np.arange(row0, row0 + len(frame))[known],
                                         Y: truth[known].astype(int if binary else float), SCORE: scores[known],
                                         **{c: frame[c].astype("string").to_numpy()[known] for c in usable}})
                    mcon.register("chunk_labelled", rows)
                    mcon.execute("INSERT INTO __labelled SELECT * FROM chunk_labelled")
                    mcon.unregister("chunk_labelled")
                    labelled += int(known.sum())
                row0 += len(frame)
            # input drift on the feature columns, binned as the training profile was
            con.execute(f"CREATE TEMP TABLE __batch_features AS SELECT "
                        f"{', '.join(_quoted(c) for c in features)} FROM ({view_sql(charter.features)}) AS v").fetchall()
            current = profiling.profile_table(con, "__batch_features", reference=reference)
        finally:
            con.close()
            limits.restore_original_limits()
            drop_engine_rows(on_engine)
        drift = profiling.drift(reference, current, threshold=plan.monitoring.input_psi or 0.2)
        input_psi = {c.name: float(c.psi) for c in drift.columns if c.psi is not None and np.isfinite(c.psi)}
        drifted = tuple(drift.flagged)
        scored = mcon.execute("SELECT score FROM predictions WHERE batch_id = ?", [batch_id]).fetchnumpy()["score"]
        pred_psi = profiling.psi(score_hist["shares"], _shares(np.asarray(scored, dtype=float), score_hist["edges"]))
        n = int(row0)
        per_item = sum(timings) / n * 1000 if n else None
        p95 = float(np.percentile(single, 95)) if single else None
        cost = None
        if per_item is not None:
            cost = charter.cost.compute_usd_per_hour * per_item / 1000 / 3600 * 1000 + charter.cost.usd_per_call * 1000
        quality: dict[str, float] = {}
        slices: dict[str, float] = {}
        if labelled:  # the gates' definitions (workbench.measure.sql_metrics), computed in DuckDB
            threshold = _threshold(store, version)
            cut = threshold if threshold is not None else 0.5
            result = sql_metrics.quality(mcon, "__labelled", task=charter.task, threshold=cut,
                                         where=f"batch {batch_id}")
            quality = result.metrics()
            if usable:
                slices = sql_metrics.slice_metrics(mcon, "__labelled", usable, task=charter.task, threshold=cut,
                                                   min_rows=_min_slice_rows(charter), overall=result).metrics()
        mcon.execute("DROP TABLE IF EXISTS __labelled")
        report = BatchReport(status="scored", scored=n, refused=refused, degraded=degraded, latency_p95_ms=p95,
                             per_item_ms=per_item, cost_per_1k_usd=cost, input_psi=input_psi, drifted=drifted,
                             prediction_psi=float(pred_psi), quality=quality, slices=slices, **base)
        report = _judge(charter, plan, report, _min_quality(charter, store, version))
        say(f"batch {batch_id}: scored {n:,} rows in {sum(timings):.1f}s")
        return _record(charter, store, report, plan, sha)
    finally:
        mcon.close()
        shutil.rmtree(scratch_dir, ignore_errors=True)


def _label_values(label: pd.Series, charter: Charter) -> np.ndarray:
    from ..measure.modeling import binary_target

    if charter.task.kind == "classification":
        out = binary_target(label.fillna("__none__"), charter.task.positive_label).astype(float)
        out[label.isna().to_numpy()] = np.nan
        return out
    return pd.to_numeric(label, errors="coerce").to_numpy(dtype=float)


def _slice_columns(charter: Charter) -> list[str]:
    for step in charter.steps:
        if step.role == "evaluate":
            return list(step.parameters.get("slice_columns", []))
    return []


def _min_slice_rows(charter: Charter) -> int:
    for step in charter.steps:
        if step.role == "evaluate":
            return int(step.parameters.get("min_slice_rows", 200))
    return 200


def _threshold(store: Store, version: Any) -> float | None:
    try:
        return store.get_run(version.run_id).data.metrics.get("quality.threshold")
    except Exception:  # noqa: BLE001 - no threshold recorded: the default
        return None


def _min_quality(charter: Charter, store: Store, version: Any) -> float | None:
    """The plan's quality floor: its number, or today's rule's value in the promoting pilot."""
    from .promotion import T_PILOT_RUN, pilot_layout

    plan = _plan(charter)
    floor = plan.monitoring.min_quality
    if floor != "baseline":
        return floor
    metric = plan.monitoring.quality_metric or charter.primary_metric
    try:
        layout = pilot_layout(charter, store, store.get_run(version.tags[T_PILOT_RUN]))
        baseline = layout.step("baseline")
        return float(baseline.data.metrics[metric])
    except Exception as exc:  # noqa: BLE001 - say which record is missing
        raise MonitorError(f"cannot find today's rule's {metric} for `min_quality: baseline`",
                           where=f"model version {version.version}",
                           hint="the promoting pilot run and its baseline step must be in the store; "
                           "or give production.monitoring.min_quality a number") from exc


def _judge(charter: Charter, plan: ProductionPlan, report: BatchReport, minimum: float | None) -> BatchReport:
    from ..measure import metrics as registry

    mon, slo = plan.monitoring, plan.service_levels
    warnings, breaches = [], []
    if report.drifted:
        warnings.append("input drift (PSI > {:g}) in {}".format(
            mon.input_psi, ", ".join(f"{c} {report.input_psi.get(c, float('nan')):.2f}" for c in report.drifted)))
    if mon.prediction_psi is not None and report.prediction_psi is not None and report.prediction_psi > mon.prediction_psi:
        breaches.append(f"prediction drift: PSI {report.prediction_psi:.3f} > {mon.prediction_psi:g}")
    metric = mon.quality_metric or charter.primary_metric
    floor = minimum
    if floor is not None and metric in report.quality:
        value = report.quality[metric]
        higher = registry.higher_is_better(metric) is not False
        if (value < floor) if higher else (value > floor):
            what = f"today's rule's {floor:.4g}" if mon.min_quality == "baseline" else f"the plan's {floor:g}"
            breaches.append(f"quality: {metric} {value:.4g} {'<' if higher else '>'} {what}")
    if mon.max_fallback_share is not None and report.fallback_share > mon.max_fallback_share:
        breaches.append(f"fallback: {report.fallback_share:.1%} of rows served by today's rule "
                        f"(> {mon.max_fallback_share:.1%}; {report.refused} refused, {report.degraded} degraded)")
    if slo.latency_p95_ms is not None and report.latency_p95_ms is not None and report.latency_p95_ms > slo.latency_p95_ms:
        breaches.append(f"latency: p95 {report.latency_p95_ms:.1f} ms > {slo.latency_p95_ms:g} ms")
    if slo.cost_per_1k_usd is not None and report.cost_per_1k_usd is not None and report.cost_per_1k_usd > slo.cost_per_1k_usd:
        breaches.append(f"cost: {fmt.cost_per_1k(report.cost_per_1k_usd)} > {fmt.cost_per_1k(slo.cost_per_1k_usd)}")
    return BatchReport(**{**asdict(report), "warnings": tuple(warnings), "breaches": tuple(breaches),
                          "min_quality": floor})


def _previous(store: Store, charter: Charter, version: str) -> list[Any]:
    return store.find_runs(charter.name, f"tags.`{TAG['kind']}` = 'monitor' and tags.`{_T['version']}` = '{version}'",
                           max_results=50)


def _proposal(charter: Charter, store: Store, plan: ProductionPlan, report: BatchReport) -> dict[str, Any] | None:
    """A rollback proposal when the plan's criteria are met (consecutive breaching batches)."""
    history = _previous(store, charter, report.champion_version)  # newest first, this batch not yet recorded
    criteria = (("quality", plan.rollback.quality_breaches), ("fallback", plan.rollback.fallback_breaches))
    for kind, needed in criteria:
        if needed is None:
            continue
        streak = [report.batch_id] if any(b.startswith(kind) for b in report.breaches) else []
        if not streak:
            continue
        for run in history:
            if kind in run.data.tags.get(_T["breaches"], "").split(","):
                streak.append(run.data.tags.get(_T["batch"], run.info.run_id))
            else:
                break
        if len(streak) >= needed:
            pilot = charter.path
            return {"kind": kind, "batches": streak, "needed": needed,
                    "command": f"workbench rollback --pilot {pilot}",
                    "reason": f"{len(streak)} consecutive batch(es) breached {kind} (the plan rolls back after {needed})",
                    "champion_version": report.champion_version}
    return None


def _record(charter: Charter, store: Store, report: BatchReport, plan: ProductionPlan, sha: str) -> BatchReport:
    proposal = _proposal(charter, store, plan, report) if report.breaches else None
    if proposal:
        report = BatchReport(**{**asdict(report), "rollback_proposal": proposal})
    kinds = sorted({b.split(":")[0] for b in report.breaches})
    run = store.start_run(charter.name, f"monitor {report.batch_id}", tags={
        TAG["kind"]: "monitor", TAG["pilot"]: charter.name, _T["batch"]: report.batch_id,
        _T["version"]: report.champion_version, _T["decision"]: report.decision_run_id or "",
        _T["status"]: report.status, _T["breaches"]: ",".join(kinds),
        _T["warnings"]: str(len(report.warnings)), _T["proposal"]: str(bool(proposal)).lower(),
        _T["input_psi"]: json.dumps({c: round(v, 4) for c, v in sorted(report.input_psi.items())})[:5000],
        _T["min_quality"]: "" if report.min_quality is None else repr(report.min_quality),
        "mlflow.note.content": report.summary().replace("\n", "\n\n")})
    try:
        store.log_params(run.run_id, {"batch.path": report.path, "batch.sha256": sha,
                                      "champion.version": report.champion_version})
        store.log_metrics(run.run_id, report.metrics())
        store.log_dict(run.run_id, report.to_dict(), "monitor/report.json")
        if proposal:
            store.log_dict(run.run_id, proposal, "monitor/rollback_proposal.json")
    finally:
        store.end_run(run.run_id, FINISHED)
    return BatchReport(**{**asdict(report), "run_id": run.run_id})


def _json_tag(text: str | None) -> dict[str, float]:
    try:
        value = json.loads(text or "{}")
    except ValueError:  # a truncated tag (very wide tables): no per-column chart rather than an error
        return {}
    return {str(k): float(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _float_tag(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def timeline(charter: Charter, store: Store, *, max_results: int = 200) -> list[dict[str, Any]]:
    """Every monitored batch, oldest first: id, status, drift, quality, latency, breaches."""
    runs = store.find_runs(charter.name, f"tags.`{TAG['kind']}` = 'monitor'", max_results=max_results)
    out = []
    metric = (charter.production.monitoring.quality_metric if charter.production else None) or charter.primary_metric
    for run in reversed(runs):
        m, t = run.data.metrics, run.data.tags
        out.append({"batch": t.get(_T["batch"]), "run_id": run.info.run_id, "status": t.get(_T["status"]),
                    "version": t.get(_T["version"]), "rows": m.get("monitor.rows"),
                    "input_psi_max": m.get("drift.input_psi_max"), "drifted": m.get("drift.columns_flagged"),
                    "prediction_psi": m.get("drift.prediction_psi"), "quality": m.get(metric), "quality_metric": metric,
                    "latency_p95_ms": m.get("latency.p95_ms"), "fallback_share": m.get("monitor.fallback_share"),
                    "breaches": [b for b in t.get(_T["breaches"], "").split(",") if b],
                    "warnings": int(t.get(_T["warnings"], "0") or 0),
                    "rollback_proposed": t.get(_T["proposal"]) == "true", "start_time": run.info.start_time,
                    "input_psi": _json_tag(t.get(_T["input_psi"])), "min_quality": _float_tag(t.get(_T["min_quality"])),
                    "cost_per_1k_usd": m.get("cost.per_1k_usd")})
    return out
