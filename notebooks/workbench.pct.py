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
# # Workbench control panel
#
# Run the cells below to get four panels over the same functions `make pilot` and the
# `workbench` command use; every number they show is read back from MLflow:
#
# - **Pilot**: each step of the plan with its status in the newest pilot run (fresh,
#   cached, failed, not run), links to its MLflow run and executed notebook; run one step
#   or the whole pilot, with live progress.
# - **Contracts**: check every data contract now: each rule's result and counts, PII
#   values masked, rows quarantined.
# - **Runs**: the baseline, the candidates and the champion side by side on the metrics
#   the gates judge, with each gate's verdict.
# - **Promote**: evaluate the gates (a dry run), then promote — the button stays disabled
#   until every gate passes. Each decision is recorded in MLflow.
#
# The links open the MLflow UI: start it with `make ui` (the links follow its `UI_PORT`).
# Saved from `make lab`, this notebook keeps no outputs and no widget state.

# %% tags=["parameters"]
pilot = "pilot.yaml"  # found in this folder or a parent
mlflow_url = None  # where the MLflow UI is; None: http://127.0.0.1:$UI_PORT, as `make ui` serves it

# %%
from workbench.widgets import panel

panel(pilot, mlflow_url=mlflow_url)

# %% [markdown]
# ## Label a sample of answers (eval-set pilots)
#
# For a pilot judged on an eval set (text classification, extraction, retrieval): draw a
# random sample of one model's answers from the newest complete pilot run (the same seed
# draws the same items) and label each correct, wrong or unsure. Every click is stored at
# once in `item_labels.duckdb` beside the warehouse (its own file: a running pilot is never
# blocked). The metric's verdict stays hidden while you label; the agreement between you
# and the metric shows below the panel and on the scorecard (`workbench report` rebuilds it).

# %%
from workbench.widgets import label_panel

label_panel(pilot, mlflow_url=mlflow_url)
