"""`workbench new --task answer` drafts a document-Q&A pilot that loads, validates, and whose
drafted passage lookup answers from the corpus, citing the passage."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from workbench.charter.config import load_charter
from workbench.charter.drafted import drafted_values
from workbench.cli import app

CORPUS = {"d1": "Refunds are paid within 14 days after the parcel returns to our warehouse.",
          "d2": "Parcels to Norway arrive in 5 working days by courier.",
          "d3": "Kettles carry a warranty of 2 years from the date of purchase.",
          "d4": "The help desk answers calls Monday to Friday."}
QUESTIONS = [("How many days until refunds are paid?", "Within 14 days", "14 days", "d1"),
             ("How long do parcels to Norway take?", "5 working days", "5 working days", "d2"),
             ("What warranty do kettles carry?", "2 years", "2 years", "d3"),
             ("Which days does the help desk answer calls?", "Monday to Friday", "Monday|Friday", "d4")]


def test_new_drafts_an_answer_pilot_with_a_canned_reply_and_a_passage_lookup(tmp_path: Path) -> None:
    rows = [{"question": f"({k}) {q}", "reference": a, "facts": f, "source": s}
            for k in range(12) for q, a, f, s in QUESTIONS]
    pd.DataFrame(rows).to_csv(tmp_path / "qa.csv", index=False)
    (tmp_path / "pages.jsonl").write_text("".join(json.dumps({"page_id": k, "body": v}) + "\n"
                                                  for k, v in CORPUS.items()))
    made = CliRunner().invoke(app, ["new", "helpdesk", "--data", str(tmp_path / "qa.csv"), "--task", "answer",
                                    "--text-column", "question", "--target", "reference", "--corpus",
                                    str(tmp_path / "pages.jsonl"), "--facts-column", "facts", "--sources-column",
                                    "source", "--dir", str(tmp_path / "pilots"), "--owner", "lead@team.internal"])
    assert made.exit_code == 0, made.output
    folder = tmp_path / "pilots" / "helpdesk"
    charter = load_charter(folder / "pilot.yaml")
    es = charter.eval_set
    assert charter.task.kind == "answer" and charter.primary_metric == "quality.token_f1"
    assert es.facts == "facts" and es.sources == "source" and es.corpus.id == "page_id" and es.corpus.text == ["body"]
    assert es.baseline.kind == "rule" and es.baseline.default in {a for _, a, _, _ in QUESTIONS}
    assert {"eval_set.baseline", "eval_set.candidates"} <= {v.key.rsplit("[", 1)[0] for v in drafted_values(charter)}
    validated = CliRunner().invoke(app, ["validate", "--pilot", str(folder / "pilot.yaml")])
    assert validated.exit_code == 0, validated.output
    # the drafted candidate: the best BM25 passage, cited by its id
    spec = importlib.util.spec_from_file_location("passage_lookup", folder / "passage_lookup.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for q, _, _, source in QUESTIONS:
        got = module.answer({"question": q})
        assert got == {"answer": CORPUS[source], "sources": [source]}
    assert module.answer({"question": "the"}) == ""  # nothing left after stop words: no answer (an error)
    # stems, as the workbench's own BM25: "refund" and "kettle" find "Refunds" and "Kettles"
    assert module.answer({"question": "refund"})["sources"] == ["d1"]
    assert module.answer({"question": "kettle"})["sources"] == ["d3"]


def test_a_corpus_id_not_named_like_one_is_the_column_the_sources_cite(tmp_path: Path) -> None:
    """A corpus keyed `pid` (no "id" word in its name): `new` refused it and asked for
    --corpus-id, though the sources column cites those very values, as retrieval's `new` finds
    them among the relevant ids. Now the column holding the cited ids is the corpus id; the
    passage text is not (it holds none)."""
    rows = [{"question": f"({k}) {q}", "reference": a, "facts": f, "source": s}
            for k in range(12) for q, a, f, s in QUESTIONS]
    pd.DataFrame(rows).to_csv(tmp_path / "qa.csv", index=False)
    pd.DataFrame({"passage": list(CORPUS.values()), "pid": list(CORPUS)}).to_csv(tmp_path / "faq.csv", index=False)
    args = ["new", "faq", "--data", str(tmp_path / "qa.csv"), "--task", "answer", "--text-column", "question",
            "--target", "reference", "--corpus", str(tmp_path / "faq.csv"), "--dir", str(tmp_path / "pilots"),
            "--owner", "lead@team.internal"]
    made = CliRunner().invoke(app, [*args, "--sources-column", "source"])
    assert made.exit_code == 0, made.output
    assert load_charter(tmp_path / "pilots" / "faq" / "pilot.yaml").eval_set.corpus.id == "pid"
    # without sources nothing says which column the answers cite: the flag is asked for, nothing is left
    bare = CliRunner().invoke(app, [*args[:1], "faq2", *args[2:]])
    assert bare.exit_code != 0 and "--corpus-id" in bare.output and not (tmp_path / "pilots" / "faq2").exists()
