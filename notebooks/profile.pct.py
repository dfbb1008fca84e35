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
# # Profile the pilot's tables
#
# What does the data actually look like — and has it moved since the last run? Every
# statistic here is computed by the pilot's engine (DuckDB, or Spark on the lake when the
# charter says `engine: {kind: spark}`; a few aggregate scans a table, nothing is pulled into
# pandas): type, null rate, distinct count, min/max/mean/quantiles, top values and
# histograms, then drift against the previous profiled run of the same table (PSI per
# column, flagged above the threshold). All of it is logged to this step's MLflow run: a
# few metrics per table (rows, columns, drifted columns, largest PSI), one JSON profile and
# one HTML profile report per table (`profile_report/<table>.html`: every column's type,
# nulls, distinct values, histogram or top values, and drift in colour), and the figures.

# %% tags=["parameters"]
run_id = None
tracking_uri = None
warehouse = None
pilot_name = None
engine = None  # the charter's engine block (injected headless; by hand, the charter's)
pilot_root = None
charter_path = None
tables = None  # None: every source of the charter
bins = 20
top_k = 10
psi_threshold = 0.2

# %%
import json

import workbench
from workbench import formatting
from workbench.data import profiling
from workbench.show import profile_report

s = workbench.session("profile", run_id=run_id, tracking_uri=tracking_uri, warehouse=warehouse, pilot_name=pilot_name,
                      engine=engine, pilot_root=pilot_root, charter_path=charter_path)

tables = list(tables or s.tables())
profiles, drifts = {}, {}
for table in tables:
    previous = s.previous_artifact(f"profile/{table}.json")
    # whatever an earlier run stored, it never blocks this one (unreadable: no reference)
    reference, why_not = profiling.read_reference(previous[1] if previous else None)
    if previous and reference is None:
        print(f"{table}: {why_not}")
    profile = s.profile(table, bins=bins, top_k=top_k, reference=reference)
    profiles[table] = profile
    s.log_metrics(profile.metrics("profile"))
    s.log_dict(profile.to_dict(), f"profile/{table}.json")
    if reference is not None:
        report = profiling.drift(reference, profile, threshold=psi_threshold)
        drifts[table] = report
        s.log_metrics(report.metrics("drift"))
        s.log_dict({"reference_run": previous[0], **report.to_dict()}, f"drift/{table}.json")
    s.log_text(profile_report.render_profile_report(profile, drifts.get(table),
                                                    reference_run=previous[0] if previous else None),
               profile_report.artifact_path(table))
    print(f"{table}: {formatting.integer(profile.row_count)} rows, {len(profile.columns)} columns, "
          f"profiled by {profile.engine}"
          + (f"; drift vs run {previous[0][:8]}: {len(drifts[table].flagged)} column(s) flagged"
             if table in drifts else "; no earlier profile to compare with"))

# %% [markdown]
# ## Columns at a glance

# %%
overview = profile_report.overview(profiles)
s.log_table(overview, "profile/overview.html")
formatting.styled(overview)

# %% [markdown]
# ## Distributions

# %%
for table, profile in profiles.items():
    fig = profiling.plot_histograms(profile)
    s.log_figure(fig, f"figures/{table}_histograms.png")
    display(fig)

# %% [markdown]
# ## Drift since the previous profiled run

# %%
for table, report in drifts.items():
    fig = profiling.plot_drift(report)
    s.log_figure(fig, f"figures/{table}_drift.png")
    display(fig)
    if report.flagged:
        print(f"{table}: drift above PSI {psi_threshold} in {', '.join(report.flagged)}")
if not drifts:
    print("First profiled run: nothing to compare with yet.")

# %%
s.finish()
