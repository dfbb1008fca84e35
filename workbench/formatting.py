"""Readable numbers, one way everywhere: scorecard, HTML reports, notebook tables, widgets.

- integers as integers, with thousands separators from five digits on: ``336776.0`` ->
  ``336,776``, ``2013.0`` -> ``2013``;
- other numbers with about four significant digits and never in scientific notation:
  ``0.71342`` -> ``0.7134``, ``12345.678`` -> ``12,346``, ``0.000123`` -> ``0.000123``;
- rates (shares of rows) as percentages: ``0.0213`` -> ``2.1%``;
- times in ms or s: ``0.41`` ms -> ``0.41 ms``, ``1834`` ms -> ``1.83 s``, ``95`` s -> ``1 min 35 s``;
- beyond 10¹⁵ and below 10⁻⁶, a power of ten: ``1.5e300`` -> ``1.5 × 10³⁰⁰``;
- money in dollars: ``0.00123`` -> ``$0.00123``, ``1234.5`` -> ``$1,234.50``.

:func:`by_unit` formats a value by its unit; the metric registry
(:func:`workbench.measure.metrics.format_metric`) uses it so a metric's name carries its
meaning all the way to the page. :func:`outcome_label` is the one
display name of each promotion outcome. :func:`styled` turns a DataFrame into a pandas
Styler with the same formats, for notebook tables.

Every function takes ``None`` (and NaN) and returns :data:`MISSING`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = [
    "MISSING",
    "integer",
    "number",
    "percent",
    "ms",
    "seconds",
    "usd",
    "by_unit",
    "by_name",
    "outcome_label",
    "styled",
    "distinct",
    "cost_per_1k",
    "timestamp",
    "change",
    "difference",
    "NO_REAL_DIFFERENCE",
]

NO_REAL_DIFFERENCE = "no real difference"

MISSING = "—"

# promotion outcome -> its one display name (workbench.decide.promotion: Decision.outcome)
_OUTCOMES = {
    "go": "GO",
    "no-go": "NO-GO",
    "draft": "DRAFT",
    "no-better": "NO BETTER THAN TODAY",
    "already-champion": "ALREADY CHAMPION",
    "rollback": "ROLLBACK",
}


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return isinstance(value, float) and math.isnan(value)
    except TypeError:
        return False


def _as_float(value: Any) -> float | None:
    if _missing(value) or isinstance(value, bool):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) else out


# beyond these magnitudes a number is written as a power of ten (``1.23 × 10¹⁸``): its digits
# would say nothing and break a page's layout
_HUGE, _TINY = 1e15, 1e-6
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _power_of_ten(v: float, digits: int) -> str:
    exponent = math.floor(math.log10(abs(v)))
    mantissa = v / 10 ** exponent
    if round(abs(mantissa), digits - 1) >= 10:  # 9.9996 -> 10.00: carry into the exponent
        mantissa, exponent = mantissa / 10, exponent + 1
    text = f"{mantissa:.{max(0, digits - 1)}f}".rstrip("0").rstrip(".")
    return f"{text} × 10{str(exponent).translate(_SUPERSCRIPT)}"


def integer(value: Any) -> str:
    """``336776.0`` -> ``336,776`` (rounded to the nearest integer); from 10¹⁵ on, a power of ten."""
    v = _as_float(value)
    if v is None:
        return MISSING if _missing(value) else str(value)
    if math.isinf(v):
        return "∞" if v > 0 else "-∞"
    if abs(v) >= _HUGE:
        return _power_of_ten(v, 4)
    return _group(f"{round(v)}")


def _group(text: str) -> str:
    """Thousands separators from five integer digits on (``2013``, ``12,345``)."""
    sign = "-" if text.startswith("-") else ""
    body = text.lstrip("-")
    whole, dot, frac = body.partition(".")
    if len(whole) > 4:
        whole = f"{int(whole):,}"
    return sign + whole + dot + frac


def number(value: Any, *, digits: int = 4) -> str:
    """Integers as integers, other numbers with ``digits`` significant digits, no exponent.

    Large numbers keep their integer part (``12,345.678`` -> ``12,346``); small ones keep
    ``digits`` significant digits (``0.000123456`` -> ``0.0001235``)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    v = _as_float(value)
    if v is None:
        return MISSING if _missing(value) else str(value)
    if math.isinf(v):
        return "∞" if v > 0 else "-∞"
    if v == 0:
        return "0"
    if abs(v) >= _HUGE or abs(v) < _TINY:
        return _power_of_ten(v, digits)
    if v.is_integer():
        return _group(f"{int(v)}")
    magnitude = math.floor(math.log10(abs(v)))
    decimals = max(0, digits - 1 - magnitude)
    text = f"{v:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return _group(text)


def percent(value: Any, *, digits: int = 1) -> str:
    """A share as a percentage: ``0.0213`` -> ``2.1%``; tiny non-zero shares keep a digit
    that shows (``0.00004`` -> ``0.004%``), so a non-zero rate never reads as ``0.0%``."""
    v = _as_float(value)
    if v is None:
        return MISSING if _missing(value) else str(value)
    pct = v * 100.0
    if pct == 0 or math.isinf(pct):
        return f"{number(pct)}%"
    shown = digits
    while shown < 6 and round(abs(pct), shown) == 0:
        shown += 1
    text = f"{pct:.{shown}f}"
    if "." in text and shown > digits:
        text = text.rstrip("0").rstrip(".")
    return f"{_group(text)}%"


def ms(value: Any) -> str:
    """A duration given in milliseconds: ``0.41 ms``, ``12.3 ms``, ``1.83 s``, ``2 min 5 s``."""
    v = _as_float(value)
    if v is None:
        return MISSING if _missing(value) else str(value)
    if abs(v) >= 1000:
        return seconds(v / 1000.0)
    return f"{number(v, digits=3)} ms"


def seconds(value: Any) -> str:
    """A duration given in seconds: ``0.25 s`` -> ``250 ms``, ``12.3 s``, ``1 min 35 s``, ``2 h 05 min``."""
    v = _as_float(value)
    if v is None:
        return MISSING if _missing(value) else str(value)
    if abs(v) < 1:
        return ms(v * 1000.0)
    if abs(v) < 60:
        return f"{number(v, digits=3)} s"
    total = round(abs(v))
    sign = "-" if v < 0 else ""
    if total < 3600:
        return f"{sign}{total // 60} min {total % 60} s"
    return f"{sign}{total // 3600} h {(total % 3600) // 60:02d} min"


def usd(value: Any) -> str:
    """Dollars: ``$1,234.50``, ``$0.25``, ``$0.00123`` (small amounts keep 3 significant digits)."""
    v = _as_float(value)
    if v is None:
        return MISSING if _missing(value) else str(value)
    sign = "-" if v < 0 else ""
    a = abs(v)
    if a >= 1 or a == 0:
        return f"{sign}${_group(f'{a:.2f}')}"
    return f"{sign}${number(a, digits=3)}"


# unit (as in workbench.measure.metrics) -> formatter
_BY_UNIT: dict[str, Callable[[Any], str]] = {
    "count": integer,
    "share": percent,
    "ms": ms,
    "seconds": seconds,
    "usd": usd,
    "hours": lambda v: MISSING if _as_float(v) is None else f"{number(v, digits=3)} h",
    "items/s": lambda v: MISSING if _as_float(v) is None else f"{number(v, digits=3)}/s",
    "MB": lambda v: MISSING if _as_float(v) is None else f"{number(v, digits=3)} MB",
    "flag": lambda v: MISSING if _as_float(v) is None else ("yes" if float(v) else "no"),
}


def by_unit(unit: str | None, value: Any) -> str:
    """Format ``value`` for a registry unit (``count``, ``share``, ``ms``, ``usd``, ...);
    unitless kinds (``ratio``, ``score``, ``probability``, ``target``, ...) as :func:`number`."""
    return _BY_UNIT.get(unit or "", number)(value)


def by_name(name: str, value: Any) -> str:
    """A value whose unit is guessed from its name's last part (``*_ms``, ``*_usd``, ``*_rate``,
    ``*count``, ``*rows``, ``*_s``/``seconds``), else :func:`number`. Metrics with a registered
    unit are formatted by :func:`workbench.measure.metrics.format_metric`, which falls back here."""
    last = name.rsplit(".", 1)[-1]
    if last.endswith("_ms"):
        return ms(value)
    if last.endswith("_usd"):
        return usd(value)
    if last in ("seconds", "duration_s") or last.endswith("_seconds"):
        return seconds(value)
    if last.endswith("rate") and not last.endswith("_per_rate"):
        return percent(value)
    if last.endswith(("count", "rows", "columns", "changes", "failed", "failures", "warnings", "quarantined")):
        return integer(value)
    return number(value)


def distinct(value: Any, *, exact: bool = False) -> str:
    """A distinct count: ``12,345`` when counted exactly, ``≈ 12,345`` when estimated (HyperLogLog)."""
    if _as_float(value) is None:
        return integer(value)
    return integer(value) if exact else f"≈ {integer(value)}"


def cost_per_1k(value: Any) -> str:
    """Cost per 1,000 items, one form everywhere: ``$0.0012 per 1,000`` (3 significant digits
    below a dollar, cents above, a power of ten below 10⁻⁶: never an exponent)."""
    v = _as_float(value)
    if v is None:
        return MISSING if _missing(value) else str(value)
    return f"{usd(v)} per 1,000"


def timestamp(value: Any, *, tz: Any = None) -> str:
    """A moment with its time zone: ``2026-12-03 05:11:50 UTC``. Takes a datetime (naive: UTC),
    epoch seconds or milliseconds (MLflow's ``start_time``) or an ISO 8601 string; ``tz``: show
    it in this zone (a ``tzinfo``), else UTC."""
    from datetime import UTC, datetime

    if _missing(value) or value == "":
        return MISSING
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    else:
        v = _as_float(value)
        if v is None:
            return str(value)
        moment = datetime.fromtimestamp(v / 1000.0 if v > 1e11 else v, UTC)  # ms since 1973, else s
    moment = moment.astimezone(tz or UTC)
    name = moment.tzname() or moment.strftime("%z")
    return f"{moment.strftime('%Y-%m-%d %H:%M:%S')} {name}"


def _direction(metric: Any) -> str | None:
    """``"higher"`` / ``"lower"`` / None from a metric registry entry (or anything with a
    ``direction``), or from a direction given as is."""
    found = metric if isinstance(metric, str) else getattr(metric, "direction", None)
    return found if found in ("higher", "lower") else None


def _unit(metric: Any) -> str | None:
    return getattr(metric, "unit", None)


def change(metric: Any, diff: Any) -> str:
    """A difference in words with an arrow, by the metric's direction (so a lower latency
    reads as better): ``▲ 0.031 better``, ``▼ 12 ms worse``, ``0 (same)``; without a
    direction, only the signed amount: ``+0.031``. ``metric``: a registry entry
    (:class:`workbench.measure.metrics.MetricInfo`: ``direction`` and ``unit``)."""
    v = _as_float(diff)
    if v is None:
        return MISSING if _missing(diff) else str(diff)
    # a difference of shares is in percentage points (``3.1 pts``), never a percentage of a percentage
    amount = f"{number(abs(v) * 100, digits=3)} pts" if _unit(metric) == "share" else by_unit(_unit(metric), abs(v))
    if v == 0:
        return f"{amount} (same)"
    arrow = "▲" if v > 0 else "▼"
    direction = _direction(metric)
    if direction is None:
        return f"{'+' if v > 0 else '−'}{amount}"
    better = (v > 0) == (direction == "higher")
    return f"{arrow} {amount} {'better' if better else 'worse'}"


def difference(metric: Any, diff: Any, ci_low: Any = None, ci_high: Any = None) -> str:
    """A difference (candidate − baseline) as a reader should take it: "no real difference"
    when its confidence interval contains 0, else :func:`change` with the interval:
    ``▲ 0.031 better (95% CI 0.012 to 0.050)``. Without an interval, :func:`change` alone."""
    lo, hi = _as_float(ci_low), _as_float(ci_high)
    if lo is None or hi is None:
        return change(metric, diff)
    unit = _unit(metric)
    interval = f"95% CI {by_unit(unit, lo) if lo >= 0 else '−' + by_unit(unit, -lo)} to " \
               f"{by_unit(unit, hi) if hi >= 0 else '−' + by_unit(unit, -hi)}"
    if lo <= 0 <= hi:
        return f"{NO_REAL_DIFFERENCE} ({interval})"
    return f"{change(metric, diff)} ({interval})"


def outcome_label(outcome: str | None) -> str:
    """The one display name of a promotion outcome: ``already-champion`` -> ``ALREADY CHAMPION``."""
    if not outcome:
        return MISSING
    return _OUTCOMES.get(outcome, outcome.replace("-", " ").upper())


# -- pandas -----------------------------------------------------------------------------------


def _column_formatter(name: str, values: Iterable[Any]) -> Callable[[Any], str]:
    lowered = str(name).lower()
    if lowered.endswith(("_rate", " rate", "share", "_pct_share")) or lowered in ("rate", "null rate", "base_rate"):
        return percent
    if lowered.endswith("_ms") or lowered.endswith(" ms"):
        return ms
    if lowered.endswith("_usd"):
        return usd
    numeric = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool) and not _missing(v)]
    if numeric and all(float(v).is_integer() for v in numeric):
        return integer
    return number


def styled(frame: Any, formats: Mapping[str, Callable[[Any], str]] | None = None, *, index: bool = False) -> Any:
    """A pandas Styler showing ``frame`` with readable numbers.

    Each numeric column gets a formatter from its name and values (``*_rate`` columns as
    percentages, ``*_ms`` as times, integer-valued columns as integers, the rest with four
    significant digits); ``formats`` overrides by column. Text is left alone."""
    formatters: dict[Any, Callable[[Any], str]] = {}
    for col in frame.columns:
        if formats and col in formats:
            formatters[col] = formats[col]
            continue
        values = list(frame[col])
        if any(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            base = _column_formatter(col, values)
            formatters[col] = lambda v, base=base: v if isinstance(v, str) else base(v)
    style = frame.style.format(formatters, na_rep=MISSING)
    return style if index else style.hide(axis="index")


def listed(items: Iterable[Any], limit: int) -> str:
    """The first ``limit`` of ``items`` joined with commas, and how many more there are
    (``a, b, c and 4 more``): a message names a few and counts the rest."""
    texts = [str(i) for i in items]
    return ", ".join(texts[:limit]) + (f" and {len(texts) - limit} more" if len(texts) > limit else "")
