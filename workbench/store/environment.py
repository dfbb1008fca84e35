"""The environment a result was computed in: Python, the platform, the exact versions of the
packages that shape results, and the hash of the project's ``uv.lock``.

Every pilot run records it (tags ``workbench.version.<package>`` and the artifact
``environment.json``), the decision record repeats it, the scorecard shows it, and it is part
of every step's cache key (:func:`cache_part`), so a step is not served from cache across an
upgrade of scikit-learn, pandas or Python.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import platform
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["RESULT_PACKAGES", "Environment", "current", "package_versions", "lock_sha256", "from_tags",
           "VERSION_TAG", "PYTHON_TAG", "PLATFORM_TAG", "LOCK_TAG", "ARTIFACT"]

# what decides the numbers: the models and their maths, the frames and the tables they come
# from, the contract checks, the notebook execution and the store the metrics are read back from
RESULT_PACKAGES = ("scikit-learn", "scipy", "numpy", "pandas", "pyarrow", "duckdb", "mlflow",
                   "great-expectations", "papermill")

VERSION_TAG = "workbench.version."  # + package name
PYTHON_TAG = "workbench.python"
PLATFORM_TAG = "workbench.platform"
LOCK_TAG = "workbench.uv_lock_sha256"
ARTIFACT = "environment.json"
NOT_INSTALLED = "not installed"

# the project checkout the workbench runs from (an editable install); a wheel install has no lock
_PROJECT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Environment:
    python: str  # e.g. "3.11.7 (CPython)"
    platform: str  # e.g. "Linux-6.1.0-x86_64-with-glibc2.36"
    machine: str  # e.g. "Linux x86_64": what the cache key keeps of the platform
    packages: Mapping[str, str] = field(default_factory=dict)  # name -> version
    lock_sha256: str | None = None

    def tags(self) -> dict[str, str]:
        return {PYTHON_TAG: self.python, PLATFORM_TAG: self.platform,
                **{f"{VERSION_TAG}{name}": version for name, version in self.packages.items()},
                **({LOCK_TAG: self.lock_sha256} if self.lock_sha256 else {})}

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["packages"] = dict(self.packages)
        return d

    def cache_part(self) -> dict[str, Any]:
        """What a step's cache key takes from the environment: Python, the OS and CPU family, the
        result-shaping packages. Not the lock's hash (a test-only dependency would invalidate
        every step) nor the kernel release (an OS patch does not change a model)."""
        return {"python": self.python, "machine": self.machine, "packages": dict(sorted(self.packages.items()))}


def package_versions(names: tuple[str, ...] = RESULT_PACKAGES) -> dict[str, str]:
    """The installed version of each package (``not installed`` when absent)."""
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = NOT_INSTALLED
    return versions


def lock_sha256(project: Path | None = None) -> str | None:
    """sha256 of ``uv.lock`` in the project the workbench runs from, None without one."""
    path = (project or _PROJECT) / "uv.lock"
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def current() -> Environment:
    """The environment of this process (a few ms: nothing is imported)."""
    return Environment(
        python=f"{platform.python_version()} ({platform.python_implementation()})",
        platform=platform.platform(),
        machine=f"{platform.system()} {platform.machine()}",
        packages=package_versions(),
        lock_sha256=lock_sha256(),
    )


def from_tags(tags: Mapping[str, str]) -> dict[str, Any]:
    """The environment a run recorded in its tags, as ``Environment.to_dict`` shapes it (without
    ``machine``); {} for a run that recorded none (made before versions were recorded)."""
    packages = {k[len(VERSION_TAG):]: v for k, v in sorted(tags.items()) if k.startswith(VERSION_TAG)}
    if not packages and PYTHON_TAG not in tags:
        return {}
    return {"python": tags.get(PYTHON_TAG), "platform": tags.get(PLATFORM_TAG), "packages": packages,
            "lock_sha256": tags.get(LOCK_TAG)}

