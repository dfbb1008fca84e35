"""`workbench new` on a file ingest would refuse gives ingest's own located errors
(file:line, and the column where there is one), never "Error when sniffing file" or a
conclusion drawn from a misread file ("classification here is binary")."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from workbench.cli import app


def _good_rows(n: int = 60) -> list[str]:
    return [f"{i},{'ab'[i % 2]}x,{i * 1.5},{i % 2}" for i in range(1, n + 1)]


def _file(path: Path, kind: str) -> tuple[Path, int]:
    """A bad CSV and the line of its fault."""
    rows = ["id,code,amount,churned", *_good_rows()]
    line = 31  # the 30th data row
    if kind == "bad_quoting":
        rows[line - 1] = '30,"unterminated,45.0,0'
    elif kind == "ragged":
        rows[line - 1] = "30,ax,45.0,0,extra,fields"
    elif kind == "bad_value":
        rows[line - 1] = "30,ax,4x5.0,0"
    elif kind == "bare_cr":  # what pandas' to_csv leaves unquoted in a text value
        rows[line - 1] = "30,a\rx,45.0,0"
    text = "\n".join(rows) + "\n"
    if kind == "not_utf8":
        data = text.encode().replace(b"30,ax", "30,\u00e9x".encode("latin-1"))
        path.write_bytes(data)
    else:
        path.write_text(text)
    return path, line


@pytest.mark.parametrize("kind", ["bad_quoting", "ragged", "not_utf8", "bad_value", "bare_cr"])
def test_new_on_a_bad_file_gives_file_line_col(tmp_path: Path, kind: str) -> None:
    data, line = _file(tmp_path / "bad.csv", kind)
    result = CliRunner().invoke(app, ["new", "p", "--data", str(data), "--target", "churned",
                                      "--dir", str(tmp_path / "pilots")])
    assert result.exit_code == 1, result.output
    assert re.search(rf"{re.escape(str(data))}:{line}\b", result.output), result.output
    assert "sniffing" not in result.output and "binary" not in result.output
    assert not (tmp_path / "pilots" / "p").exists()
    if kind in ("bad_value", "ragged"):
        assert re.search(rf"{re.escape(str(data))}:{line}: column \d", result.output), result.output
    if kind == "bare_cr":
        assert f"{data}:{line}:5" in result.output and "carriage return" in result.output, result.output
        assert "QUOTE_NONNUMERIC" in result.output, result.output


@pytest.mark.parametrize("kind", ["bad_quoting", "not_utf8", "bare_cr"])
def test_new_text_pilot_on_a_file_the_sniffer_cannot_read_gives_file_and_line(tmp_path: Path, kind: str) -> None:
    """The eval-set scaffolds read the file with DuckDB's sniffer; where it fails they name the
    line as ingest would, not "Error when sniffing file" (nor "a bug in the workbench")."""
    data, line = _file(tmp_path / "bad.csv", kind)
    result = CliRunner().invoke(app, ["new", "p", "--data", str(data), "--target", "churned", "--task",
                                      "text-classification", "--text-column", "code", "--dir", str(tmp_path / "pilots")])
    assert result.exit_code == 1, result.output
    assert re.search(rf"{re.escape(str(data))}:{line}\b", result.output), result.output
    assert "sniffing" not in result.output and "bug" not in result.output, result.output
    assert not (tmp_path / "pilots" / "p").exists()
