"""workbench.files.write_whole: a file is replaced whole or not at all, and leaves no temporary file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from workbench.files import write_whole


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_failed_write_leaves_the_old_text_and_no_temporary_file(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "pilot.yaml"
    path.write_text("old\n", encoding="utf-8")

    def full_disk(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError, match="No space left"):
        write_whole(path, "new\n")
    assert path.read_text(encoding="utf-8") == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pilot.yaml"]


def test_private_and_kept_modes(tmp_path: Path) -> None:
    secret = tmp_path / "client.env"
    write_whole(secret, "PASSWORD=x\n", private=True)
    assert _mode(secret) == 0o600 and secret.read_text(encoding="utf-8") == "PASSWORD=x\n"
    shared = tmp_path / "pilot.yaml"
    shared.write_text("a\n", encoding="utf-8")
    shared.chmod(0o640)
    write_whole(shared, "b\n", keep_mode=True)
    assert _mode(shared) == 0o640 and shared.read_text(encoding="utf-8") == "b\n"
    write_whole(shared, "c\n")  # not kept: the process's umask decides, as for any new file
    umask = os.umask(0)
    os.umask(umask)
    assert _mode(shared) == 0o666 & ~umask
