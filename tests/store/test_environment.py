"""What a result records of its environment: Python, the platform, the exact package versions, uv.lock's hash."""

from __future__ import annotations

import hashlib
import importlib.metadata
import platform

from support import REPO
from workbench.store import environment


def test_current_names_python_the_platform_every_result_package_and_the_lock() -> None:
    env = environment.current()
    assert env.python.startswith(platform.python_version())
    assert env.platform == platform.platform()
    assert {"scikit-learn", "numpy", "pandas", "duckdb", "mlflow", "great-expectations",
            "papermill"} <= set(env.packages)
    for name, version in env.packages.items():
        assert version == importlib.metadata.version(name), name
    assert env.lock_sha256 == hashlib.sha256((REPO / "uv.lock").read_bytes()).hexdigest()


def test_tags_read_back_as_the_record_and_the_cache_part_leaves_the_lock_out() -> None:
    env = environment.current()
    tags = env.tags()
    assert tags[f"{environment.VERSION_TAG}pandas"] == importlib.metadata.version("pandas")
    assert tags[environment.LOCK_TAG] == env.lock_sha256
    back = environment.from_tags({**tags, "workbench.kind": "pilot"})
    assert back == {k: v for k, v in env.to_dict().items() if k != "machine"}
    assert environment.from_tags({"workbench.kind": "pilot"}) == {}  # a run from before versions were recorded
    part = env.cache_part()
    assert part["packages"] == dict(env.packages) and part["python"] == env.python
    assert env.lock_sha256 not in str(part) and platform.release() not in str(part)


def test_a_missing_package_and_a_missing_lock_are_said_not_guessed(tmp_path) -> None:
    assert environment.package_versions(("no-such-package-wb",)) == {"no-such-package-wb": "not installed"}
    assert environment.lock_sha256(tmp_path) is None
    (tmp_path / "uv.lock").write_text("version = 1\n")
    assert environment.lock_sha256(tmp_path) == hashlib.sha256(b"version = 1\n").hexdigest()
