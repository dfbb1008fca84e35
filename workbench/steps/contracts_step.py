"""The `contracts` step: check every source's contract before any notebook runs.

Runs in its own nested MLflow run: per-rule metrics, the GX suites and results as JSON,
and a readable HTML summary (the MLflow UI renders it). An error-level failure ends the
run FAILED and stops the pilot with :class:`ContractViolation`, listing each broken
rule with its counts and a few example values (never values of PII columns). The check
is cached like a notebook step: same contract files and same table fingerprints, same
verdict.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable
from typing import Any

from .. import formatting as fmt
from ..charter.config import Charter
from ..errors import ContractViolation
from .step_runs import StepOutcome, cache_key, code_hash, fail_run, record_cached
from ..store.tracking import CONTRACT_VERSION_TAG, CONTRACTS_PASSED_TAG, FINISHED, TAG, RunRef, Store

__all__ = ["run_contracts_step", "check_all"]


def check_all(charter: Charter, *, only: str | None = None) -> list[Any]:
    """Check the charter's contracts (all, or one dataset) on its warehouse; returns results.

    Holds the warehouse write lock: quarantine rules move rows out of the tables."""
    return [result for _, result in _check(charter, only=only)]


def _check(charter: Charter, *, only: str | None = None) -> list[tuple[Any, Any]]:
    """(contract as loaded, result) per source: the step also needs the contracts, for their suites."""
    from ..data import contracts, warehouse
    from ..data.contracts import RuleResult

    sources = {n: s for n, s in charter.sources.items() if s.contract and (only is None or n == only)}
    if only is not None and not sources:
        from ..errors import ConfigError

        raise ConfigError(f"no source named '{only}' with a contract", where=str(charter.path),
                          hint="choose one of: " + ", ".join(n for n, s in charter.sources.items() if s.contract))
    results = []
    with warehouse.write_lock(charter.warehouse_path):
        con = warehouse.connect_read_only(charter.warehouse_path)
        try:
            columns = {name: warehouse.table_columns(con, name) for name in sources}
        finally:
            con.close()
        for name, src in sources.items():
            path = charter.resolve(src.contract)
            # columns the charter declares but the data lacks are the data's fault: broken
            # rules, reported with every other one (a column the charter does not declare
            # either is a contract typo, which load_contract refuses with its line)
            lacking = [c for c in src.columns if c not in columns[name]]
            if not lacking:
                contract = contracts.load_contract(path, table_columns=columns[name])
                results.append((contract, _check_on_engine(charter, contract)))
                continue
            contract = contracts.load_contract(path, table_columns={**columns[name], **{c: src.columns[c] for c in lacking}})
            kept = tuple(r for r in contract.rules if r.column not in lacking)
            spec = contract.spec.model_copy(
                update={"columns": {c: cs for c, cs in contract.spec.columns.items() if c not in lacking}})
            result = _check_on_engine(charter, dataclasses.replace(contract, spec=spec, rules=kept),
                                      missing_columns=lacking)
            absent = tuple(
                RuleResult(rule_id=f"{name}.{c}.present", column=c, kind="present", severity="error", success=False,
                           error=f"column '{c}' is missing from the data ({src.path} has no such column)")
                for c in lacking
            )
            results.append((contract, dataclasses.replace(result, rules=absent + result.rules)))
        _settle(charter, results)
    return results


def _settle(charter: Charter, results: list[tuple[Any, Any]]) -> None:
    """Settle each fresh load (under the write lock): passed, its previous table is dropped;
    an error-level failure puts the previous table back (:mod:`workbench.data.previous`)."""
    from ..data import previous, warehouse

    con = warehouse.connect_writable(charter.warehouse_path)
    try:
        for i, (contract, result) in enumerate(results):
            if previous.settle(con, result.dataset, keep_new=result.passed, meta_table=warehouse.META_TABLE):
                results[i] = (contract, dataclasses.replace(result, previous_table_kept=True))
    finally:
        con.close()


def _history_rows(run_id: str, started_ms: float, results: list[Any], versions: dict[str, str],
                  cached: bool = False) -> list[Any]:
    from ..data.contracts.report import HistoryRow

    return [HistoryRow(r.dataset, run_id, fmt.timestamp(started_ms), r.passed, versions.get(r.dataset, "")[:12],
                       len(r.rules), len(r.failed), len(r.blocking), len(r.warnings), cached) for r in results]


def contract_history(store: Store, pilot: str, *, exclude: str | None = None, max_runs: int = 100) -> list[Any]:
    """Past checks of every contract of ``pilot``, newest first: one row per contract per
    contracts-step run, from the runs' metrics (``contract.<dataset>.*``) and tags."""
    from ..data.contracts.report import HistoryRow

    runs = store.find_runs(pilot, f"tags.`{TAG['step']}` = 'contracts'", max_results=max_runs)
    rows = []
    for run in runs:
        if run.info.run_id == exclude:
            continue
        m, tags = run.data.metrics, run.data.tags
        datasets = sorted({k.split(".")[1] for k in m if k.startswith("contract.") and k.endswith(".passed")})
        for ds in datasets:
            def num(stat: str, ds: str = ds) -> int | None:
                value = m.get(f"contract.{ds}.{stat}")
                return None if value is None else int(value)

            passed = m.get(f"contract.{ds}.passed")
            rows.append(HistoryRow(ds, run.info.run_id, fmt.timestamp(run.info.start_time),
                                   None if passed is None else bool(passed),
                                   tags.get(f"{CONTRACT_VERSION_TAG}{ds}", ""), num("rules"), num("rules_failed"),
                                   num("errors"), num("warnings"), tags.get(TAG["cached"]) == "true"))
    return rows


def run_contracts_step(charter: Charter, store: Store, parent: RunRef, current: list, say: Callable[[str], None],
                       force: bool, fps: dict[str, str], versions: dict[str, str]) -> tuple[StepOutcome, dict[str, str]]:
    """(the step's outcome, the fingerprint digest of every table as the contracts leave it):
    ingest's ``fps``, except the tables a quarantine rule moved rows out of, which the
    notebook steps must find as they are now."""

    t0 = time.perf_counter()
    if not versions:
        say("contracts: no source declares a contract (nothing is checked)")
        return StepOutcome("contracts", "contracts", "skipped", None, 0.0, detail="no contracts"), fps
    key = cache_key({"contracts": versions, "fingerprints": fps, "code": code_hash()})
    tags = {TAG["kind"]: "step", TAG["step"]: "contracts", TAG["pilot"]: charter.name, TAG["cache_key"]: key}
    tags.update({f"{CONTRACT_VERSION_TAG}{n}": v[:12] for n, v in versions.items()})
    if not force:
        hit = store.find_cached(charter.name, key)
        # a check that moved rows is not served from cache: the same fingerprints then mean the
        # rows came back (a reload), and only running the check again moves them out
        if (hit is not None and hit.data.tags.get(CONTRACTS_PASSED_TAG) == "true"
                and not hit.data.metrics.get("contracts.quarantined_rows")):
            run = record_cached(charter, store, parent, current, "contracts", {**tags, CONTRACTS_PASSED_TAG: "true"},
                                hit, "same contracts and table fingerprints")
            say(f"contracts: cached, passed (reuses run {hit.info.run_id[:8]})")
            from ..data import previous, warehouse

            with warehouse.writer(charter.warehouse_path) as con:  # these tables passed: their loads are settled
                for name in versions:
                    previous.settle(con, name, keep_new=True, meta_table=warehouse.META_TABLE)
            return StepOutcome("contracts", "contracts", "cached", run.run_id, time.perf_counter() - t0,
                               cached_from=hit.info.run_id), fps

    note = ("# Data contracts\n\nChecks every source against its contract (`" + "`, `".join(versions)
            + "`) with Great Expectations, pushed down to DuckDB. An error-level failure stops the pilot before "
            "any notebook runs. Every rule with its result and counts: the artifact `contracts/summary.html`.")
    run = store.start_run(charter.name, "contracts", parent=parent.run_id,
                          tags={**tags, TAG["cached"]: "false", "mlflow.note.content": note})
    current[0] = run
    say("contracts: checking " + ", ".join(versions) + " with Great Expectations on "
        + ("Spark" if charter.engine.kind == "spark" else "DuckDB"))
    try:
        from ..data import contracts
        from ..data.contracts.results import describe

        checked = _check(charter)
        results = [result for _, result in checked]
        metrics: dict[str, float] = {}
        for r in results:
            metrics.update(r.metrics())
        blocking = [rule for r in results for rule in r.blocking]
        metrics["contracts.error_failures"] = len(blocking)
        metrics["contracts.warnings"] = sum(len(r.warnings) for r in results)
        metrics["contracts.quarantined_rows"] = sum(r.quarantined_rows for r in results)
        store.log_metrics(run.run_id, metrics)
        for contract, r in checked:
            store.log_dict(run.run_id, r.to_dict(), f"contracts/{r.dataset}.json")
            store.log_dict(run.run_id, contracts.suite_json(contract), f"suites/{r.dataset}.json")
        # the history link is relative: summary.html and history.html sit side by side in the run's artifacts
        store.log_text(run.run_id, contracts.render_html(results, history_link="history.html"),
                       "contracts/summary.html")
        with contextlib.suppress(Exception):  # an index of past checks is a convenience, never a failure
            past = contract_history(store, charter.name, exclude=run.run_id)
            now = _history_rows(run.run_id, time.time() * 1000, results, versions)
            store.log_text(run.run_id, contracts.render_history(now + past), "contracts/history.html")
        passed = all(r.passed for r in results)
        store.set_tags(run.run_id, {CONTRACTS_PASSED_TAG: str(passed).lower()})
        for r in results:
            rules = len(r.rules)
            failed = len(r.blocking)
            say(f"  {r.dataset} v{r.contract_version}: {rules - len(r.failed)}/{rules} rules pass"
                + (f", {failed} error-level failure(s)" if failed else "")
                + (f", {len(r.warnings)} warning(s): {', '.join(w.rule_id for w in r.warnings)}" if r.warnings else "")
                + (f", {r.quarantined_rows:,} row(s) quarantined to {r.quarantine_table}" if r.quarantined_rows else "")
                + ("; the new load was refused, the previous table is back" if r.previous_table_kept else ""))
            for w in r.warnings:
                say(f"    warning: {describe(w)}")
        if not passed:
            message = "\n".join(r.failure_message() for r in results if not r.passed)
            raise ContractViolation(
                f"data contracts failed; no notebook was run:\n{message}",
                where=", ".join(str(charter.sources[r.dataset].contract) for r in results if not r.passed),
                hint=(f"fix the data (or, if the data is right and the promise wrong, the contract); "
                      f"the full results are on run {run.run_id} (`make ui`, artifact contracts/summary.html)"),
            )
        from ..data.engines import fingerprints_now

        settled = {**fps, **fingerprints_now(charter, [r.dataset for r in results if r.quarantined_rows])}
    except BaseException as exc:
        fail_run(store, run, exc)
        current[0] = None
        raise
    store.end_run(run.run_id, FINISHED)
    current[0] = None
    return StepOutcome("contracts", "contracts", "executed", run.run_id, time.perf_counter() - t0), settled


def _check_on_engine(charter: Charter, contract: Any, **kwargs: Any) -> Any:
    """The contract checked where the charter's engine keeps the data: DuckDB's warehouse, or
    the Spark lake through Great Expectations' Spark datasource."""
    if charter.engine.kind == "spark":
        from ..data.engines import engine_for

        return engine_for(charter).check_contract(contract, **kwargs)
    from ..data import contracts

    return contracts.check_contract(charter.warehouse_path, contract, **kwargs)
