# ---
# jupyter:
#   jupytext:
#     formats: ipynb,.pct.py:percent
#     notebook_metadata_filter: -jupytext.text_representation.jupytext_version,-kernelspec
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
# ---

# %% [markdown]
# # Evaluate the candidates on the eval set
#
# Each candidate of the charter's `eval_set.candidates` (a rule, TF-IDF + a linear model,
# sentence embeddings, BM25, an OpenAI-compatible LLM endpoint, or your own `module:function`
# from the pilot's folder) learns from
# the training items (or indexes the corpus), then answers every eval item once, in its own
# nested run: its answer, correctness, latency and error per item (an MLflow table artifact
# `items/<name>.json` and the DuckDB table `item_results` in `items.duckdb`), and quality,
# errors, latency, cost and slices under the same names as the baseline's. An answer that
# raises, times out or is malformed is scored as wrong and counted (`items.error_rate`).
#
# First, eval items that also occur among the training items (exact or normalized duplicates):
# they measure memory, not skill, and block a GO (the leakage gate) until removed or
# acknowledged in the charter (`leakage: {acknowledged: {eval_set.overlap: "why"}}`).

# %% tags=["parameters"]
run_id = None
tracking_uri = None
warehouse = None
pilot_name = None
pilot_root = None
cost_model = None
task = None
spec = None
compare_metrics = None  # injected: the primary and gated metrics compared with 95 % intervals (None: the defaults)
candidate_keys = {}  # injected: each candidate's own cache key
reuse = {}  # injected: candidates unchanged since an earlier run ({name: run id}), carried over, not asked again
champion = None  # injected: the current champion ({"uri", "version", "run_id"}), compared on the same items

# %%
import pandas as pd

import workbench
from workbench.measure import items, metrics
from workbench.show import items_report

s = workbench.session("evaluate", run_id=run_id, tracking_uri=tracking_uri, warehouse=warehouse,
                      pilot_name=pilot_name, task=task, cost_model=cost_model, spec=spec)
es = s.spec.eval_set
data, root = s.eval_set_items(pilot_root)
# eval items among the training items, or written into a prompt template, texts naming their own
# class, or queries copied from their passages: memory or the answer in the input, not skill
findings = (items.overlap_findings(data) + items.label_findings(data, s.task.kind)
            + items.prompt_findings(data, es.candidates, root) + items.source_findings(data, s.task.kind))
s.log_overlap(findings)
s.log_params(data.params())
baseline_rows = s.logged_items(s.baseline_run_id(), es.baseline.name)
# the champion's answers on these very items (its run kept them): the champion gate judges a paired interval
champion_rows = s.champion_items(champion, data)
print(data.summary(), f"{len(es.candidates)} candidate(s): {', '.join(c.name for c in es.candidates)}"
      + ("" if baseline_rows is not None else "; no baseline run found to compare with"))
if findings:
    print(pd.DataFrame(findings)[["feature", "check", "items", "evidence"]].to_string(index=False))
else:
    print("No eval item occurs " + ("in a prompt template" if data.train is None else
                                    "among the training items or in a prompt template") + ".")

# %%
results, comparisons, answers = {}, {}, {}
per_month = getattr(getattr(s.charter, "production", None), "items_per_month", None)
references = {"baseline": (baseline_rows, "today's way"),
              "champion": (champion_rows, f"champion v{champion['version']}" if champion else None)}
for cand in es.candidates:
    source = reuse.get(cand.name)  # nothing this candidate depends on changed since that run
    with s.child(cand.name, tags=s.candidate_tags(cand.name, candidate_keys, source)) as c:
        if source:  # its answers carried over, and compared again with today's way as measured now
            answers[cand.name], results[cand.name] = c.reuse_items(source, cand.name)
        else:
            model = items.fit_item_model(cand, data, s.task.kind, root=root)
            c.log_params({"candidate": cand.name, "kind": cand.kind, "description": model.describe(),
                          **{f"param.{k}": v for k, v in {**cand.vectorizer, **cand.params}.items()}})
            result = items.run_items(model, data, cost=s.cost, items_per_month=per_month)
            c.log_items(result)
            if result.params:  # an LLM endpoint: reported model, fingerprint, prompt hash, redactions (never the key)
                c.log_params(result.params)
                c.log_text(model.template, f"prompts/{cand.name}.txt")
                c.log_prompt(cand.name, model.template)  # MLflow's prompt registry: a version per distinct text
            example = items.safe_example(data, model.inputs)  # personal data withheld, as before a vendor call
            c.log_model(model, "model", input_example=example, output_example=model.predict(example).astype(str))
            results[cand.name], answers[cand.name] = result, result.items
        # paired on the same items, with 95 % intervals: what the gates judge (widened for several candidates)
        for ref, (rows, label) in references.items():
            if rows is not None:
                compared = items.compare_items(answers[cand.name], rows, data, task=s.task.kind,
                                               candidate_name=cand.name, reference_name=ref, reference_label=label,
                                               metrics=compare_metrics)
                c.log_comparison(compared)
                if ref == "baseline":  # shown below
                    comparisons[cand.name] = compared
    shown = {k: v for k, v in results[cand.name].items() if k.startswith("quality.")} if source else \
        results[cand.name].quality.metrics()
    print(f"{cand.name}: " + (f"reused from run {source} (unchanged), compared again on the same items; " if source
                              else "") + ", ".join(f"{k} {metrics.format_metric(k, v)}" for k, v in shown.items()))

# %% [markdown]
# ## Side by side (the baseline as logged by the baseline step)

# %%
table = items_report.side_by_side(results)
if s.baseline_run_id():
    logged = s.store.get_run(s.baseline_run_id()).data.metrics
    table.insert(0, "baseline", pd.Series({m: logged.get(m) for m in table.index}))
s.log_table(metrics.metric_table(table), "evaluate/candidates.html")
metrics.metric_table(table)

# %% [markdown]
# ## Differences you can trust: each candidate minus today's way on the same items, 95 % intervals

# %%
items_report.intervals(comparisons) if comparisons else print("No baseline answers to compare with.")

# %% [markdown]
# ## Where they go wrong, and where they disagree with today's way

# %%
# personal data withheld from every text shown (inputs, expected values, answers), as before a vendor call
mask = items.personal_mask(data)
texts = dict(zip(data.ids, data.texts()))
for name, r in results.items():
    if s.task.kind == "text-classification" and name not in reuse:  # a reused one's are in its own run
        display(items_report.confusion_figure(r.quality, title=f"{name}: {r.description}"))
        display(items_report.per_class(r.quality))
    if baseline_rows is not None:
        differ = items_report.disagreements(answers[name], baseline_rows, texts=texts, mask=mask)
        s.log_table(differ, f"evaluate/{name}_disagreements.html")
        display(differ)
    worst = items_report.worst_failures(answers[name], 10)
    worst.insert(1, "text", [items_report._short(texts[i]) for i in worst["item_id"]])
    display(items_report.masked(worst, mask))

# %%
s.finish()
