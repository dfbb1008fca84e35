"""`validate` against the data: what the baseline and evaluate steps would refuse minutes
later, found in seconds from the source files themselves.

Each source becomes an in-memory DuckDB view over its file with the charter's declared
types (``TRY_CAST``: a value that does not parse is ingest's to report, with its line), on
at most :data:`SAMPLE_ROWS` rows; when the warehouse already holds the current load of the
file (same bytes, same declaration, table untouched: ingest will skip it), over that table
instead, so a pilot run parses each unchanged file once, not twice. The charter's feature
view runs over those views, as it will over the warehouse. Every finding is located at the charter key it is about
(file:line:column) and says what to do:

- the feature view runs; the target is in it, is no personal data, fits the task (a
  regression target is numeric; a classification target has exactly two values, one of
  them ``positive_label``); a target with a single value is refused for both;
- some column is a usable feature; names in ``features.exclude``/``categorical``,
  ``baseline.groups`` and ``fallback_on_null`` exist; the SQL baseline runs on the view;
- a temporal split's column exists, is DATE/TIMESTAMP or numeric, its bounds are values of
  that type, and (when the whole file was read) each window holds rows;
- a random split of rows that carry a date or a timestamp is warned about: the model
  would train on rows later than some it is judged on.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from ..charter.config import Charter, Source
from ..charter.yaml_reader import LocatedYaml
from ..data.sql import is_number_type, quote_ident as _q

__all__ = ["SAMPLE_ROWS", "check_data"]

SAMPLE_ROWS = 1_000_000  # per source: enough for types and cardinality, bounded time on a huge file
_TIME = ("DATE", "TIMESTAMP")  # TIMESTAMP WITH TIME ZONE, TIMESTAMP_NS, ... start with it
_UNUSABLE = ("BLOB", "INTERVAL", "BIT", "MAP", "STRUCT", "UNION")


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _base(duck_type: str) -> str:
    return duck_type.upper().split("(")[0].strip()


def _numeric(duck_type: str) -> bool:
    return is_number_type(duck_type) or _base(duck_type) == "BOOLEAN"


def _temporal(duck_type: str) -> bool:
    return _base(duck_type).startswith(_TIME)


def _scan(path: str, source: Source, *, parallel: bool = True) -> str:
    """The file read as text (a CSV with short rows padded, bad lines skipped: ingest names
    them). ``parallel=False``: DuckDB's parallel CSV scanner refuses quoted line breaks with
    padding, and texts (tickets, reviews, docstrings) often hold them."""
    if source.format == "parquet":
        return f"read_parquet({_lit(path)})"
    if source.format == "jsonl":
        from ..data.warehouse import json_scan

        return json_scan(path, source)
    o = source.csv
    columns = "{" + ", ".join(f"{_lit(c)}: 'VARCHAR'" for c in source.columns) + "}"
    nulls = _lit(o.null_string) if isinstance(o.null_string, str) else "[" + ", ".join(map(_lit, o.null_string)) + "]"
    return (f"read_csv({_lit(path)}, columns={columns}, header={str(o.header).lower()}, delim={_lit(o.delimiter)}, "
            f"quote={_lit(o.quote)}, nullstr={nulls}, auto_detect=false, ignore_errors=true, null_padding=true"
            + ("" if parallel else ", parallel=false") + ")")


def _header(path: Path, source: Source) -> list[str] | None:
    """The CSV file's header row (None when it cannot be read as text)."""
    import csv

    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            return next(csv.reader(f, delimiter=source.csv.delimiter, quotechar=source.csv.quote), None)
    except (OSError, UnicodeDecodeError, csv.Error):
        return None


class _Data:
    """Views named like the sources (as the warehouse's tables are), over a sample of each file
    or over its current load in the warehouse (attached read-only: nothing is copied)."""

    def __init__(self, charter: Charter) -> None:
        import duckdb

        self.con = duckdb.connect()
        self.con.execute("SET enable_progress_bar = false")
        self.complete: dict[str, bool] = {}  # source -> the whole file was read
        self.read_from: dict[str, str] = {}  # source -> "warehouse" | "file"
        paths = {name: charter.resolve(src.path) for name, src in charter.sources.items()}
        current = _current_loads(charter.warehouse_path, {n: (s, paths[n]) for n, s in charter.sources.items()})
        if current:
            try:
                self.con.execute(f"ATTACH {_lit(str(charter.warehouse_path))} AS _wb_wh (READ_ONLY)")
            except duckdb.Error:
                current = set()  # a writer took it since: read the files
        from ..data.warehouse import text_cast, text_format, text_value

        for name, src in charter.sources.items():
            path = paths[name]
            if not path.is_file():
                continue  # the charter's file check reports it
            if src.format == "csv" and src.csv.header and _header(path, src) != list(src.columns):
                continue  # columns read by position would shift: ingest and the contract name the header
            typed = ", ".join(f"TRY_CAST({_q(c)} AS {t}) AS {_q(c)}" for c, t in src.columns.items())
            # the file's text, read as ingest reads it (a CSV's declared date format included)
            csv = src.csv if src.format == "csv" else None
            cols = ", ".join(f"{text_cast(text_value(_q(c), t.upper(), csv), t, text_format(t.upper(), csv))} "
                             f"AS {_q(c)}" for c, t in src.columns.items())
            try:
                if name in current:
                    self.con.execute(f"CREATE TEMP VIEW {_q(name)} AS SELECT {typed} FROM _wb_wh.main.{_q(name)} "
                                     f"LIMIT {SAMPLE_ROWS + 1}")
                else:
                    try:
                        self.con.execute(f"CREATE TEMP TABLE {_q(name)} AS SELECT {cols} FROM "
                                         f"{_scan(str(path), src)} LIMIT {SAMPLE_ROWS + 1}")
                    except duckdb.Error:  # quoted line breaks: read serially (else every check was skipped)
                        self.con.execute(f"CREATE TEMP TABLE {_q(name)} AS SELECT {cols} FROM "
                                         f"{_scan(str(path), src, parallel=False)} LIMIT {SAMPLE_ROWS + 1}")
                rows = self.con.execute(f"SELECT count(*) FROM {_q(name)}").fetchall()[0][0]
            except duckdb.Error:
                continue  # an unreadable file or a missing column: ingest names the line and the column
            self.read_from[name] = "warehouse" if name in current else "file"
            self.complete[name] = rows <= SAMPLE_ROWS

    def close(self) -> None:
        self.con.close()


def _current_loads(db: Path, sources: dict[str, tuple[Source, Path]]) -> set[str]:
    """The sources whose warehouse table is the current load of their file: what ingest checks
    before it skips one (the file's hash, the declaration, the table's fingerprint). None when
    the warehouse is absent or held by a writer (then every file is read)."""
    import duckdb

    from ..data.warehouse import META_TABLE, declared_of, file_sha256, fingerprint

    if not db.is_file():
        return set()
    try:
        wh = duckdb.connect(str(db), read_only=True)
    except duckdb.Error:
        return set()
    current = set()
    try:
        for name, (src, path) in sources.items():
            try:
                found = wh.execute(f"SELECT file_sha256, declared, fingerprint FROM {META_TABLE} "
                                   "WHERE table_name = ?", [name]).fetchall()
                if (found and found[0][1] == declared_of(src) and path.is_file() and found[0][0] == file_sha256(path)
                        and fingerprint(wh, name).digest == json.loads(found[0][2])["digest"]):
                    current.add(name)
            except Exception:  # noqa: BLE001 - no usable record (or an unreadable file): the file is read instead
                continue
    finally:
        wh.close()
    return current


def check_data(charter: Charter, doc: LocatedYaml, out: list[Any], finding: Any,
               unread: list[str] | None = None) -> float:
    """Append the data findings (``finding(level, where, message, hint)``); the seconds taken.
    ``unread``: gets the sources these checks could not read (ingest names what is wrong with
    a file; when it loads one anyway, the runner checks again on the load)."""
    start = time.perf_counter()
    if charter.features is None or charter.task is None:
        return 0.0
    from ..data.warehouse import charter_pii
    from ..data.sql import view_sql

    data = _Data(charter)
    if unread is not None:
        unread += [n for n in charter.sources if n not in data.complete]
    try:
        features = charter.features
        if features.table is not None and features.table not in charter.sources:
            out.append(finding("error", doc.where(("features", "table")),
                               f"features.table '{features.table}' is not a source of this charter",
                               f"name one of: {', '.join(charter.sources)}, or write `features: {{sql: SELECT ...}}`"))
            return time.perf_counter() - start
        needed = [features.table] if features.table else list(charter.sources)
        if any(n not in data.complete for n in needed):
            return time.perf_counter() - start  # a source could not be read: ingest says why, with the line
        try:
            types = {r[0]: str(r[1]) for r in data.con.execute(f"DESCRIBE {view_sql(features)}").fetchall()}
        except Exception as exc:  # noqa: BLE001 - DuckDB's message names the SQL problem
            out.append(finding("error", doc.where(("features", "sql" if features.sql else "table")),
                               f"the feature view does not run on the sources: {str(exc).splitlines()[0]}",
                               "fix the SELECT (it runs over the sources, named as in `sources:`)"))
            return time.perf_counter() - start
        marked = charter_pii(charter)
        pii = {c for name in needed for c in marked.get(name, frozenset())}
        complete = all(data.complete[n] for n in needed)
        # the view runs once (joins and sorts included); every check reads the result
        data.con.execute(f"CREATE TEMP TABLE _wb_view AS {view_sql(features)}")
        view = "_wb_view AS v"
        _target(charter, doc, out, finding, data.con, view, types, pii)
        _features(charter, doc, out, finding, types, pii)
        _split(charter, doc, out, finding, data.con, view, types, pii, complete)
        _baseline(charter, doc, out, finding, data.con, view, types)
    finally:
        data.close()
    return time.perf_counter() - start


def _columns_hint(types: dict[str, str]) -> str:
    shown = list(types)[:20]
    return f"the feature view's columns: {', '.join(shown)}" + (" ..." if len(types) > 20 else "")


def _target(charter: Charter, doc: LocatedYaml, out: list, finding: Any, con: Any, view: str,
            types: dict[str, str], pii: set[str]) -> None:
    task = charter.task
    assert task is not None
    where = doc.where(("task", "target"))
    if task.target not in types:
        out.append(finding("error", where, f"the target '{task.target}' is not a column of the feature view",
                           _columns_hint(types) + "; fix `task.target` or the view"))
        return
    if task.target in pii:
        out.append(finding("error", where, f"the target '{task.target}' is personal data (pii: true in its contract)",
                           "personal data never leaves DuckDB: derive the target in the feature view under another name"))
        return
    dtype = types[task.target]
    if task.kind == "regression" and not _numeric(dtype):
        out.append(finding("error", where, f"the target '{task.target}' is {dtype}, but a regression target must be "
                           "a number", "declare it numeric in `sources:`, or use `task: {kind: classification}` "
                           "for labels"))
        return
    t = _q(task.target)
    values = [r[0] for r in con.execute(f"SELECT DISTINCT {t} FROM {view} WHERE {t} IS NOT NULL LIMIT 3").fetchall()]
    if len(values) < 2:
        what = "no value (every row is null)" if not values else f"a single value ({values[0]!r})"
        out.append(finding("error", where, f"the target '{task.target}' has {what}: there is nothing to predict",
                           "check the target column (and its declared type: a value that does not parse is null)"))
        return
    if task.kind == "classification" and not _temporal(dtype):
        if len(values) > 2:
            n = con.execute(f"SELECT count(DISTINCT {t}) FROM {view}").fetchall()[0][0]
            out.append(finding("error", doc.where(("task", "kind")),
                               f"classification here is binary, but the target '{task.target}' has {n} distinct values",
                               "binarise it in the feature view (e.g. `features: {sql: SELECT *, (grade = 'A')::INTEGER "
                               "AS target FROM t}`), or use `kind: multiclass` for classes (README, \"Multiclass "
                               "pilots\") or `kind: regression` for a number"))
            return
        positive = task.positive_label
        if not any(_same(v, positive) for v in values):
            out.append(finding("error", doc.where(("task", "positive_label")),
                               f"task.positive_label {positive!r} never occurs in the target '{task.target}' "
                               f"(its values: {', '.join(map(repr, values))})",
                               "set `positive_label:` to the value that marks the positive class"))


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) or (isinstance(a, (int, float)) and float(a) == float(b)) or str(a) == str(b)
    except (TypeError, ValueError):
        return str(a) == str(b)


def _features(charter: Charter, doc: LocatedYaml, out: list, finding: Any, types: dict[str, str],
              pii: set[str]) -> None:
    features, task = charter.features, charter.task
    assert features is not None and task is not None
    for key in ("exclude", "categorical"):
        for i, col in enumerate(getattr(features, key)):
            if col not in types:
                out.append(finding("warning", doc.where(("features", key, i)),
                                   f"features.{key} names '{col}', which is not a column of the feature view",
                                   _columns_hint(types)))
    skip = {task.target, *features.exclude, *pii}
    if charter.split is not None and charter.split.kind == "temporal":
        skip.add(str(charter.split.column))
    usable = [c for c, t in types.items() if c not in skip and (c in features.categorical or _usable(t))]
    if not usable:
        out.append(finding("error", doc.where(("features",)), "the feature view has no usable feature column "
                           "(numbers, booleans or text, other than the target, excluded and personal-data columns)",
                           "add columns to the view, or remove them from `features.exclude`; derive numbers from "
                           "dates in the view"))
    for col, t in types.items():
        if col not in skip and _base(t).startswith(_UNUSABLE):
            out.append(finding("warning", doc.where(("features",)), f"column '{col}' is {t}: not usable as a feature, "
                               "it will be left out", "exclude it, or derive a number or a text from it in the view"))


def _usable(duck_type: str) -> bool:
    base = _base(duck_type)
    return _numeric(duck_type) or base in ("VARCHAR", "UUID") or base.startswith("ENUM")


def _split(charter: Charter, doc: LocatedYaml, out: list, finding: Any, con: Any, view: str, types: dict[str, str],
           pii: set[str], complete: bool) -> None:
    split = charter.split
    if split is None:
        return
    if split.cluster is not None and (split.cluster not in types or split.cluster in pii):
        out.append(finding("error", doc.where(("split", "cluster")),
                           f"the cluster column '{split.cluster}' is "
                           + ("personal data (pii: true in its contract)" if split.cluster in pii else
                              "not a column of the feature view"),
                           "choose another column, or derive one in the feature view under another name"
                           if split.cluster in pii else _columns_hint(types)))
    if split.kind == "random":
        dated = [c for c, t in types.items() if _temporal(t) and c not in pii]
        if dated:
            out.append(finding("warning", doc.where(("split", "kind")),
                               f"a random split of time-indexed rows ({', '.join(dated[:3])} "
                               f"{'is a date' if len(dated) == 1 else 'are dates'}): the model trains on rows "
                               "later than some it is judged on, which flatters it",
                               f"split on time: `split: {{kind: temporal, column: {dated[0]}, train: [FROM, TO], "
                               "evaluate: [FROM, TO]}` (`workbench new --time-column` drafts one)"))
        return
    col = str(split.column)
    where = doc.where(("split", "column"))
    if col not in types:
        out.append(finding("error", where, f"the split column '{col}' is not a column of the feature view",
                           _columns_hint(types)))
        return
    if col in pii:
        out.append(finding("error", where, f"the split column '{col}' is personal data (pii: true in its contract)",
                           "choose another column, or derive one in the feature view under another name"))
        return
    if split.kind == "group":  # any type groups rows: a value's rows stay on one side
        return
    dtype = types[col]
    if not (_temporal(dtype) or _numeric(dtype)):
        out.append(finding("error", where, f"the split column '{col}' is {dtype}; a temporal split needs a DATE, "
                           "TIMESTAMP or numeric column", f"declare '{col}' as DATE or TIMESTAMP in `sources:` "
                           "(or cast it in the feature view)"))
        return
    q = _q(col)
    bounds_ok = True
    for key in ("train", "evaluate"):
        for i, value in enumerate(getattr(split, key) or []):
            try:
                con.execute(f"SELECT CAST(? AS {dtype})", [value]).fetchall()[0]
            except Exception:  # noqa: BLE001 - DuckDB's conversion error: the bound is no value of the type
                bounds_ok = False
                out.append(finding("error", doc.where(("split", key, i)),
                                   f"split.{key} bound {value!r} is not a {dtype} value of column '{col}'",
                                   "write the bound as the column holds it (an ISO date for a DATE, a number for "
                                   "a number)"))
    if not (bounds_ok and complete):
        return
    lo, hi = con.execute(f"SELECT min({q}), max({q}) FROM {view}").fetchall()[0]
    for key in ("train", "evaluate"):
        a, b = getattr(split, key)
        n = con.execute(f"SELECT count(*) FROM {view} WHERE {q} BETWEEN CAST(? AS {dtype}) AND CAST(? AS {dtype})",
                        [a, b]).fetchall()[0][0]
        if n == 0:
            out.append(finding("error", doc.where(("split", key)),
                               f"the {'training' if key == 'train' else 'evaluation'} window [{a}, {b}] of "
                               f"'{col}' holds no row (the data runs from {lo} to {hi})",
                               "move the window inside the data's range"))


def _baseline(charter: Charter, doc: LocatedYaml, out: list, finding: Any, con: Any, view: str,
              types: dict[str, str]) -> None:
    base = charter.baseline
    for i, cand in enumerate(charter.candidates):
        for j, col in enumerate(cand.fallback_on_null):
            if col not in types:
                out.append(finding("error", doc.where(("candidates", i, "fallback_on_null", j)),
                                   f"candidate '{cand.name}' falls back on nulls in '{col}', which is not a column "
                                   "of the feature view", _columns_hint(types)))
    if base is None:
        return
    if base.kind == "group_rate":
        for i, col in enumerate(base.groups):
            if col not in types:
                out.append(finding("error", doc.where(("baseline", "groups", i)),
                                   f"baseline group '{col}' is not a column of the feature view", _columns_hint(types)))
    if base.kind == "sql" and base.expression:
        try:
            con.execute(f"DESCRIBE SELECT ({base.expression}) AS today FROM {view}").fetchall()
        except Exception as exc:  # noqa: BLE001 - DuckDB's message names the problem
            out.append(finding("error", doc.where(("baseline", "expression")),
                               f"the baseline expression does not run on the feature view: {str(exc).splitlines()[0]}",
                               "fix the SQL expression (it sees the feature view's columns)"))
