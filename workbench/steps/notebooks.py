"""Notebook files: the `parameters` cell, strict parameter checks, source hashing, HTML.

Pure file work (nbformat JSON + ast), no kernel and no papermill import, so the runner
can refuse a bad parameter, or serve a step from cache, before anything heavy loads.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ParameterError, StepError

__all__ = ["NotebookParameters", "read_parameters", "check_parameters", "source_hash", "to_html", "failed_cell",
           "mark_unfinished", "redact_notebook"]


@dataclass(frozen=True)
class NotebookParameters:
    notebook: Path
    cell_index: int
    defaults: dict[str, Any]  # name -> default value (None where not a literal)


def _load(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StepError(f"cannot read the notebook: {exc}", where=str(path),
                        hint="check the file is a valid .ipynb (re-save it from JupyterLab, or `jupytext --sync`)") from exc


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def description(path: Path) -> str:
    """The notebook's opening markdown cell (its narrative: what the step does and logs),
    for the step run's description in the MLflow UI; empty when it has none."""
    for cell in _load(path).get("cells", []):
        if cell.get("cell_type") == "markdown":
            return _source(cell).strip()
        if cell.get("cell_type") == "code":
            break
    return ""


def read_parameters(path: Path) -> NotebookParameters:
    """The names assigned in the cell tagged `parameters`, with their literal defaults."""
    nb = _load(path)
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            try:
                tree = ast.parse(_source(cell))
            except SyntaxError as exc:
                raise ParameterError(f"the parameters cell does not parse: {exc.msg}",
                                     where=f"{path}: cell {index + 1}, line {exc.lineno}",
                                     hint="fix the syntax of the parameters cell") from exc
            defaults: dict[str, Any] = {}
            for node in tree.body:
                targets = node.targets if isinstance(node, ast.Assign) else (
                    [node.target] if isinstance(node, ast.AnnAssign) else [])
                for target in targets:
                    if isinstance(target, ast.Name):
                        try:
                            defaults[target.id] = ast.literal_eval(node.value) if node.value is not None else None
                        except (ValueError, SyntaxError):
                            defaults[target.id] = None
            return NotebookParameters(path, index, defaults)
    raise ParameterError(
        "the notebook has no cell tagged `parameters`",
        where=str(path),
        hint="in JupyterLab, select the first code cell with the defaults, open the property inspector and add the tag `parameters`",
    )


def check_parameters(declared: NotebookParameters, given: Mapping[str, Any], *, step: str) -> None:
    """Refuse names the notebook does not declare and values of the wrong kind."""
    valid = sorted(declared.defaults)
    unknown = sorted(set(given) - set(declared.defaults))
    if unknown:
        import difflib

        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, valid, n=1)
            hints.append(f"'{name}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
        raise ParameterError(
            f"step '{step}' passes parameter(s) the notebook does not declare: {', '.join(hints)}",
            where=f"{declared.notebook}: parameters cell (cell {declared.cell_index + 1})",
            hint=f"valid names: {', '.join(valid)}; fix the step's `parameters:` in the charter or declare the name in the notebook",
        )
    problems = []
    for name, value in given.items():
        default = declared.defaults.get(name)
        if default is None or value is None:
            continue
        numeric = (int, float)
        ok = (
            isinstance(value, type(default))
            or (isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool))
            or (isinstance(default, (list, tuple)) and isinstance(value, (list, tuple)))
        )
        if isinstance(default, bool) != isinstance(value, bool) and isinstance(default, numeric):
            ok = False
        if not ok:
            problems.append(f"'{name}' should be {type(default).__name__} like its default {default!r}, got {value!r}")
    if problems:
        raise ParameterError(
            f"step '{step}' passes parameter(s) of the wrong type: " + "; ".join(problems),
            where=f"{declared.notebook}: parameters cell (cell {declared.cell_index + 1})",
            hint="fix the values in the step's `parameters:` in the charter",
        )


def source_hash(path: Path) -> str:
    """Hash of what the notebook does (cell types and sources), not its outputs or metadata."""
    nb = _load(path)
    h = hashlib.sha256()
    for cell in nb.get("cells", []):
        h.update(cell.get("cell_type", "").encode())
        h.update(b"\0")
        h.update(_source(cell).encode())
        h.update(b"\1")
    return h.hexdigest()


def failed_cell(executed: Path, index: int | None = None) -> tuple[int, str] | None:
    """(cell number in the *source* notebook, first source line) of the cell that errored
    or was still running — or of cell ``index`` of the executed notebook when given.

    Papermill inserts an `injected-parameters` cell; numbers are given as the analyst sees
    them in the notebook they wrote (1-based, without the injected cell)."""
    try:
        nb = _load(executed)
    except StepError:
        return None
    cells = nb.get("cells", [])
    if index is None:
        index = next(
            (
                i
                for i, cell in enumerate(cells)
                if cell.get("metadata", {}).get("papermill", {}).get("exception")
                or cell.get("metadata", {}).get("papermill", {}).get("status") == "running"
            ),
            None,
        )
    if index is None:  # a dead kernel or a timeout: the last cell that started
        started = [i for i, c in enumerate(cells) if c.get("metadata", {}).get("papermill", {}).get("start_time")]
        index = started[-1] if started else None
    if index is None or index >= len(cells):
        return None
    # papermill adds cells the analyst never wrote: the injected parameters, and error markers
    added = {"injected-parameters", "papermill-error-cell-tag"}
    injected = sum(1 for c in cells[:index] if added & set(c.get("metadata", {}).get("tags", [])))
    first = next((ln for ln in _source(cells[index]).splitlines() if ln.strip()), "")
    return index - injected + 1, first


def _papermill(cell: dict) -> dict:
    return cell.setdefault("metadata", {}).setdefault("papermill", {})


def mark_unfinished(executed: Path, ename: str, evalue: str) -> int | None:
    """Mark the cell that was running when the kernel died, timed out or was interrupted.

    Papermill records that cell, and the ones after it, as completed; this marks it failed
    with an error output (``ename: evalue``) and the cells after it as not run, so the
    attached notebook shows where execution stopped. Returns the cell's index in the file."""
    try:
        nb = _load(executed)
    except StepError:
        return None
    cells = nb.get("cells", [])
    index = next((i for i, c in enumerate(cells) if _papermill(c).get("exception")), None)
    if index is None:
        started = [i for i, c in enumerate(cells) if c.get("cell_type") == "code" and _papermill(c).get("start_time")]
        index = started[-1] if started else None
    if index is None:
        return None
    cell = cells[index]
    meta = _papermill(cell)
    meta.update(status="failed", exception=True)
    # the KeyboardInterrupt a timeout sends the kernel is the workbench's doing: say what it was
    outputs = [o for o in cell.get("outputs", [])
               if not (o.get("output_type") == "error" and o.get("ename") == "KeyboardInterrupt")]
    outputs.append({"output_type": "error", "ename": ename, "evalue": evalue, "traceback": [f"{ename}: {evalue}"]})
    cell["outputs"] = outputs
    for later in cells[index + 1:]:
        if later.get("cell_type") == "code" and not _papermill(later).get("start_time"):
            _papermill(later).update(status="pending", exception=None)
    executed.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return index


def redact_notebook(path: Path, redact: Any) -> bool:
    """Pass every cell source and every text output of ``path`` through ``redact`` (a list of
    texts -> the same texts, personal data replaced) and write it back if anything changed."""
    nb = _load(path)
    slots: list[tuple[Any, Any]] = []  # (container, key) of each text

    def add(container: Any, key: Any) -> None:
        value = container[key]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            container[key] = "".join(value)
        if isinstance(container[key], str) and container[key]:
            slots.append((container, key))

    for cell in nb.get("cells", []):
        add(cell, "source") if "source" in cell else None
        for out in cell.get("outputs", []):
            if "text" in out:
                add(out, "text")
            for key in ("ename", "evalue"):
                if key in out:
                    add(out, key)
            if isinstance(out.get("traceback"), list):
                for i in range(len(out["traceback"])):
                    add(out["traceback"], i)
            for mime, value in (out.get("data") or {}).items():
                if mime.startswith("text/") or mime in ("application/json",):
                    if isinstance(value, (str, list)):
                        add(out["data"], mime)
    texts = [c[k] for c, k in slots]
    # sources are the notebook's own words (code, step names, headings): judged as names,
    # where the project's vocabulary stays; outputs are judged as values
    is_source = [isinstance(c, dict) and "cell_type" in c and k == "source" for c, k in slots]
    sources = [t for t, s in zip(texts, is_source, strict=True) if s]
    try:
        clean_sources = redact(sources, names=True)
    except TypeError:  # a redactor that knows no names: everything judged as values
        clean_sources = redact(sources)
    clean_outputs = iter(redact([t for t, s in zip(texts, is_source, strict=True) if not s]))
    clean_sources_it = iter(clean_sources)
    clean = [next(clean_sources_it) if s else next(clean_outputs) for s in is_source]
    if clean == texts:
        return False
    for (container, key), value in zip(slots, clean, strict=True):
        container[key] = value
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return True


@functools.lru_cache(maxsize=1)
def html_exporter() -> Any:
    """One exporter for the process: a new one compiles its ~9 Jinja templates again (~0.1 s a
    notebook); nbconvert's own command line reuses one for every notebook it converts."""
    from nbconvert import HTMLExporter

    return HTMLExporter(template_name="lab", embed_images=True)


def warm_html() -> None:
    """Convert a two-cell notebook: the exporter's templates are compiled on its first notebook
    (~0.3 s), so the first executed step's HTML does not wait for them."""
    import nbformat

    html_exporter().from_notebook_node(nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell("#"), nbformat.v4.new_code_cell("")]))


def to_html(executed: Path, html: Path) -> Path:
    """Render an executed notebook as self-contained HTML (the MLflow UI previews HTML)."""
    import nbformat

    nb = nbformat.read(str(executed), as_version=4)
    body, _ = html_exporter().from_notebook_node(nb)
    html.write_text(body, encoding="utf-8")
    return html
