"""YAML with positions, and pydantic errors turned into located, actionable messages.

Shared by the charter (`config.py`) and the data contracts: both are YAML an analyst
edits by hand, so every error names the file, the line and column, the key path and
the fix (with the valid choices and a "did you mean" where a key is misspelt).
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from ..errors import WorkbenchError

__all__ = ["LocatedYaml", "load_yaml", "raise_for_validation", "strip_tags"]

KeyPath = tuple[str | int, ...]


class LocatedYaml:
    """Plain data loaded from a YAML file, plus a way to find where any key path is."""

    def __init__(self, path: Path, root: Any) -> None:
        self.path = path
        self._root = root
        self.data = _plain(root)

    @property
    def root(self) -> Any:
        """The round-trip node tree (comments and positions), for readers of the layout."""
        return self._root

    def position(self, keys: Sequence[str | int]) -> tuple[int, int] | None:
        """1-based (line, column) of the deepest node of ``keys`` that exists."""
        node: Any = self._root
        best: tuple[int, int] | None = None
        if hasattr(node, "lc"):
            best = (node.lc.line + 1, node.lc.col + 1)
        for key in keys:
            try:
                if isinstance(node, CommentedMap) and key in node:
                    line, col = node.lc.key(key)
                    best = (line + 1, col + 1)
                    node = node[key]
                elif isinstance(node, CommentedSeq) and isinstance(key, int) and key < len(node):
                    line, col = node.lc.item(key)
                    best = (line + 1, col + 1)
                    node = node[key]
                else:
                    break
            except (KeyError, TypeError, AttributeError):
                break
        return best

    def where(self, keys: Sequence[str | int] = ()) -> str:
        pos = self.position(keys)
        loc = f"{self.path}:{pos[0]}:{pos[1]}" if pos else str(self.path)
        if keys:
            loc += f" (key {format_keys(keys)})"
        return loc


def format_keys(keys: Sequence[str | int]) -> str:
    out = ""
    for k in keys:
        out += f"[{k}]" if isinstance(k, int) else (f".{k}" if out else str(k))
    return out


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k) if not isinstance(k, (int, float, bool)) else k: _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


@functools.lru_cache(maxsize=16)
def _parsed(text: str) -> Any:
    """The round-trip tree of ``text``, parsed once for every reader of the same text: a run reads
    its charter twice and each contract four times (~0.1 s a parse), a test process hundreds of
    times. Readers only read the tree (positions, comments); each :class:`LocatedYaml` makes its
    own plain ``data``. A syntax error is raised again each time (lru_cache keeps no exception)."""
    return YAML(typ="rt").load(text)


def load_yaml(path: Path, error: type[WorkbenchError], what: str = "file") -> LocatedYaml:
    """Load ``path`` keeping positions; syntax errors raise ``error`` with line and column."""
    path = Path(path)
    if not path.is_file():
        raise error(
            f"{what} not found",
            where=str(path),
            hint=f"create {path} or pass the right path",
        )
    try:
        root = _parsed(path.read_text(encoding="utf-8"))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = exc.problem or exc.context or "invalid YAML"
        raise error(
            f"invalid YAML: {problem}",
            where=loc,
            hint="check indentation, colons and quoting at that line (tabs are not allowed in YAML)",
        ) from exc
    except UnicodeDecodeError as exc:
        raise error("file is not UTF-8 text", where=str(path), hint="save it as UTF-8") from exc
    if root is None:
        raise error(f"{what} is empty", where=str(path), hint=f"write the {what} as a YAML mapping")
    if not isinstance(root, CommentedMap):
        raise error(
            f"{what} must be a YAML mapping (key: value), not a {type(root).__name__}",
            where=str(path),
            hint="start the file with top-level keys such as `name:`",
        )
    return LocatedYaml(path, root)


def _fields_at(model: type[BaseModel], keys: Sequence[str | int]) -> list[str] | None:
    """Field names of the (nested) model that owns the last key, for 'valid choices'."""
    import typing

    current: Any = model
    free_key = False  # the next key is a name in a dict[str, Model] (e.g. a source's name)
    for key in keys[:-1]:
        if isinstance(key, int):
            continue
        if free_key:
            free_key = False
            continue
        if isinstance(current, type) and issubclass(current, BaseModel) and key in current.model_fields:
            ann = current.model_fields[key].annotation
            found = _dict_value_model(ann, typing)
            free_key = found is not None
            current = found if found is not None else _first_model(ann, typing)
        else:
            return None
    if isinstance(current, type) and issubclass(current, BaseModel):
        # fields excluded from dumps are filled in by the loader, not written by people
        return sorted(n for n, f in current.model_fields.items() if not f.exclude)
    return None


def _first_model(ann: Any, typing: Any) -> Any:
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    for arg in typing.get_args(ann):
        if typing.get_origin(arg) is dict:
            continue
        found = _first_model(arg, typing)
        if found is not None:
            return found
    return None


def _dict_value_model(ann: Any, typing: Any) -> Any:
    if typing.get_origin(ann) is dict:
        args = typing.get_args(ann)
        return args[1] if len(args) == 2 else None
    for arg in typing.get_args(ann):
        found = _dict_value_model(arg, typing)
        if found is not None:
            return found
    return None


def raise_for_validation(
    exc: ValidationError,
    doc: LocatedYaml,
    model: type[BaseModel],
    error: type[WorkbenchError],
    hints: dict[str, str] | None = None,
) -> None:
    """Turn every pydantic error into one located message (all of them, not just the first)."""
    lines: list[str] = []
    first_where: str | None = None
    for err in exc.errors():
        keys = tuple(k for k in err["loc"] if isinstance(k, (str, int)))
        # pydantic adds the union member's tag to loc (e.g. 'threshold'); drop the tags
        # that are not keys of the document so positions and names stay the user's
        keys = strip_tags(doc.data, keys)
        where = doc.where(keys)
        first_where = first_where or where
        kind = err["type"]
        name = keys[-1] if keys else ""
        if kind == "extra_forbidden":
            valid = _fields_at(model, keys) or []
            close = difflib.get_close_matches(str(name), valid, n=1)
            msg = f"unknown key '{name}'"
            if close:
                msg += f" (did you mean '{close[0]}'?)"
            if valid:
                msg += f"; valid keys here: {', '.join(valid)}"
        elif kind == "missing":
            msg = f"missing required key '{name}'"
            if hints and str(name) in hints:
                msg += f": {hints[str(name)]}"
        else:
            got = err.get("input")
            shown = repr(got) if not isinstance(got, (dict, list)) else type(got).__name__
            msg = f"{err['msg']} (got {shown})"
        lines.append(f"{where}: {msg}")
    raise error(
        f"{len(lines)} problem(s) in {doc.path}:\n  " + "\n  ".join(lines),
        hint="edit the keys named above; see the README's charter/contract reference for every key",
    ) from exc


def strip_tags(data: Any, keys: KeyPath) -> KeyPath:
    out: list[str | int] = []
    node = data
    for key in keys:
        if isinstance(node, dict):
            if key in node:
                out.append(key)
                node = node[key]
            elif key == keys[-1]:
                out.append(key)  # a missing or extra key: keep it, it is the subject
            # else: a union tag / discriminator name pydantic inserted: skip it
        elif isinstance(node, list) and isinstance(key, int):
            out.append(key)
            node = node[key] if key < len(node) else None
        else:
            out.append(key)
            node = None
    return tuple(out)
