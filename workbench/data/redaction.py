"""Where a personal-data value found in a text is withheld, and where it is left alone.

:func:`workbench.data.warehouse.redact` finds which of a text's words are values of a
column marked ``pii: true``; this module decides which occurrences are the value itself.
A value is withheld where it stands as a whole value or a whole word. It is never withheld
inside a name: part of an identifier, a path or a file name (``pilot.yaml``,
``pilots/x``, ``warehouse_path``, ``session.pilot``), a JSON key (``"pilot":``), or a name
being assigned (``warehouse = ...``, ``pilot=...``). A value that is also a word of the
project's own vocabulary (the words of the workbench's code and notebooks, the warehouse's
table and column names) is withheld only where it stands alone as a value: a table cell,
a quoted string, a line or a whole text; in prose ("the pilot's baseline", "Score
distribution") it is the project's word, not the person's.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Collection, Iterable, Sequence
from pathlib import Path

__all__ = ["withhold", "project_vocabulary", "value_kind", "values_kind", "PATTERNS", "WITHHELD"]

WITHHELD = "[personal data]"
_NAME_CHAR = re.compile(r"[\w/\\\-@]")  # a neighbour that makes the match part of a name or path
_WORD = re.compile(r"[A-Za-z][A-Za-z]{2,}")
# what stands on either side of a whole value: a cell, a quoted string, a line, a field
_CELL_LEFT = ("\n", "\t", ">", "'", '"', "|", ",", "  ", "[", "(")
_CELL_RIGHT = ("\n", "\t", "<", "'", '"', "|", ",", "  ", "]", ")")


# what the phone pattern also matches but is no phone number: a date (2024-01-15, 15.01.2024,
# 2024/01/15 13), an IPv4 address, a version or a decimal of dotted groups; a phone number has
# at least nine digits (a national number with its area code), which none of these reach or keep
_NOT_PHONE = re.compile(r"\d{4}([-/.])\d{1,2}\1\d{1,2}(?:[ ]\d+)?|\d{1,2}([-/.])\d{1,2}\2\d{4}(?:[ ]\d+)?"
                        r"|\d{1,3}(?:\.\d{1,3}){3}")
_PHONE_DIGITS = 9


def _phone(text: str) -> bool:
    if sum(c.isdigit() for c in text) < _PHONE_DIGITS or _NOT_PHONE.fullmatch(text):
        return False
    # a version (3.1-20221030-2, 0.14.0.20230218): dots beside dashes, or a dotted group of five
    # digits or more; a phone number written with dots has short groups (01.23.45.67.89)
    return not ("." in text and ("-" in text or any(len(g) >= 5 for g in re.split(r"\D+", text))))


# personal data found by its look, in a text (an LLM's prompt) or as a whole value (`workbench new`):
# (kind, pattern, accept: None, or a test a match must pass to be withheld)
PATTERNS: tuple[tuple[str, re.Pattern[str], Callable[[str], bool] | None], ...] = (
    ("email", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), None),
    ("iban", re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b"), None),
    ("card", re.compile(r"\b\d{4}(?:[ -]?\d{4}){3}\b|\b\d{4}[ -]?\d{6}[ -]?\d{5}\b"), None),
    ("phone", re.compile(r"(?<![\w.])\+?\d[\d ()./-]{7,}\d(?![\w.])"), _phone),
)


_KIND_NAMES = {"email": "email addresses", "iban": "IBANs", "card": "card numbers", "phone": "phone numbers"}


def value_kind(value: str) -> str | None:
    """The kind of personal data (a ``PATTERNS`` kind) ``value`` is as a whole, else None. A
    phone number needs its international ``+`` or an area code in brackets here: as a whole
    value, digits in dashed groups (2024-0001-17) or bare (0000012345) are as often a code."""
    value = value.strip()
    for kind, pattern, accept in PATTERNS:
        if kind == "phone":
            number = value[1:] if value.startswith("(") else value  # (555) 123-4567
            if value[:1] in ("+", "(") and pattern.fullmatch(number) and accept is not None and accept(number):
                return kind
        elif pattern.fullmatch(value) and (accept is None or accept(value)) and (kind != "card" or _luhn(value)):
            return kind
    return None


def values_kind(values: Sequence[object], share: float = 0.8) -> str | None:
    """What ``values`` are ("email addresses", "phone numbers", ...) when at least ``share`` of
    them are one kind of personal data as a whole (:func:`value_kind`; a value that is no text is
    none), else None: a column's, for `workbench new` and the profile."""
    from collections import Counter

    kinds = Counter(value_kind(v) for v in values if isinstance(v, str))
    kinds.pop(None, None)
    if not kinds:
        return None
    kind, count = kinds.most_common(1)[0]
    return _KIND_NAMES[kind] if count >= share * len(values) else None


def _luhn(number: str) -> bool:
    """The check digit of a card number holds (a 16-digit code passes one time in ten)."""
    digits = [int(c) for c in number if c.isdigit()][::-1]
    return sum(d if i % 2 == 0 else (2 * d - 9 if d > 4 else 2 * d) for i, d in enumerate(digits)) % 10 == 0


@functools.cache
def _package_words() -> frozenset[str]:
    """Every word of the workbench's own code and shipped notebooks, lower-cased."""
    root = Path(__file__).resolve().parent.parent
    words: set[str] = set()
    files = list(root.rglob("*.py")) + list((root.parent / "notebooks").glob("*.pct.py"))
    for path in files:
        try:
            words.update(w.lower() for w in _WORD.findall(path.read_text(encoding="utf-8", errors="replace")))
        except OSError:
            continue
    return frozenset(words)


def project_vocabulary(names: Iterable[str] = ()) -> frozenset[str]:
    """The project's words (lower-cased): the package's and ``names`` (tables, columns,
    metrics, steps) with their parts."""
    extra: set[str] = set()
    for name in names:
        extra.add(name.lower())
        extra.update(w.lower() for w in _WORD.findall(name))
    return _package_words() | extra


def _is_name(text: str, start: int, end: int) -> bool:
    before = text[start - 1] if start else ""
    after = text[end] if end < len(text) else ""
    if before and (_NAME_CHAR.match(before) or before == "." and start > 1 and text[start - 2].isalnum()):
        return True
    if after and (_NAME_CHAR.match(after) or after == "." and end + 1 < len(text) and text[end + 1].isalnum()):
        return True
    rest = text[end:end + 40]
    if before == '"' and re.match(r'"\s*:', rest):  # a JSON key
        return True
    line_start = text.rfind("\n", 0, start) + 1
    if not text[line_start:start].strip() and re.match(r"\s*(=(?!=)|:\s)", rest):  # `name = ...`, `name: ...`
        return True
    return bool(re.match(r"=(?!=)", rest))  # a keyword argument or a parameter: `pilot=...`


def _stands_alone(text: str, start: int, end: int) -> bool:
    left_ok = start == 0 or text[:start].endswith(_CELL_LEFT)
    right_ok = end == len(text) or text[end:].startswith(_CELL_RIGHT)
    if left_ok and right_ok:
        return True
    # a cell at the end of a printed table row, or a value after a label: `title: pilot`
    return left_ok and text[end:end + 1] in ("", "\n") or text[max(0, start - 2):start] == ": " and right_ok


def withhold(texts: Sequence[str], found: Collection[str], *, vocabulary: Collection[str] = frozenset(),
             names: bool = False) -> list[str]:
    """``texts`` with each whole occurrence of a ``found`` value replaced by ``[personal data]``.

    ``names``: the texts are names and labels (a figure's title, axis labels, legend), where
    a vocabulary word is never withheld."""
    if not found:
        return list(texts)
    ordered = sorted(found, key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(f) for f in ordered))
    vocab = {v.lower() for v in vocabulary}

    def one(text: str) -> str:
        out: list[str] = []
        pos = 0
        for m in pattern.finditer(text):
            value = m.group(0)
            start, end = m.span()
            if _is_name(text, start, end):
                continue
            if value.lower() in vocab and (names or not _stands_alone(text, start, end)):
                continue
            out.append(text[pos:start])
            out.append(WITHHELD)
            pos = end
        out.append(text[pos:])
        return "".join(out)

    return [one(t) if t else t for t in texts]
