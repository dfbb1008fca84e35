"""Drafted is not decided: the values `workbench new` guessed that stand for a human judgement.

A drafted value is a line of the charter, or of a contract it names, whose end-of-line
comment starts with ``drafted`` (``baseline:   # drafted: today's rule is the prior``).
The tag is plain YAML comment, so every loader ignores it (nothing is refused for it), it
stays on the line it marks whatever the user does to the value, and it gives file:line
for free. A value is confirmed when a person deletes its tag, by hand or with
``workbench confirm`` (which also appends who confirmed what, and when, to the charter's
``confirmed:`` list, kept in the decision record). A pilot with drafted values left runs
and shows every result, but its outcome is DRAFT, never GO.

Also here: :func:`placeholder`, what never counts as a person to page or to answer for a
decision (TODO, example addresses, generic names).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..files import write_whole
from .yaml_reader import format_keys, load_yaml

__all__ = ["TAG", "DraftedValue", "Confirmation", "find_drafted", "drafted_values", "confirm", "placeholder",
           "how_to_confirm"]

TAG = "drafted"
_TAG = re.compile(r"^#\s*drafted\b[\s:]*(?P<why>.*)$", re.IGNORECASE)


@dataclass(frozen=True)
class DraftedValue:
    """One drafted line: where it is, which key it sets, its text and why it was drafted."""

    file: str  # as shown to people: relative to the working folder when inside it
    line: int  # 1-based
    key: str  # key path, e.g. production.on_call, gates[0] (beats_todays_rule), columns.email.pii
    text: str  # the line without its comment, stripped
    why: str = ""
    block: str = ""  # a block's header line (`baseline:`): what the block holds, on one line ({kind: prior})

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def value(self) -> str:
        """The drafted value as written (the line without its key)."""
        text = self.text.lstrip("- ")
        last = re.split(r"[.\[]", self.key.split(" (")[0])[-1]
        if text.startswith(f"{last}:") or text.startswith(f'"{last}":'):
            text = text.split(":", 1)[1].strip()
        return text or self.block or "(the block below)"

    @property
    def shown(self) -> str:
        """The line, and for a block's header what the block holds: what a person confirms."""
        return f"{self.text} {self.block}" if self.block else self.text

    def line_text(self) -> str:
        return f"{self.where}: {self.key} = {self.value}" + (f" — {self.why}" if self.why else "")

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "key": self.key, "text": self.shown, "why": self.why}


@dataclass(frozen=True)
class Confirmation:
    """A drafted value a person confirmed with `workbench confirm` (who, when, what it said, and
    why it was drafted: the question the person answered, which a reviewer reads beside it)."""

    key: str
    file: str
    text: str
    by: str
    at: str  # ISO 8601, UTC
    why: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "file": self.file, "text": self.text, "by": self.by, "at": self.at,
                **({"why": self.why} if self.why else {})}


# -- reading --------------------------------------------------------------------------------


def _comment_start(line: str) -> int | None:
    """Index of the ``#`` that starts the line's YAML comment (outside quotes), or None."""
    quote: str | None = None
    i = 0
    while i < len(line):
        ch = line[i]
        if quote:
            if ch == quote:
                if quote == "'" and line[i + 1:i + 2] == "'":  # '' escapes a quote in single quotes
                    i += 1
                else:
                    quote = None
            elif ch == "\\" and quote == '"':
                i += 1
        elif ch in "'\"" and (i == 0 or line[i - 1] in " \t:[{,-"):
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return i
        i += 1
    return None


def _tag(line: str) -> tuple[str, str] | None:
    """(text before the comment, why) when the line carries a drafted tag after a value."""
    start = _comment_start(line)
    if start is None:
        return None
    text = line[:start].rstrip()
    found = _TAG.match(line[start:].strip())
    if found is None or not text.strip():  # a whole-line comment documents; it marks nothing
        return None
    return text, found.group("why").strip()


def _keys_by_line(root: Any) -> dict[int, tuple[str | int, ...]]:
    """1-based line -> the shallowest key path that starts on it."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    out: dict[int, tuple[str | int, ...]] = {}
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(root, ())]
    while stack:
        node, path = stack.pop(0)  # breadth first: a parent's line is taken before its children's
        if isinstance(node, CommentedMap):
            for key in node:
                with contextlib.suppress(KeyError, TypeError, AttributeError, IndexError):
                    out.setdefault(node.lc.key(key)[0] + 1, (*path, key))
                stack.append((node[key], (*path, key)))
        elif isinstance(node, CommentedSeq):
            for i, item in enumerate(node):
                with contextlib.suppress(KeyError, TypeError, AttributeError, IndexError):
                    out.setdefault(node.lc.item(i)[0] + 1, (*path, i))
                stack.append((item, (*path, i)))
    return out


def _node(data: Any, keys: tuple[str | int, ...]) -> Any:
    node = data
    for key in keys:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            return None
    return node


_BLOCK_CHARS = 300  # a longer block is cut (the file holds it whole)


def _block(node: Any) -> str:
    """A mapping or list on one line, in YAML's flow style ({kind: prior}); "" for a scalar."""
    import io

    from ruamel.yaml import YAML

    if not isinstance(node, (dict, list)) or not node:
        return ""
    out = YAML(typ="safe", pure=True)
    out.default_flow_style, out.width, out.sort_base_mapping_type_on_output = True, 10**6, False
    buffer = io.StringIO()
    out.dump(json.loads(json.dumps(node, default=str)), buffer)  # plain types: no ruamel comments or tags
    text = buffer.getvalue().strip()
    return text if len(text) <= _BLOCK_CHARS else text[:_BLOCK_CHARS - 1] + "…"


def _label(data: Any, keys: tuple[str | int, ...]) -> str:
    node = _node(data, keys)
    label = format_keys(keys)
    if isinstance(node, dict) and isinstance(node.get("name"), str) and keys and isinstance(keys[-1], int):
        label += f" ({node['name']})"
    return label


def shown(path: Path) -> str:
    """A path as people read it: relative to the working folder when inside it."""
    try:
        return os.path.relpath(path.resolve(), Path.cwd().resolve()) if path.resolve().is_relative_to(
            Path.cwd().resolve()) else str(path)
    except (OSError, ValueError):
        return str(path)


def find_drafted(path: Path | str) -> list[DraftedValue]:
    """Every drafted line of one YAML file (none when it is missing or unreadable: the
    loaders report that; a drafted tag is never a reason to refuse a file)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    tagged = [(n, found) for n, line in enumerate(text.splitlines(), start=1) if (found := _tag(line))]
    if not tagged:
        return []
    try:
        doc = load_yaml(path, ConfigError)
        keys, data = _keys_by_line(doc.root), doc.data
    except ConfigError:
        keys, data = {}, None
    out = []
    for n, (before, why) in tagged:
        key = keys.get(n)
        header = before.rstrip().endswith(":")  # a block's header: its value is on the lines below
        out.append(DraftedValue(shown(path), n, _label(data, key) if key else before.strip().lstrip("- ").split(":")[0],
                                before.strip(), why, _block(_node(data, key)) if key and header else ""))
    return out


def _files(charter: Any) -> list[Path]:
    """The charter and every contract it names, each once."""
    files = [Path(charter.path)]
    for src in charter.sources.values():
        if src.contract is not None:
            path = charter.resolve(src.contract)
            if all(path.resolve() != f.resolve() for f in files):
                files.append(path)
    return files


def drafted_values(charter: Any) -> tuple[DraftedValue, ...]:
    """Every drafted value of a charter and of the contracts it names, in file order."""
    return tuple(v for path in _files(charter) for v in find_drafted(path))


def how_to_confirm(charter_path: Path | str) -> str:
    return (f"check each value; when it is what you mean, delete its `# drafted` comment, or run "
            f"`workbench confirm --pilot {charter_path} KEY ...` (`--all` once you have checked every one), "
            "which records who confirmed what and when")


# -- confirming ----------------------------------------------------------------------------


def _matches(value: DraftedValue, selectors: Sequence[str]) -> bool:
    for sel in selectors:
        bare = value.key.split(" (")[0]
        if sel in (value.key, bare, value.where) or bare.startswith(sel + ".") or bare.startswith(sel + "["):
            return True
        if value.key.endswith(f"({sel})"):  # a gate by its name
            return True
    return False


def confirm(charter: Any, selectors: Sequence[str] = (), *, all_values: bool = False,
            by: str | None = None) -> list[DraftedValue]:
    """Remove the drafted tag of each selected value (a key path such as ``production.on_call``,
    a gate's name, a ``file:line``, or everything with ``all_values``) and append who
    confirmed what, and when, to the charter's ``confirmed:`` list. Returns what was confirmed;
    a selector that matches nothing raises ConfigError (nothing is changed then)."""
    found = drafted_values(charter)
    if all_values:
        chosen = list(found)
    else:
        if not selectors:
            raise ConfigError("name the drafted values to confirm", where="workbench confirm",
                              hint="pass key paths (e.g. baseline production.on_call), or --all once you have "
                              "checked every one; `workbench confirm` with --list shows them")
        unknown = [s for s in selectors if not any(_matches(v, [s]) for v in found)]
        if unknown:
            raise ConfigError(f"no drafted value matches {', '.join(repr(s) for s in unknown)}",
                              where=str(charter.path),
                              hint="drafted now: " + (", ".join(v.key for v in found) or "nothing"))
        chosen = [v for v in found if _matches(v, selectors)]
    if not chosen:
        return []
    who = by or _who()
    at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    by_file: dict[str, set[int]] = {}
    for v in chosen:
        by_file.setdefault(v.file, set()).add(v.line)
    # every file's new text first, then each written whole (a temporary file renamed over it):
    # an interrupt or a full disk leaves a file as it was or as it should be, never cut short.
    # The charter, which logs who confirmed, goes first: a value logged but still tagged stays
    # drafted (the careful side); one untagged but not logged would be confirmed by nobody.
    texts: dict[Path, str] = {}
    for path in _files(charter):
        lines_to_clear = by_file.get(shown(path))
        if not lines_to_clear:
            continue
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        for n in lines_to_clear:
            raw = lines[n - 1]
            end = raw[len(raw.rstrip("\r\n")):]
            tagged = _tag(raw.rstrip("\r\n"))
            if tagged is not None:
                lines[n - 1] = tagged[0] + end
        texts[path] = "".join(lines)
    main = Path(charter.path)
    texts[main] = _logged(texts[main] if main in texts else main.read_text(encoding="utf-8"),
                          [Confirmation(v.key, v.file, v.shown, who, at, v.why) for v in chosen])
    for path in sorted(texts, key=lambda p: p != main):
        _replace(path, texts[path])
    return chosen


def _replace(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole, with its permissions; a failure leaves ``path`` untouched."""
    write_whole(path, text, keep_mode=True)


def _who() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in this environment
        return "unknown"


def _logged(text: str, entries: Iterable[Confirmation]) -> str:
    """The charter's ``text`` with entries appended to its top-level ``confirmed:`` list (the
    rest of the file, comments and layout included, is left as it is)."""
    lines = text.splitlines()
    items = ["  - " + json.dumps(e.to_dict(), ensure_ascii=False) for e in entries]
    head = next((i for i, line in enumerate(lines) if re.match(r"^confirmed\s*:", line)), None)
    if head is None:
        while lines and not lines[-1].strip():
            lines.pop()
        lines += ["", "# Drafted values a person confirmed (`workbench confirm`): kept in the decision record.",
                  "confirmed:", *items]
    else:
        if re.match(r"^confirmed\s*:\s*\[\s*\]\s*(#.*)?$", lines[head]):
            lines[head] = "confirmed:"
        end = head + 1
        while end < len(lines) and (not lines[end].strip() or lines[end][0] in " \t#"):
            end += 1
        while end > head + 1 and not lines[end - 1].strip():
            end -= 1
        lines[end:end] = items
    return "\n".join(lines) + "\n"


# -- placeholders ----------------------------------------------------------------------------

_GENERIC = {"", "owner", "team", "someone", "somebody", "me", "user", "you", "admin", "nobody", "none", "n/a", "na",
            "tbd", "todo", "fixme", "xxx", "x", "name", "your name", "person", "oncall", "on-call", "on_call",
            "on call", "changeme", "change me", "unknown", "test", "example", "placeholder", "anyone", "the team"}
_MARKERS = re.compile(r"\b(TODO|TBD|FIXME|XXX|CHANGEME)\b", re.IGNORECASE)
# RFC 2606 names: example.org/.com/.net and the .example, .invalid, .test top-level domains
_EXAMPLE = re.compile(r"\bexample\.(org|com|net)(?![\w.-])|@example(?![\w-])|\.(example|invalid|test)(?![\w.-])",
                      re.IGNORECASE)


def placeholder(value: Any) -> str | None:
    """Why ``value`` is a placeholder and no real person or team (None: it may be one)."""
    text = "" if value is None else str(value).strip()
    if text.lower().strip("<>[]() ") in _GENERIC:
        return f"{text!r} is empty or generic, not a person or team" if text else "it is empty"
    if _MARKERS.search(text):
        return f"{text!r} is a placeholder ({_MARKERS.search(text).group(0).upper()})"
    if _EXAMPLE.search(text):
        return f"{text!r} is an example address, which reaches nobody"
    return None
