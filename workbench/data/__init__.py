"""The data layer: sources into DuckDB, their contracts, their profiles.

Imports the charter and the ground.

- :mod:`.warehouse` — ingest declared sources, fingerprint tables, read-only access, PII values;
- :mod:`.contracts` — YAML data contracts compiled to Great Expectations, checked on DuckDB;
- :mod:`.profiling` — column profiles and drift, computed in DuckDB;
- :mod:`.sql` — identifier quoting for SQL text.
"""

__all__ = ["contracts", "profiling", "sql", "warehouse"]
