"""LLM prompt templates in MLflow's prompt registry: one version per distinct text, linked
to the run that used it."""

from __future__ import annotations

from pathlib import Path

from workbench.steps.session import Session
from workbench.store.tracking import Store


def test_an_unchanged_template_adds_no_version_and_an_edited_one_adds_one(tmp_path: Path,
                                                                         monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # MLflow falls back to ./mlflow.db when its globals are not set
    store = Store(tmp_path / "pilot")

    def candidate_run(template: str):
        run = store.start_run("reviews", "smollm")
        s = Session(run_id=run.run_id, store=store, warehouse=tmp_path / "w.duckdb", pilot="reviews",
                    step="evaluate", owns_run=False)
        return run.run_id, s.log_prompt("smollm", template)

    first_run, first = candidate_run("Review: {review}\nOne of {labels}:")
    _, again = candidate_run("Review: {review}\nOne of {labels}:")
    edited_run, edited = candidate_run("Review: {review}\nAnswer with one of {labels}:")
    assert (first.name, first.version, first.added) == ("reviews.smollm", 1, True)
    assert (again.version, again.added) == (1, False)
    assert (edited.version, edited.added, edited.uri) == (2, True, "prompts:/reviews.smollm/2")
    versions = store.client.search_prompt_versions("reviews.smollm")
    assert sorted(int(v.version) for v in versions) == [1, 2]
    # each run names the version it was measured with, and MLflow links them
    params = store.get_run(edited_run).data.params
    assert params["llm.prompt_uri"] == "prompts:/reviews.smollm/2" and params["llm.prompt_version"] == "2"
    assert "reviews.smollm" in store.get_run(first_run).data.tags.get("mlflow.linkedPrompts", "")
    assert not (tmp_path / "mlflow.db").exists()  # nothing went to a store beside the current folder
