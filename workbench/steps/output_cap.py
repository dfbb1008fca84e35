"""A cap on what a step's executed notebook keeps of its outputs.

A notebook that prints 50 MB would otherwise store 50 MB of .ipynb and as much HTML on
its run. Each cell keeps at most ``max_cell_output_mb`` of output and the whole notebook
at most ``max_output_mb`` (the step's charter keys; 2 MB and 20 MB by default): a larger
text output keeps its head and its tail with a line between them saying how much was cut
and which key raises the cap; an image or other binary output over its share is replaced
by such a line. Cells over the step's cap get shares proportional to their size.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["OutputCap", "cap_notebook", "cap_text_file", "MB"]

MB = 1024 * 1024
_TEXT = ("text/plain", "text/markdown", "text/latex", "application/json")


@dataclass(frozen=True)
class OutputCap:
    """What was cut from one executed notebook."""

    cells: tuple[int, ...]  # indices (0-based) of the cells whose output was cut
    bytes_cut: int

    def __bool__(self) -> bool:
        return bool(self.cells)


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else value if isinstance(value, str) else json.dumps(value)


def _size(out: dict) -> int:
    n = len(_text(out.get("text", "")).encode("utf-8", "ignore")) if "text" in out else 0
    for value in (out.get("data") or {}).values():
        n += len(_text(value).encode("utf-8", "ignore"))
    n += sum(len(line) for line in out.get("traceback") or [])
    return n


def _note(cut: int, cell_mb: float, step_mb: float) -> str:
    return (f"\n[workbench: {cut / MB:,.1f} MB of output cut here; a cell keeps {cell_mb:g} MB and a step "
            f"{step_mb:g} MB (the head and the tail); raise the step's `max_cell_output_mb` / `max_output_mb` "
            "in the charter to keep more]\n")


def _head_tail(text: str, budget: int, note: str) -> tuple[str, int]:
    raw = text.encode("utf-8", "ignore")
    if len(raw) <= budget:
        return text, 0
    half = max(0, (budget - len(note)) // 2)
    head = raw[:half].decode("utf-8", "ignore")
    tail = raw[len(raw) - half:].decode("utf-8", "ignore") if half else ""
    return head + note + tail, len(raw) - 2 * half


def _cap_output(out: dict, budget: int, cell_mb: float, step_mb: float) -> int:
    """Cut ``out`` to about ``budget`` bytes in place; returns the bytes cut."""
    size = _size(out)
    if size <= budget:
        return 0
    cut = 0
    if "text" in out:
        text = _text(out["text"])
        out["text"], c = _head_tail(text, budget, _note(size - budget, cell_mb, step_mb))
        cut += c
    data = out.get("data")
    if data:
        plain = data.get("text/plain")
        for mime in list(data):
            if mime == "text/plain":
                continue
            if mime in _TEXT and isinstance(data[mime], (str, list)):
                data[mime], c = _head_tail(_text(data[mime]), budget, _note(size - budget, cell_mb, step_mb))
                cut += c
            else:  # an image, HTML, a widget: a cut copy would not render; say what was there
                cut += len(_text(data.pop(mime)))
                plain = (_text(plain) if plain else "") + f"\n[workbench: a {mime} output was withheld: it was over " \
                                                          f"the step's output cap ({step_mb:g} MB a step, " \
                                                          f"{cell_mb:g} MB a cell)]"
        if plain is not None:
            data["text/plain"], c = _head_tail(_text(plain), budget, _note(size - budget, cell_mb, step_mb))
            cut += c
    if out.get("traceback"):
        joined = "\n".join(out["traceback"])
        kept, c = _head_tail(joined, budget, _note(size - budget, cell_mb, step_mb))
        out["traceback"] = kept.split("\n")
        cut += c
    return cut


def cap_notebook(path: Path, *, cell_mb: float, step_mb: float) -> OutputCap:
    """Apply the caps to the executed notebook at ``path`` (rewritten only if something is cut)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    cells = nb.get("cells", [])
    sizes = [sum(_size(o) for o in c.get("outputs", [])) for c in cells]
    cell_cap, step_cap = int(cell_mb * MB), int(step_mb * MB)
    budgets = [min(s, cell_cap) for s in sizes]
    total = sum(budgets)
    if total > step_cap:  # shares of the step's cap, in proportion to what each cell keeps
        budgets = [int(b * step_cap / total) for b in budgets]
    cut_cells, cut_bytes = [], 0
    for i, (cell, size, budget) in enumerate(zip(cells, sizes, budgets, strict=True)):
        if size <= budget:
            continue
        outs = cell.get("outputs", [])
        for out in outs:
            share = int(budget * _size(out) / size) if size else budget
            cut_bytes += _cap_output(out, share, cell_mb, step_mb)
        cut_cells.append(i)
    if cut_cells:
        meta = nb.setdefault("metadata", {}).setdefault("workbench", {})
        meta["output_cut"] = {"cells": cut_cells, "bytes": cut_bytes, "max_cell_output_mb": cell_mb,
                              "max_output_mb": step_mb}
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return OutputCap(tuple(cut_cells), cut_bytes)


def cap_text_file(path: Path, *, max_mb: float) -> int:
    """Keep the head and tail of a log file larger than ``max_mb``; returns the bytes cut."""
    size = path.stat().st_size
    limit = int(max_mb * MB)
    if size <= limit:
        return 0
    half = limit // 2
    with open(path, "rb") as f:
        head = f.read(half)
        f.seek(size - half)
        tail = f.read()
    note = f"\n[workbench: {(size - 2 * half) / MB:,.1f} MB of the kernel's output cut here]\n".encode()
    path.write_bytes(head + note + tail)
    return size - 2 * half
