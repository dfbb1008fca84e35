"""The measure layer: how good, how fast, how costly a model is — results, never rendering.

Imports store, data, the charter and the ground.

- :mod:`.metrics` — the metric registry: every metric's direction, unit and meaning;
- :mod:`.evaluation` — quality on held-out rows: metrics, slices, curves, probes;
- :mod:`.sql_metrics` — the same definitions computed in DuckDB, at any size;
- :mod:`.timing` — latency, throughput, memory and cost of a prediction callable;
- :mod:`.modeling` — the feature view and split, today's rule, candidates, and :func:`~.modeling.assess`.
"""

__all__ = ["evaluation", "metrics", "modeling", "sql_metrics", "timing"]
