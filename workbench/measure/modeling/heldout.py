"""The held-out rows, kept in DuckDB and streamed: memory does not grow with them.

:func:`~workbench.measure.modeling.load_data` copies the held-out rows of the feature view once,
streamed in Arrow record batches and numbered in the view's order (``__wb_row``), into a
scratch DuckDB file in a temporary folder this process owns (removed when the object is
collected or the process exits). Scoring reads them back in record batches and writes
each batch's scores next to them (:func:`score_rows`); quality, slices and curves are
then aggregated there (:mod:`workbench.measure.sql_metrics`). DuckDB works in a bounded buffer
(``memory_limit``) and spills to the same folder. The warehouse is read once and not
kept open: a notebook never holds its lock longer than ``load_data`` takes.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
import weakref
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...data.sql import is_number_type
from ...errors import EvaluationError
from ..sql_metrics import ROW, SCORE, Y

__all__ = ["HeldOut", "ScoredRows", "score_rows", "MEMORY_LIMIT"]

MEMORY_LIMIT = "512MB"  # DuckDB's buffer (the scratch database; the warehouse while load_data reads); it spills beyond
_COUNTER = itertools.count()


def _q(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _cleanup(con: Any, folder: str) -> None:
    try:
        con.close()
    except Exception:  # noqa: BLE001,S110 - already closed, or the interpreter is going down
        pass
    shutil.rmtree(folder, ignore_errors=True)


class HeldOut:
    """The held-out rows in a scratch DuckDB table ``heldout`` (``__wb_row``, then the
    feature view's columns). ``prepare`` turns a fetched frame into what models take."""

    def __init__(self, folder: str, con: Any, rows: int, columns: Sequence[str]) -> None:
        self.folder, self.con, self.rows, self.columns = folder, con, int(rows), list(columns)
        self.prepare: Callable[[pd.DataFrame], pd.DataFrame] = lambda frame: frame
        # a group split's column: its groups, not the rows, are the independent units of a comparison
        self.group_column: str | None = None
        # the SQL of a row's unit when no column holds it (a series' blocks of periods): group_column names it
        self.group_sql: str | None = None
        self._finalizer = weakref.finalize(self, _cleanup, con, folder)

    @staticmethod
    def _scratch() -> tuple[str, Any]:
        import duckdb

        folder = tempfile.mkdtemp(prefix="workbench-heldout-")
        con = duckdb.connect(str(Path(folder) / "scratch.duckdb"))
        con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        con.execute(f"SET temp_directory = '{Path(folder) / 'spill'}'")
        return folder, con

    @classmethod
    def copy(cls, reader: Any) -> HeldOut:
        """Copy an Arrow ``RecordBatchReader`` (the held-out query, in its order) into a
        scratch table, numbering the rows 0..n-1 as they come."""
        import pyarrow as pa

        folder, con = cls._scratch()
        try:
            schema = reader.schema
            empty = pa.Table.from_batches([], schema=pa.schema([pa.field(ROW, pa.int64()), *schema]))
            con.register("__wb_empty", empty)
            con.execute("CREATE TABLE heldout AS SELECT * FROM __wb_empty")
            con.unregister("__wb_empty")
            offset = 0
            for batch in reader:
                if batch.num_rows == 0:
                    continue
                numbered = pa.Table.from_batches([batch]).add_column(
                    0, ROW, pa.array(np.arange(offset, offset + batch.num_rows, dtype=np.int64)))
                con.register("__wb_batch", numbered)
                con.execute("INSERT INTO heldout SELECT * FROM __wb_batch")
                con.unregister("__wb_batch")
                offset += batch.num_rows
        except BaseException:
            _cleanup(con, folder)
            raise
        return cls(folder, con, offset, [f.name for f in schema])

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> HeldOut:
        """Held-out rows given as a frame (tests, small data): the same code path after."""
        import pyarrow as pa

        table = pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False)
        return cls.copy(pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=65_536)))

    def close(self) -> None:
        self._finalizer()

    # -- reading ---------------------------------------------------------------------------
    def batches(self, batch_rows: int, columns: Sequence[str] | None = None, *, con: Any = None) -> Iterator[Any]:
        """Arrow record batches of (``__wb_row`` and) ``columns``, at most ``batch_rows`` rows each."""
        cols = ", ".join(_q(c) for c in [ROW, *(c for c in (columns or self.columns) if c != ROW)])
        reader = (con or self.con).sql(f"SELECT {cols} FROM heldout").to_arrow_reader(int(batch_rows))
        yield from reader

    def head(self, n: int, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The first ``n`` held-out rows (in the view's order), prepared for the models."""
        cols = ", ".join(_q(c) for c in (columns or self.columns))
        frame = self.con.sql(f"SELECT {cols} FROM heldout ORDER BY {ROW} LIMIT {int(n)}").to_arrow_table().to_pandas()
        return self.prepare(frame)

    def frame(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Every held-out row in memory: for small tables; scoring streams instead."""
        return self.head(self.rows, columns)

    def digest(self, columns: Sequence[str]) -> str:
        """A digest of these columns over every held-out row, in their order (hex)."""
        import hashlib

        cols = ", ".join(_q(c) for c in columns)
        value = self.con.execute(f"SELECT bit_xor(hash({ROW}, {cols})), count(*) FROM heldout").fetchone()
        return hashlib.sha256(f"{value[0]}:{value[1]}:{list(columns)}".encode()).hexdigest()

    def copies_of(self, frame: pd.DataFrame, columns: Sequence[str]) -> int:
        """How many held-out rows equal a row of ``frame`` on every one of ``columns`` (nulls
        equal), compared by a 64-bit hash of the values: numbers as DOUBLE on both sides (an
        integer column read into pandas with nulls is float there), the rest as text."""
        cols = [c for c in columns if c in self.columns and c in frame.columns]
        if not cols or frame.empty:
            return 0
        name = self.new_table("__wb_rows")
        self.con.register(name, frame[cols])
        try:
            def types(table: str) -> dict[str, str]:
                return dict(self.con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {_q(table)})").fetchall())

            mine, theirs = types("heldout"), types(name)
            cast = {c: "DOUBLE" if is_number_type(mine[c]) and is_number_type(theirs[c]) else "VARCHAR" for c in cols}
            key = "hash(" + ", ".join(f"CAST({_q(c)} AS {cast[c]})" for c in cols) + ")"
            return int(self.con.execute(f"SELECT count(*) FROM heldout WHERE {key} IN "
                                        f"(SELECT DISTINCT {key} FROM {_q(name)})").fetchall()[0][0])
        finally:
            self.con.unregister(name)

    def repeats(self, columns: Sequence[str]) -> int:
        """How many held-out rows equal an earlier held-out row on every one of ``columns``
        (nulls equal; by a 64-bit hash of the values, as :meth:`copies_of`)."""
        cols = [c for c in dict.fromkeys(columns) if c in self.columns]
        if not cols:
            return 0
        key = "hash(" + ", ".join(_q(c) for c in cols) + ")"
        return int(self.con.execute(f"SELECT count(*) - count(DISTINCT {key}) FROM heldout").fetchall()[0][0])

    def group_key(self) -> str | None:
        """SQL for the :attr:`group_column` value of a row of ``heldout`` joined as ``h`` (as text;
        a null its own group), or None without a group split."""
        if self.group_sql is not None:
            return self.group_sql
        if self.group_column is None or self.group_column not in self.columns:
            return None
        return f"coalesce(CAST(h.{_q(self.group_column)} AS VARCHAR), '__wb_null')"

    def groups_of(self, table: str) -> np.ndarray | None:
        """The group of each row of scored ``table`` (:meth:`group_key`), in the held-out order."""
        key = self.group_key()
        if key is None:
            return None
        got = self.con.execute(f"SELECT {key} AS g FROM {_q(table)} s JOIN heldout h USING ({ROW}) "
                               f"ORDER BY {ROW}").fetchnumpy()
        return np.asarray(got["g"], dtype=object)

    def distinct(self, column: str) -> list[Any]:
        return [r[0] for r in self.con.execute(f"SELECT DISTINCT {_q(column)} FROM heldout").fetchall()]

    def new_table(self, prefix: str) -> str:
        return f"{prefix}_{next(_COUNTER)}"


class ScoredRows:
    """One model's scores of the held-out rows, in a table next to them (see
    :mod:`workbench.measure.sql_metrics` for its columns)."""

    def __init__(self, heldout: HeldOut, table: str, rows: int) -> None:
        self.heldout, self.table, self.rows = heldout, table, rows

    @property
    def con(self) -> Any:
        return self.heldout.con

    def head(self, n: int) -> np.ndarray:
        got = self.con.execute(f"SELECT {SCORE} FROM {_q(self.table)} ORDER BY {ROW} LIMIT {int(n)}").fetchnumpy()
        return np.asarray(got[SCORE], dtype=float)

    def scores(self) -> pd.Series:
        """Every score, in the held-out order (in memory: for small tables)."""
        return pd.Series(self.head(self.rows), name="score")

    def answers(self) -> list[str]:
        """The columns that hold the model's answers: what :meth:`to_parquet` keeps."""
        return [SCORE]

    def over(self, table: str, rows: int) -> ScoredRows:
        """The same kind of answers, read from another table of the same held-out rows."""
        return type(self)(self.heldout, table, rows)

    def to_parquet(self, path: Path) -> Path:
        """The answers by row number (``__wb_row`` and :meth:`answers`) as a Parquet file: what
        a later run needs to compare this model again on the same held-out rows (:meth:`from_parquet`)."""
        cols = ", ".join([ROW, *(_q(c) for c in self.answers())])
        self.con.execute(f"COPY (SELECT {cols} FROM {_q(self.table)} ORDER BY {ROW}) "
                         f"TO '{str(path).replace(chr(39), chr(39) * 2)}' (FORMAT parquet)")
        return path

    @classmethod
    def from_parquet(cls, path: Path, like: ScoredRows) -> ScoredRows:
        """Answers kept by :meth:`to_parquet`, put next to the held-out rows ``like`` scored
        (its truth and kept columns) as answers of ``like``'s kind (a score, or a class with its
        probabilities): the same rows, or an error naming the difference."""
        con, table = like.con, like.heldout.new_table("kept")
        answers = like.answers()
        keep = [d[0] for d in con.execute(f"SELECT * FROM {_q(like.table)} LIMIT 0").description
                if d[0] not in (ROW, Y, *answers)]
        src = str(path).replace("'", "''")
        stored = {d[0] for d in con.execute(f"SELECT * FROM read_parquet('{src}') LIMIT 0").description}
        if not set(answers) <= stored:
            raise EvaluationError(f"the kept answers lack {', '.join(sorted(set(answers) - stored))}", where=str(path),
                                  hint="they were kept for another kind of task: run the step with --force")
        con.execute(f"CREATE TABLE {_q(table)} AS SELECT r.{ROW}, r.{Y}"
                    + "".join(f", k.{_q(c)}" for c in answers)
                    + "".join(f", r.{_q(c)}" for c in keep)
                    + f" FROM {_q(like.table)} r JOIN read_parquet('{src}') k USING ({ROW})")
        kept = con.execute(f"SELECT count(*) FROM read_parquet('{src}')").fetchone()[0]
        joined = con.execute(f"SELECT count(*) FROM {_q(table)}").fetchone()[0]
        if not kept == joined == like.rows:
            raise EvaluationError(f"kept scores cover {kept:,} row(s), {joined:,} of them among the {like.rows:,} "
                                  "held-out rows", where=str(path),
                                  hint="the held-out rows differ from the run that kept them: run the step with --force")
        return like.over(table, joined)


def score_rows(model: Any, heldout: HeldOut, *, features: Sequence[str], target: str,
               truth: Callable[[Any], np.ndarray], binary: bool, keep: Sequence[str] = (),
               batch_rows: int = 100_000) -> ScoredRows:
    """Score every held-out row in record batches of ``batch_rows`` and write the scores
    back, with the truth (``truth(target values)``: 0/1 when ``binary``, else numbers) and
    the ``keep`` columns (slices, with their DuckDB types), to a new table keyed by
    ``__wb_row``."""
    import pyarrow as pa

    con = heldout.con
    table = heldout.new_table("scores")
    wanted = list(dict.fromkeys([*features, target, *keep]))
    y_type, y_arrow = ("INTEGER", pa.int32()) if binary else ("DOUBLE", pa.float64())
    con.execute(f"CREATE TABLE {_q(table)} AS SELECT {ROW}, NULL::{y_type} AS {Y}, NULL::DOUBLE AS {SCORE}"
                + "".join(f", {_q(c)}" for c in keep) + " FROM heldout LIMIT 0")
    reader = con.cursor()  # a second connection: one statement streams while the other inserts
    done = 0
    try:
        for batch in heldout.batches(batch_rows, wanted, con=reader):
            frame = heldout.prepare(batch.to_pandas())
            scores = np.asarray(model.score(frame[list(features)]), dtype=float)
            if scores.shape != (batch.num_rows,):
                raise EvaluationError(f"the model returned {scores.shape} scores for {batch.num_rows} rows",
                                      where="scoring the held-out rows", hint="score() must return one value per row")
            out = pa.table({ROW: batch.column(ROW), Y: pa.array(truth(frame[target]), y_arrow),
                            SCORE: pa.array(scores, pa.float64()), **{c: batch.column(c) for c in keep}})
            con.register("__wb_scored", out)
            con.execute(f"INSERT INTO {_q(table)} SELECT * FROM __wb_scored")
            con.unregister("__wb_scored")
            done += batch.num_rows
    finally:
        reader.close()
    return ScoredRows(heldout, table, done)
