"""The store layer: where results live — MLflow, its locks, the team server, who may reach it.

Imports data, the charter and the ground.

- :mod:`.tracking` — MLflow conventions: the store, one experiment per pilot, runs and read-back;
- :mod:`.locks` and :mod:`.locks_pg` — one pilot and one registry change at a time (file or PostgreSQL);
- :mod:`.procs` — process identity (PID and start time);
- :mod:`.environment` — Python, the platform and the package versions a result was computed with;
- :mod:`.server` — a local team tracking server (PostgreSQL + ``mlflow server``);
- :mod:`.exposure` — serving the MLflow UI and JupyterLab: loopback, or authenticated;
- :mod:`.storage_errors` — operating-system and storage errors as messages with a fix.
"""

__all__ = ["environment", "exposure", "locks", "locks_pg", "procs", "server", "storage_errors", "tracking"]
