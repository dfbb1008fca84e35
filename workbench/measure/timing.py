"""Latency, throughput, memory and cost of a prediction callable, measured the same way
for the baseline and for every candidate.

``time_predictions(predict, inputs)`` calls ``predict`` on real rows of the evaluation
set, first one row at a time (the online path), then in batches (the bulk path), and
returns a frozen :class:`TimingResult` whose ``.metrics()`` carries fixed names, so the
promotion gates can compare the baseline with the candidates name by name:

=============================  ==========================================================
``latency.p50_ms`` … ``p99_ms``  single-row call latency percentiles (numpy 'linear')
``latency.max_ms`` / ``mean_ms``  single-row call latency, worst and mean
``latency.batch_p50_ms``       one batch call (full-size batches only)
``latency.batch_max_ms``       slowest full-size batch call
``latency.batch_per_item_ms``  batch time amortised per row (1000 / throughput)
``throughput.items_per_s``     rows per second over all batch calls
``memory.peak_mb``             tracemalloc peak of Python allocations, first batches
``cost.per_1k_usd``            batched: compute time + API calls per batch, per 1,000 rows
``cost.single_per_1k_usd``     one row per call: compute time + API calls per row
``cost.human_per_1k_usd``      what 1,000 rows cost done by hand (if the charter says)
``cost.saved_per_1k_usd``      human cost minus batched machine cost, per 1,000 rows
``time_saved.per_1k_hours``    human hours minus machine hours, per 1,000 rows
=============================  ==========================================================

Only the metrics that apply appear (no single-row calls -> no ``latency.p50_ms``; no
cost model -> no ``cost.*``). Nothing is ever NaN.

Rules that keep the numbers comparable:

* The *input type is the caller's choice and is recorded* (``input_type``): a pandas
  DataFrame and a numpy array of the same rows can differ ~3x in per-call latency, so pass
  the baseline and the candidates the same type. Rows are sliced the same way for both
  (``inputs.iloc[i:j]`` for pandas objects, ``inputs[i:j]`` otherwise), so a single row is
  still a 1-row 2-D frame/array.
* Warm-up calls (first-call caches, lazy imports, JIT) run before each timed phase and are
  excluded. ``threads`` pins BLAS/OpenMP pools through threadpoolctl for the measurement.
* Memory is measured in a separate, untimed pass over the first ``MEMORY_BATCHES`` batches
  because tracemalloc slows every Python allocation (each batch's output is dropped before
  the next call, so more batches of the same size add time, not peak). tracemalloc sees
  Python objects and numpy/pandas buffers (numpy reports to it) but not native allocators
  (DuckDB, Arrow, OpenMP scratch); the RSS high-water growth (``rss_growth_mb``, from
  ``getrusage``) catches those only when the process reaches a *new* peak, so it is a lower
  bound and kept out of ``metrics()``.
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ..charter.config import CostModel
from ..errors import EvaluationError

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["TimingResult", "time_predictions", "time_in_blocks", "straddled", "percentiles", "latency_summary",
           "plot_latency"]

PERCENTILES = (50.0, 95.0, 99.0)
MEMORY_BATCHES = 5  # batches of the untimed memory pass: a working set, not a leak test


# -- pure statistics ------------------------------------------------------------------


def percentiles(samples: Sequence[float] | np.ndarray, qs: Sequence[float] = PERCENTILES) -> dict[float, float]:
    """Percentiles of ``samples`` by numpy's default 'linear' method (type 7, the same as
    Excel's PERCENTILE.INC and R's default): ``{50.0: ..., 95.0: ..., 99.0: ...}``."""
    arr = np.asarray(samples, dtype=float)
    if arr.size == 0:
        raise EvaluationError(
            "cannot compute percentiles of zero samples",
            hint="time at least one call (single_items > 0, or non-empty inputs)",
        )
    if not np.all(np.isfinite(arr)):
        raise EvaluationError("latency samples contain NaN or infinity", hint="report this as a bug")
    values = np.percentile(arr, list(qs), method="linear")
    return {float(q): float(v) for q, v in zip(qs, values)}


def latency_summary(samples_ms: Sequence[float] | np.ndarray) -> dict[str, float]:
    """``{"p50_ms", "p95_ms", "p99_ms", "max_ms", "mean_ms"}`` of latency samples in ms."""
    p = percentiles(samples_ms)
    arr = np.asarray(samples_ms, dtype=float)
    return {
        "p50_ms": p[50.0],
        "p95_ms": p[95.0],
        "p99_ms": p[99.0],
        "max_ms": float(arr.max()),
        "mean_ms": float(arr.mean()),
    }


# -- result -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TimingResult:
    """Raw samples of one measurement and the statistics derived from them.

    Latencies are wall-clock milliseconds per ``predict`` call. ``batch_rows[i]`` is the
    number of rows in batch call ``i`` (the last batch of a pass may be short).
    """

    input_type: str
    n_inputs: int
    batch_size: int
    warmup: int
    repeats: int
    single_latencies_ms: tuple[float, ...]
    batch_latencies_ms: tuple[float, ...]
    batch_rows: tuple[int, ...]
    peak_memory_mb: float | None = None
    rss_growth_mb: float | None = None
    threads: int | None = None
    cost: CostModel | None = None
    calls_per_item: float = 1.0
    calls_per_batch: float = 1.0
    notes: tuple[str, ...] = field(default=())
    blocks: int = 1  # the samples in call order, cut into this many contiguous blocks (repeated measurements)
    inside_noise: tuple[str, ...] = field(default=())  # budgets still inside the interval after re-measuring

    # -- repeated blocks ---------------------------------------------------------------
    def block_values(self, metric: str) -> list[float]:
        """``metric`` measured on each block alone (``latency.p50_ms`` / ``p95_ms`` / ``p99_ms``
        / ``mean_ms`` from the single-row calls, ``throughput.items_per_s`` from the batch
        calls); empty when it has no per-block value."""
        if metric.startswith("latency.") and metric.endswith("_ms") and self.single_latencies_ms:
            stat = metric[len("latency."):-len("_ms")]
            parts = [p for p in np.array_split(np.asarray(self.single_latencies_ms), self.blocks) if len(p)]
            if stat == "mean":
                return [float(p.mean()) for p in parts]
            if stat in ("p50", "p95", "p99"):
                return [float(np.percentile(p, float(stat[1:]))) for p in parts]
            return []
        if metric == "throughput.items_per_s" and self.batch_latencies_ms:
            ms = np.array_split(np.asarray(self.batch_latencies_ms), self.blocks)
            rows = np.array_split(np.asarray(self.batch_rows, dtype=float), self.blocks)
            return [float(r.sum() / (m.sum() / 1000.0)) for m, r in zip(ms, rows) if len(m) and m.sum() > 0]
        return []

    def interval(self, metric: str) -> tuple[float, float] | None:
        """95 % interval of ``metric`` across blocks (None: fewer than two blocks)."""
        values = self.block_values(metric)
        if len(values) < 2:
            return None
        from .stats import p95_blocks_interval

        _, lo, hi = p95_blocks_interval(values)
        return lo, hi

    # -- derived statistics ----------------------------------------------------------
    @property
    def single(self) -> dict[str, float] | None:
        """Single-row latency summary (p50/p95/p99/max/mean ms), or None if not measured."""
        return latency_summary(self.single_latencies_ms) if self.single_latencies_ms else None

    @property
    def items_per_s(self) -> float | None:
        """Rows per second over every timed batch call (all rows / all batch time)."""
        seconds = sum(self.batch_latencies_ms) / 1000.0
        if not self.batch_rows or seconds <= 0:
            return None
        return sum(self.batch_rows) / seconds

    @property
    def batch_per_item_ms(self) -> float | None:
        ips = self.items_per_s
        return None if ips is None else 1000.0 / ips

    @property
    def full_batch_latencies_ms(self) -> tuple[float, ...]:
        """Latency of batch calls that got ``batch_size`` rows (or all batches, if none did)."""
        full = tuple(ms for ms, n in zip(self.batch_latencies_ms, self.batch_rows) if n == self.batch_size)
        return full or self.batch_latencies_ms

    def cost_breakdown(self) -> dict[str, float]:
        """Cost per 1,000 rows from the cost model (empty without one).

        batched: ``compute_usd_per_hour / 3600 * seconds per row (from batch throughput)
        * 1000 + usd_per_call * calls_per_batch * 1000 / batch_size``;
        single: the same with the mean single-row latency and ``calls_per_item`` per row.
        Human: ``human_seconds_per_item * 1000`` seconds, priced at ``human_usd_per_hour``.
        """
        cost = self.cost
        if cost is None:
            return {}
        out: dict[str, float] = {}
        per_item_s = None if self.batch_per_item_ms is None else self.batch_per_item_ms / 1000.0
        if per_item_s is not None:
            compute = cost.compute_usd_per_hour / 3600.0 * per_item_s * 1000.0
            calls = cost.usd_per_call * self.calls_per_batch * 1000.0 / self.batch_size
            out["cost.per_1k_usd"] = compute + calls
        single = self.single
        if single is not None:
            compute = cost.compute_usd_per_hour / 3600.0 * (single["mean_ms"] / 1000.0) * 1000.0
            out["cost.single_per_1k_usd"] = compute + cost.usd_per_call * self.calls_per_item * 1000.0
        if cost.human_seconds_per_item is not None:
            if cost.human_usd_per_hour is not None:
                human = cost.human_usd_per_hour / 3600.0 * cost.human_seconds_per_item * 1000.0
                out["cost.human_per_1k_usd"] = human
                if "cost.per_1k_usd" in out:
                    out["cost.saved_per_1k_usd"] = human - out["cost.per_1k_usd"]
            if per_item_s is not None:
                out["time_saved.per_1k_hours"] = (cost.human_seconds_per_item - per_item_s) * 1000.0 / 3600.0
        return out

    def metrics(self) -> dict[str, float]:
        """Flat ``{name: value}`` with the fixed names (see the module docstring)."""
        out: dict[str, float] = {}
        single = self.single
        if single is not None:
            out.update({f"latency.{k}": v for k, v in single.items()})
        if self.batch_latencies_ms:
            full = self.full_batch_latencies_ms
            out["latency.batch_p50_ms"] = percentiles(full, (50.0,))[50.0]
            out["latency.batch_max_ms"] = float(max(full))
        if self.items_per_s is not None:
            out["latency.batch_per_item_ms"] = float(self.batch_per_item_ms)  # type: ignore[arg-type]
            out["throughput.items_per_s"] = float(self.items_per_s)
        if self.peak_memory_mb is not None:
            out["memory.peak_mb"] = float(self.peak_memory_mb)
        out.update(self.cost_breakdown())
        if self.blocks >= 2:
            out.update(self.block_metrics(logged_only=True))
        return out

    def block_metrics(self, *, logged_only: bool = False) -> dict[str, float]:
        """The repeated-block evidence: the p95's interval across blocks and whether a budget
        stayed inside the noise (MLflow metrics); with ``logged_only=False`` also the number of
        blocks, the p95's spread and throughput's interval (in the timing JSON)."""
        out: dict[str, float] = {"timing.inside_noise": float(bool(self.inside_noise))}
        for metric in ("latency.p95_ms", *(() if logged_only else ("throughput.items_per_s",))):
            ci = self.interval(metric)
            if ci is not None:
                out[f"{metric}_ci_low"], out[f"{metric}_ci_high"] = ci
        if not logged_only:
            out["timing.blocks"] = float(self.blocks)
            values = self.block_values("latency.p95_ms")
            if values:
                out["latency.p95_ms_spread"] = max(values) - min(values)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: settings, derived metrics and raw samples (for an artifact)."""
        data = asdict(self)
        data["cost"] = None if self.cost is None else self.cost.model_dump()
        data["single_latencies_ms"] = list(self.single_latencies_ms)
        data["batch_latencies_ms"] = list(self.batch_latencies_ms)
        data["batch_rows"] = list(self.batch_rows)
        data["notes"] = list(self.notes)
        data["inside_noise"] = list(self.inside_noise)
        data["block_values"] = {m: self.block_values(m) for m in ("latency.p95_ms", "throughput.items_per_s")}
        data["blocks_summary"] = self.block_metrics() if self.blocks >= 2 else {}
        data["metrics"] = self.metrics()
        return data


# -- measurement ------------------------------------------------------------------------


def _type_name(obj: Any) -> str:
    cls = type(obj)
    module = cls.__module__.split(".")[0]
    return f"{module}.{cls.__qualname__}"


def _rows(inputs: Any) -> Callable[[int, int], Any]:
    """A slicer ``(start, stop) -> rows`` that keeps the input's type and dimensionality."""
    if hasattr(inputs, "iloc"):  # pandas DataFrame / Series: positional, never by label
        return lambda i, j: inputs.iloc[i:j]
    if hasattr(inputs, "__getitem__"):
        return lambda i, j: inputs[i:j]
    raise EvaluationError(
        f"cannot slice inputs of type {_type_name(inputs)}",
        hint="pass a pandas DataFrame, a numpy array or a list of rows",
    )


def _call(predict: Callable[[Any], Any], rows: Any, where: str) -> tuple[Any, int]:
    try:
        start = time.perf_counter_ns()
        out = predict(rows)
        elapsed = time.perf_counter_ns() - start
    except Exception as exc:
        raise EvaluationError(
            f"the prediction callable raised {type(exc).__name__}: {exc}",
            where=where,
            hint="the timing inputs must be valid rows the model accepts; "
            "probe malformed rows with evaluation.run_probes instead",
        ) from exc
    return out, elapsed


def _check_length(out: Any, expected: int, where: str) -> None:
    try:
        got = len(out)
    except TypeError:
        got = None
    if got != expected:
        raise EvaluationError(
            f"the prediction callable returned {got if got is not None else 'an unsized ' + _type_name(out)} "
            f"predictions for {expected} rows",
            where=where,
            hint="predict must return one prediction per input row (an array, Series or list)",
        )


def _max_rss_mb() -> float | None:
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def time_predictions(
    predict: Callable[[Any], Any],
    inputs: Any,
    *,
    batch_size: int = 1000,
    single_items: int = 500,
    warmup: int = 20,
    repeats: int = 1,
    cost: CostModel | None = None,
    calls_per_item: float = 1.0,
    calls_per_batch: float = 1.0,
    threads: int | None = None,
    measure_memory: bool = True,
) -> TimingResult:
    """Time ``predict`` on ``inputs``, one row at a time and in batches.

    ``inputs``: a pandas DataFrame or numpy array (or list) of real evaluation rows; its
    type is used as given (see the module docstring). ``single_items`` single-row calls
    are timed after ``warmup`` untimed ones (rows cycle when ``inputs`` is shorter);
    then all of ``inputs`` is predicted in ``batch_size`` chunks, ``repeats`` times,
    after one untimed warm-up batch. ``calls_per_item`` / ``calls_per_batch``: billable
    API calls one single-row / one batch ``predict`` call makes (for ``cost.usd_per_call``;
    an API that is called per row inside a batch has ``calls_per_batch=batch_size``).
    ``threads`` limits BLAS/OpenMP threads during the measurement.

    Raises :class:`EvaluationError` on empty inputs, bad settings, or when ``predict``
    raises or returns the wrong number of predictions for a batch.
    """
    try:
        n = len(inputs)
    except TypeError as exc:
        raise EvaluationError(
            f"inputs of type {_type_name(inputs)} have no length", hint="pass a DataFrame, array or list of rows"
        ) from exc
    if n == 0:
        raise EvaluationError(
            "cannot time predictions on empty inputs (0 rows)",
            hint="pass rows of the evaluation set (e.g. its first few thousand rows)",
        )
    for name, value, low in (("batch_size", batch_size, 1), ("single_items", single_items, 0),
                             ("warmup", warmup, 0), ("repeats", repeats, 1)):
        if int(value) != value or value < low:
            raise EvaluationError(f"{name} must be an integer >= {low}, got {value!r}", where=f"time_predictions({name}=...)")
    if calls_per_item < 0 or calls_per_batch < 0:
        raise EvaluationError("calls_per_item and calls_per_batch must be >= 0", where="time_predictions")
    rows = _rows(inputs)
    notes: list[str] = []
    if n < single_items:
        notes.append(f"{single_items} single-row calls cycled over {n} input rows")

    with ExitStack() as stack:
        if threads is not None:
            from threadpoolctl import threadpool_limits  # sklearn's dependency; light

            stack.enter_context(threadpool_limits(limits=threads))

        # Single rows: warm-up, then timed calls; the collector paused throughout.
        singles: list[float] = []
        with _collector_paused():
            for k in range(warmup if single_items else 0):
                _call(predict, rows(k % n, k % n + 1), f"warm-up single-row call {k}")
            for k in range(single_items):
                i = (warmup + k) % n
                _, ns = _call(predict, rows(i, i + 1), f"single-row call {k} (row {i})")
                singles.append(ns / 1e6)

            # Batches: one untimed warm-up batch, then every chunk of inputs, `repeats` times.
            batch_ms: list[float] = []
            batch_rows: list[int] = []
            if warmup:
                stop = min(batch_size, n)
                out, _ = _call(predict, rows(0, stop), "warm-up batch")
                _check_length(out, stop, "warm-up batch")
            for r in range(repeats):
                for start in range(0, n, batch_size):
                    stop = min(start + batch_size, n)
                    where = f"batch rows {start}:{stop} (repeat {r})"
                    out, ns = _call(predict, rows(start, stop), where)
                    _check_length(out, stop - start, where)
                    batch_ms.append(ns / 1e6)
                    batch_rows.append(stop - start)
                    del out

        peak_mb = rss_growth = None
        if measure_memory:
            peak_mb, rss_growth = _memory_pass(predict, rows, n, batch_size)

    return TimingResult(
        input_type=_type_name(inputs),
        n_inputs=n,
        batch_size=batch_size,
        warmup=warmup,
        repeats=repeats,
        single_latencies_ms=tuple(singles),
        batch_latencies_ms=tuple(batch_ms),
        batch_rows=tuple(batch_rows),
        peak_memory_mb=peak_mb,
        rss_growth_mb=rss_growth,
        threads=threads,
        cost=cost,
        calls_per_item=float(calls_per_item),
        calls_per_batch=float(calls_per_batch),
        notes=tuple(notes),
    )


def straddled(result: TimingResult, budgets: Mapping[str, Mapping[str, Any]]) -> tuple[str, ...]:
    """The budgets (``{metric: {"op": "<=", "value": 50}}``) that lie inside their metric's
    interval across blocks: the verdict on them would be decided by the noise."""
    out = []
    for metric, budget in budgets.items():
        ci = result.interval(metric)
        if ci is not None and ci[0] <= float(budget["value"]) <= ci[1]:
            out.append(f"{metric} {budget['op']} {float(budget['value']):g} inside [{ci[0]:.4g}, {ci[1]:.4g}]")
    return tuple(out)


def time_in_blocks(predict: Callable[[Any], Any], inputs: Any, *, blocks: int = 5, single_items: int = 500,
                   budgets: Mapping[str, Mapping[str, Any]] | None = None, max_rounds: int = 3,
                   **kwargs: Any) -> TimingResult:
    """:func:`time_predictions` in ``blocks`` repeated blocks — the same number of calls as
    one pass, cut into contiguous blocks, so it costs no more — with an interval across
    blocks. When a budget lies inside the interval, the whole measurement is repeated (up to
    ``max_rounds`` times in all, each adding ``blocks`` blocks) before any verdict; budgets
    still inside it are recorded in ``inside_noise`` (a verdict on them is not to be reused)."""
    budgets = dict(budgets or {})
    per_block = max(1, single_items // blocks) if single_items else 0
    result = replace(time_predictions(predict, inputs, single_items=per_block * blocks, **kwargs), blocks=blocks)
    rounds = 1
    while straddled(result, budgets) and rounds < max_rounds:
        more = time_predictions(predict, inputs, single_items=per_block * blocks,
                                **{**kwargs, "measure_memory": False})
        result = replace(result, blocks=result.blocks + blocks,
                         single_latencies_ms=result.single_latencies_ms + more.single_latencies_ms,
                         batch_latencies_ms=result.batch_latencies_ms + more.batch_latencies_ms,
                         batch_rows=result.batch_rows + more.batch_rows, repeats=result.repeats + more.repeats)
        rounds += 1
    left = straddled(result, budgets)
    notes = result.notes + ((f"re-measured: {result.blocks} blocks in {rounds} rounds",) if rounds > 1 else ())
    if left:
        notes += ("inside the noise after re-measuring: " + "; ".join(left),)
    return replace(result, inside_noise=left, notes=notes)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Garbage collection paused, then left as it was found: a collection triggered by the
    harness does not land on a random measured call."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _memory_pass(predict: Callable[[Any], Any], rows: Callable[[int, int], Any], n: int, batch_size: int) -> tuple[float, float | None]:
    """An untimed pass over the first ``MEMORY_BATCHES`` batches under tracemalloc: (peak MB
    above the start, RSS growth MB).

    Only the young generations are collected first, and collection is paused during the pass,
    as in the timed one: tracemalloc counts blocks allocated after it starts, so older garbage
    cannot change the peak, while a full collection of a kernel's heap (MLflow, scikit-learn,
    matplotlib loaded) costs ~0.2-0.4 s on every call of this function."""
    gc.collect(1)
    rss_before = _max_rss_mb()
    was_tracing = tracemalloc.is_tracing()
    with _collector_paused():
        if was_tracing:  # someone else traces: measure relative to now, leave it running
            tracemalloc.reset_peak()
        else:
            tracemalloc.start()
        try:
            base, _ = tracemalloc.get_traced_memory()
            for start in range(0, min(n, MEMORY_BATCHES * batch_size), batch_size):
                out, _ = _call(predict, rows(start, min(start + batch_size, n)), f"memory pass, batch at row {start}")
                del out
            _, peak = tracemalloc.get_traced_memory()
        finally:
            if not was_tracing:
                tracemalloc.stop()
    rss_after = _max_rss_mb()
    growth = None if rss_before is None or rss_after is None else max(0.0, rss_after - rss_before)
    return max(0, peak - base) / 2**20, growth


# -- figure -----------------------------------------------------------------------------


def plot_latency(result: TimingResult, *, bins: int = 50) -> Figure:
    """Histogram of single-row latencies with p50/p95/p99 lines.

    Built on ``matplotlib.figure.Figure`` (the Agg canvas), never pyplot: no global state,
    works headless, and Jupyter still displays the returned figure.
    """
    if not result.single_latencies_ms:
        raise EvaluationError(
            "no single-row latencies to plot", hint="measure with single_items > 0"
        )
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.add_subplot()
    samples = np.asarray(result.single_latencies_ms)
    ax.hist(samples, bins=bins, color="#4c72b0", alpha=0.8)
    p = percentiles(samples)
    for q, style in zip(PERCENTILES, ("-", "--", ":")):
        ax.axvline(p[q], color="#c44e52", linestyle=style, label=f"p{q:g} = {p[q]:.3g} ms")
    ax.set_xlabel("latency per single-row call (ms)")
    ax.set_ylabel("calls")
    ax.set_title(f"{len(samples)} single-row calls, input {result.input_type}")
    ax.legend()
    return fig
