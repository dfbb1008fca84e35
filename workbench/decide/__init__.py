"""The decide layer: gates, promotion, the registry and its decision records, monitoring after the GO.

Imports measure and everything below it.

- :mod:`.promotion` — metrics read back from MLflow → gates → alias → decision record;
- :mod:`.registry` — the model registry and its hash-chained, auditable decision records;
- :mod:`.monitor` — new batches checked, scored by the champion and judged against the production plan.
"""

__all__ = ["monitor", "promotion", "registry"]
