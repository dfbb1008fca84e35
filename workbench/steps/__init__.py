"""The steps layer: running a pilot — the runner, its steps, and the session notebooks use.

Imports show and everything below it; only the faces (cli, new, widgets) import it.

- :mod:`.runner` — ingest → contracts → notebook steps → promote → report, each tracked, cached, fail-safe;
- :mod:`.session` — the API a notebook calls (``workbench.session(...)``);
- :mod:`.step_runs` — what every step shares: outcome, cache key, how its run ends;
- :mod:`.contracts_step` — the contracts step;
- :mod:`.notebooks` and :mod:`.notebook_contract` — notebook files and what a step must log;
- :mod:`.validate` — static checks of a charter before anything runs.
"""

__all__ = ["contracts_step", "notebook_contract", "notebooks", "runner", "session", "step_runs", "validate"]
