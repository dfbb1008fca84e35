"""`workbench new` on a file ingest would refuse gives ingest's own located errors
(file:line, and the column where there is one), never "Error when sniffing file" or a
conclusion drawn from a misread file ("classification here is binary")."""

from __future__ import annotations

import json
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


def test_lists_and_structs_in_a_parquet_file_are_loaded_as_json_and_left_out_of_the_features(tmp_path: Path) -> None:
    """A Parquet export with a list and a struct column failed `new` with DuckDB's SQL
    ("cannot load the file: LINE 1: ... CAST(_wb_t1 AS STRUCT(K BIGINT, ...") and no column named."""
    import duckdb
    import numpy as np
    import pandas as pd

    from workbench.charter.config import Source, load_charter
    from workbench.data.warehouse import ingest_source
    from workbench.errors import ConfigError
    from workbench.new import new_pilot

    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame({"tags": [list(rng.choice(["a", "b"], rng.integers(0, 3))) for _ in range(n)],
                          "meta": [{"k": int(rng.integers(5)), "s": "x"} for _ in range(n)],
                          "amount": rng.normal(100, 20, n), "churned": (rng.random(n) < 0.3).astype(int)})
    frame.loc[3, "meta"] = None
    data = tmp_path / "export.parquet"
    frame.to_parquet(data, index=False)
    made = new_pilot("nested", data, "churned", pilots_dir=tmp_path / "pilots")
    charter = load_charter(made.charter)
    assert {"tags", "meta"} <= set(charter.features.exclude) and "amount" not in charter.features.exclude
    assert "lists or structs, loaded as their JSON text" in made.charter.read_text()
    con = duckdb.connect()
    source = Source(path=data, format="parquet", columns={"tags": "VARCHAR", "meta": "VARCHAR", "amount": "DOUBLE",
                                                           "churned": "BIGINT"})
    ingest_source(con, "export", source, data)
    rows = con.execute("SELECT tags, meta FROM export ORDER BY rowid LIMIT 4").fetchall()
    assert [json.loads(t) for t, _ in rows] == [list(v) for v in frame["tags"][:4]]
    assert json.loads(rows[0][1]) == frame["meta"][0] and rows[3][1] is None
    with pytest.raises(ConfigError, match="the target 'tags' holds lists or structs"):
        new_pilot("by_tags", data, "tags", pilots_dir=tmp_path / "pilots")


def test_a_header_naming_a_column_twice_a_spreadsheet_and_a_jsonl_table(tmp_path: Path) -> None:
    """Three files a stranger brings: a header with a column twice was "columns are in a different
    order"; an .xlsx was read as a CSV ("no column 'y'; choose among: PK..."); a JSONL table was read
    as a CSV too, though a charter source takes `format: jsonl`."""
    import pandas as pd

    from workbench.charter.config import load_charter
    from workbench.errors import ConfigError, IngestError
    from workbench.new import new_pilot

    twice = tmp_path / "twice.csv"
    twice.write_text("a,a,y\n" + "".join(f"{i},{i * 2},{i % 2}\n" for i in range(100)))
    with pytest.raises(IngestError, match=r"column\(s\) named more than once: a \(columns 1, 2\)") as caught:
        new_pilot("twice", twice, "y", pilots_dir=tmp_path / "pilots")
    assert caught.value.where == f"{twice}:1" and caught.value.hint == "give every column of the header its own name"
    # DAAG's science: `class` (a school class) and `Class` (the target), one name to SQL: DuckDB reads the second as
    # Class_1, and `new` failed on "cannot load the file: LINE 1: ...'Class': 'VARCHAR'}", DuckDB's parse position
    twice.write_text("class,x,Class\n" + "".join(f"{i},{i * 2},{i % 2}\n" for i in range(100)))
    with pytest.raises(IngestError, match=r"named more than once: class and Class \(columns 1, 3; names that differ "
                       r"only in case are one name to SQL\)") as caught:
        new_pilot("twice", twice, "Class", pilots_dir=tmp_path / "pilots")
    assert caught.value.where == f"{twice}:1" and caught.value.hint == "give every column of the header its own name"
    # Excel's "CSV UTF-8" of a sheet with two empty columns right of the data: a byte-order mark, CRLF, `,,`
    export = tmp_path / "export.csv"
    rows = b"".join(b"n,%d,%d,,\r\n" % (i, i % 2) for i in range(100))
    export.write_bytes(b"\xef\xbb\xbfregion,units,y,,\r\n" + rows)
    with pytest.raises(IngestError, match=r"declared columns: column\(s\) 4, 5 have no name\n") as caught:
        new_pilot("export", export, "y", pilots_dir=tmp_path / "pilots")
    assert caught.value.where == f"{export}:1" and caught.value.hint.startswith(
        "empty columns beside a spreadsheet's data are exported so: delete them"), caught.value.hint
    sheet = tmp_path / "book.xlsx"
    sheet.write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(ConfigError, match=r"a spreadsheet \(\.xlsx\)") as caught:
        new_pilot("book", sheet, "y", pilots_dir=tmp_path / "pilots")
    assert "CSV UTF-8" in caught.value.hint
    rows = tmp_path / "rows.jsonl"
    pd.DataFrame({"Prix (€)": [i * 1.5 for i in range(200)], "a.b": [i % 5 for i in range(200)],
                  "y": [i % 3 == 0 for i in range(200)]}).to_json(rows, orient="records", lines=True)
    made = new_pilot("rows", rows, "y", pilots_dir=tmp_path / "pilots")
    source = load_charter(made.charter).sources["rows"]
    assert source.format == "jsonl" and source.columns == {"Prix (€)": "DOUBLE", "a.b": "BIGINT", "y": "BOOLEAN"}


def test_a_code_written_with_leading_zeros_is_text_not_a_number_with_bad_values(tmp_path: Path) -> None:
    """Galton's families numbered '001' to '204', one of them '136A' (HistData's GaltonFamilies):
    `new` took the column for numbers with 8 bad values and refused the file, each row of family
    136A named malformed. Digits with leading zeros are a code: the column stays text, and the
    file makes a pilot. An amount with one bad value among plain numbers is still located."""
    from demos.text import frame
    from workbench.charter.config import load_charter
    from workbench.new import new_pilot

    frame("HistData", "GaltonFamilies").drop(columns=["rownames"]).to_csv(tmp_path / "galton.csv", index=False)
    made = new_pilot("galton", tmp_path / "galton.csv", "childHeight", pilots_dir=tmp_path / "pilots")
    assert load_charter(made.charter).sources["galton"].columns["family"] == "VARCHAR"


def test_a_code_with_one_word_among_its_numbers_stays_text_and_an_amount_with_one_is_refused(tmp_path: Path) -> None:
    """MASS's Cars93: `Cylinders` is 3 to 8, and 'rotary' for the Mazda RX-7. `new` refused the
    file, "value 'rotary' is not a whole number", and told the user to fix the line or the
    charter's types, with no charter written yet. Six values are a code: it stays text, and a
    note names the odd value. An amount with one bad value among 60 is still refused, located, and
    the hint says to fix the file and run `new` again."""
    from demos.text import frame
    from workbench.charter.config import load_charter
    from workbench.errors import IngestError
    from workbench.new import new_pilot

    frame("MASS", "Cars93").drop(columns=["rownames"]).to_csv(tmp_path / "cars.csv", index=False)
    made = new_pilot("cars", tmp_path / "cars.csv", "Horsepower", pilots_dir=tmp_path / "pilots")
    assert load_charter(made.charter).sources["cars"].columns["Cylinders"] == "VARCHAR"
    (note,) = [n for n in made.notes if n.startswith("Cylinders kept as text")]
    assert "92 of its 93 values are numbers and 1 not ('rotary'); its 6 distinct values are a code" in note
    data, line = _file(tmp_path / "bad.csv", "bad_value")
    with pytest.raises(IngestError) as raised:
        new_pilot("bad", data, "churned", pilots_dir=tmp_path / "pilots")
    assert f"{data}:{line}: column 3 ('amount')" in str(raised.value)
    assert raised.value.hint == "fix those values in the file, then run `workbench new` again"


def test_a_postal_code_is_text_with_its_zip_plus_four_and_its_leading_zeros(tmp_path: Path) -> None:
    """openintro's seattlepets: 52,519 pet licences, `zip_code` 98103 and the like, 71 of them
    written ZIP+4 (98126-2920). `new` took the column for numbers and refused the file, "71
    malformed row(s)". A column named as a postal code is a code: text, whatever the sniffer
    reads, so ZIP+4 loads, and a zip code the sniffer read as BIGINT keeps the leading zeros
    later rows have (02134), with a note."""
    import numpy as np
    import pandas as pd
    from demos.text import frame
    from workbench.charter.config import load_charter
    from workbench.new import new_pilot

    frame("openintro", "seattlepets").drop(columns=["rownames"]).to_csv(tmp_path / "pets.csv", index=False)
    made = new_pilot("pets", tmp_path / "pets.csv", "species", pilots_dir=tmp_path / "pilots")
    assert load_charter(made.charter).sources["pets"].columns["zip_code"] == "VARCHAR"
    rng = np.random.default_rng(0)
    pd.DataFrame({"zip": rng.integers(10000, 99999, 300), "amount": rng.random(300).round(3),
                  "phone_service": rng.integers(0, 2, 300),  # modeldata's wa_churn: a flag, not a phone number
                  "y": rng.integers(0, 2, 300)}).to_csv(tmp_path / "zips.csv", index=False)
    made = new_pilot("zips", tmp_path / "zips.csv", "y", pilots_dir=tmp_path / "pilots")
    columns = load_charter(made.charter).sources["zips"].columns
    assert columns["zip"] == "VARCHAR" and columns["phone_service"] == "BIGINT", columns
    assert "zip kept as text: named as a postal code or a phone number, a code, not a quantity (DuckDB read it as " \
           "BIGINT)" in made.notes
    assert not [n for n in made.notes if n.startswith("phone_service kept as text")], made.notes


def test_columns_named_like_the_aliases_of_new_s_own_queries(tmp_path: Path) -> None:
    """ggplot2's luv_colours: columns L, u, v and the colour's name. `new` crashed with DuckDB's
    "column "col" must appear in the GROUP BY clause": a query of its own grouped by its alias
    `v`, which the table's column `v` took."""
    import numpy as np
    import pandas as pd
    from workbench.charter.config import load_charter
    from workbench.new import new_pilot

    rng = np.random.default_rng(0)
    pd.DataFrame({"L": rng.random(300), "u": rng.random(300), "v": rng.random(300),
                  "col": rng.choice(["grey", "red"], 300)}).to_csv(tmp_path / "luv.csv", index=False)
    made = new_pilot("luv", tmp_path / "luv.csv", "col", pilots_dir=tmp_path / "pilots")
    assert load_charter(made.charter).task.kind == "classification"
