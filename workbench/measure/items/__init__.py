"""Eval-set pilots: text classification and retrieval judged item by item on a fixed eval set.

- :mod:`.data` — the eval items, training items and corpus from the warehouse; eval/train overlap;
  queries copied from their passages;
- :mod:`.candidates` — rules, today's recorded outputs, TF-IDF + a linear model, embeddings,
  BM25 and the user's own ``module:function``;
- :mod:`.run` — every item asked once: answer, correctness, latency, error; quality, slices, cost;
- :mod:`.scoring` — multiclass and retrieval metrics (pure);
- :mod:`.compare` — a candidate minus today's way on the same items, with 95 % intervals;
- :mod:`.embeddings`, :mod:`.bm25` — the one place each heavy library is imported.
"""

from .candidates import Answer, ItemModel, MalformedOutput, build_item_model, fit_item_model
from .compare import compare_items, default_item_metrics
from .data import (LABEL_FEATURE, OVERLAP_FEATURE, PROMPT_FEATURE, SOURCE_FEATURE, ItemData, label_findings,
                   load_items, normalize_text, overlap_findings, prompt_findings, source_findings)
from .llm import personal_mask, safe_example
from .run import ItemRun, run_items
from .scoring import classification_quality, retrieval_quality

__all__ = ["Answer", "ItemModel", "MalformedOutput", "build_item_model", "fit_item_model", "OVERLAP_FEATURE",
           "ItemData", "load_items", "normalize_text", "overlap_findings", "prompt_findings", "PROMPT_FEATURE",
           "label_findings", "LABEL_FEATURE", "source_findings", "SOURCE_FEATURE",
           "ItemRun", "run_items",
           "classification_quality", "retrieval_quality", "compare_items", "default_item_metrics",
           "personal_mask", "safe_example"]
