"""An OpenAI-compatible /v1/embeddings endpoint as a candidate (`kind: embeddings` with
`base_url`), against llama.cpp's real server (SmolLM2-135M, --embedding true): retrieval by
cosine, classification with an estimator, the cache, usage and redaction."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from llm_server import LlamaServer, Proxy, require_llm_extra
from workbench.charter.config import CostModel
from workbench.charter.items import Corpus, EvalSet, ItemCandidate
from workbench.measure.items import ItemData, fit_item_model, run_items

DOCS = {"d1": "Growing of cereals, rice and wheat on farms", "d2": "Manufacture of beer and malt in breweries",
        "d3": "Software publishing and computer programming", "d4": "Passenger air transport by airlines"}
QUERIES = [("q1", "wheat farm, write to anna.berg@example.org", "d1"), ("q2", "brewery making beer", "d2"),
           ("q3", "writing computer software", "d3"), ("q4", "an airline flying passengers", "d4")]


@pytest.mark.llm
def test_an_embeddings_endpoint_retrieves_and_classifies_through_the_cache(tmp_path: Path) -> None:
    srv = LlamaServer(require_llm_extra(), tmp_path / "server.log", embedding=True)
    proxy = Proxy(srv.base_url)
    try:
        cand = ItemCandidate(name="endpoint_emb", kind="embeddings", base_url=proxy.base_url, model="smollm2-135m",
                             prices={"input_per_1k_usd": 0.02, "output_per_1k_usd": 0.0}, concurrency=2,
                             timeout_seconds=60)  # a loaded machine: no retry on a slow answer
        retrieval = ItemData(
            spec=EvalSet(source="q", id="id", inputs=["query"], expected="doc", k=[1, 2],
                         corpus=Corpus(source="docs", id="id", text=["text"]),
                         baseline=ItemCandidate(name="kw", kind="rule", default="d1"), candidates=[cand]),
            items=pd.DataFrame(QUERIES, columns=["id", "query", "doc"]), train=None,
            corpus=pd.DataFrame({"id": list(DOCS), "text": list(DOCS.values())}))
        model = fit_item_model(cand, retrieval, "retrieval", root=tmp_path)
        run = run_items(model, retrieval, cost=CostModel(), items_per_month=10_000)
        m = run.metrics()
        # one batch for the corpus, one request per query; the e-mail never reached the server
        assert len(proxy.received) == 1 + len(QUERIES) and m["llm.calls"] == 1 + len(QUERIES), (
            [r["input"] for r in proxy.received], m, run.items.to_dict("records"))
        assert proxy.received[0]["input"] == list(DOCS.values())
        assert "anna.berg@example.org" not in proxy.text_received() and m["llm.redactions"] == 1
        assert m["items.error_rate"] == 0 and all(len(o.split("|")) == 2 for o in run.items["output"])
        assert m["llm.tokens_in"] > 0 and m["llm.fit_tokens_in"] > 0
        assert m["cost.tokens_per_1k_usd"] == pytest.approx(m["llm.tokens_in"] * 0.02 / 1000 / len(QUERIES) * 1000)
        assert run.params["llm.endpoint"] == proxy.base_url and run.params["llm.token_counter"] == "usage"
        assert 0 < m["latency.p50_ms"]
        # a rerun of the unchanged candidate makes no call at all
        again = run_items(fit_item_model(cand, retrieval, "retrieval", root=tmp_path), retrieval, cost=CostModel())
        assert len(proxy.received) == 1 + len(QUERIES) and again.metrics()["llm.cache_hit_rate"] == 1.0
        assert again.items["output"].tolist() == run.items["output"].tolist()

        # classification: the training items' vectors train the estimator
        items = pd.DataFrame({"id": ["a", "b"], "text": ["lovely tasty tea", "broken and stale"],
                              "label": ["great", "other"]})
        train = pd.DataFrame({"text": ["delicious coffee", "wonderful taste", "awful, stale", "arrived broken"],
                              "label": ["great", "great", "other", "other"]})
        classify = ItemData(spec=EvalSet(source="i", id="id", inputs=["text"], expected="label", train="t",
                                         baseline=ItemCandidate(name="kw", kind="rule", default="other"),
                                         candidates=[cand]), items=items, train=train, corpus=None)
        proxy.reset()
        clf = fit_item_model(cand, classify, "text-classification", root=tmp_path)
        result = run_items(clf, classify, cost=CostModel())
        assert len(proxy.received) == 1 + len(items) and proxy.received[0]["input"] == train["text"].tolist()
        assert set(result.items["output"]) <= {"great", "other"} and result.metrics()["items.error_rate"] == 0
    finally:
        proxy.stop()
        srv.stop()
