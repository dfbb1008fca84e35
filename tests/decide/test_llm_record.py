"""The decision record and the scorecard state, for every LLM endpoint candidate judged, its
endpoint, reported model, system fingerprint and whether it was allowed personal data."""

from __future__ import annotations

from pathlib import Path

from support import build_pilot, candidate_metrics, make_charter
from workbench.decide import registry
from workbench.decide.promotion import promote
from workbench.show.scorecard import render_scorecard
from workbench.store.tracking import Store

# what the evaluate notebook logs for an llm candidate (LlmModel.run_params)
LLM_PARAMS = {"llm.endpoint": "https://llm.internal.example/v1", "llm.model": "acme-large",
              "llm.reported_model": "acme-large-2026-11", "llm.system_fingerprint": "fp_1a2b3c",
              "llm.allow_personal_data": "False", "llm.api_key_env": "ACME_KEY"}


def test_every_llm_candidate_judged_is_stated_in_the_record_and_the_scorecard(tmp_path: Path) -> None:
    store = Store(tmp_path / "mlruns")
    charter = make_charter("llmrec")
    ids = build_pilot(store, charter, {"hgb": candidate_metrics(0.68), "acme": candidate_metrics(0.64),
                                       "inhouse": candidate_metrics(0.60)}, finish=False)
    store.log_params(ids["candidates"]["acme"], LLM_PARAMS)
    store.log_params(ids["candidates"]["inhouse"], {
        **LLM_PARAMS, "llm.endpoint": "http://10.0.0.7:8000/v1", "llm.model": "local",
        "llm.reported_model": "not reported", "llm.system_fingerprint": "not reported",
        "llm.allow_personal_data": "True"})
    store.end_run(ids["pilot"], "FINISHED")

    decision = promote(charter, store, ids["pilot"])  # hgb is chosen (and fails); both endpoints were judged
    assert decision.candidate == "hgb" and decision.outcome == "no-go"
    stated = {e["candidate"]: e for e in decision.llm_endpoints}
    assert set(stated) == {"acme", "inhouse"}
    assert stated["acme"] == {"candidate": "acme", "run_id": ids["candidates"]["acme"],
                              "endpoint": "https://llm.internal.example/v1", "model": "acme-large",
                              "reported_model": "acme-large-2026-11", "system_fingerprint": "fp_1a2b3c",
                              "allow_personal_data": False}
    assert stated["inhouse"]["allow_personal_data"] is True and stated["inhouse"]["reported_model"] is None
    # the stored record (hash-chained) says the same, and the audit still verifies its hash
    recorded = registry.history(charter, store)[0]
    assert recorded.llm_endpoints == decision.llm_endpoints
    assert registry.audit(charter, store).ok
    assert "llm endpoint: acme: https://llm.internal.example/v1" in decision.summary()
    assert "personal data withheld" in decision.summary() and "allowed personal data" in decision.summary()

    page = render_scorecard(charter, store, ids["pilot"], decision)
    section = page[page.index("LLM endpoints judged"):]
    assert "acme-large-2026-11" in section and "fp_1a2b3c" in section and "http://10.0.0.7:8000/v1" in section
    assert "withheld before the call" in section and "allowed" in section
    assert "ACME_KEY" not in section
