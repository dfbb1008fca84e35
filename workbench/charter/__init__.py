"""The charter layer: what a pilot is, read from ``pilot.yaml``, typed and located.

Imports only the ground (:mod:`workbench.errors`, :mod:`workbench.formatting`).

- :mod:`.config` — the charter model (pydantic, ``extra="forbid"``), :func:`load_charter`, its hash;
- :mod:`.yaml_reader` — YAML with positions; pydantic errors as file:line:column messages;
- :mod:`.names` — the rule for table names (shared with the data contracts).
"""

__all__ = ["config", "names", "yaml_reader"]
