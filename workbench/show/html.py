"""Small building blocks for the self-contained HTML reports (profile, evaluation).

No dependency and no external asset: pages carry their CSS inline and draw charts as
inline SVG, so a report opens from a file, from the MLflow artifact viewer, or inside the
scorecard (an ``<iframe srcdoc>``) the same way. Every text is escaped; numbers pass
through :mod:`workbench.formatting`.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .. import formatting as fmt

__all__ = ["Raw", "esc", "page", "table", "histogram", "bars", "lines", "confusion", "scatter", "badge",
           "GOOD", "BAD", "WARN", "BLUE", "ORANGE", "GREY"]

GOOD, BAD, WARN, BLUE, ORANGE, GREY = "#1a7f37", "#cf222e", "#9a6700", "#4c72b0", "#dd8452", "#8c959f"

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d232a;background:#f6f7f9}
main{max-width:1180px;margin:0 auto;padding:20px 24px}
h1{font-size:21px;margin:0 0 4px}h2{font-size:17px;margin:24px 0 8px;border-bottom:1px solid #d8dde3;padding-bottom:4px}
h3{font-size:14px;margin:14px 0 6px}
section,.card{background:#fff;border:1px solid #e1e5ea;border-radius:6px;padding:10px 14px;margin-bottom:12px}
table{border-collapse:collapse;margin:6px 0;font-size:13px}
th,td{padding:3px 9px;border-bottom:1px solid #eceff2;text-align:left;vertical-align:top}
th{background:#f0f2f5;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.muted{color:#6b7480}.good{color:#1a7f37;font-weight:600}.bad{color:#cf222e;font-weight:600}
.warn{color:#9a6700;font-weight:600}
.badge{display:inline-block;padding:0 7px;border-radius:9px;color:#fff;font-size:12px;font-weight:600}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(270px,1fr));gap:10px}
.cols{display:flex;flex-wrap:wrap;gap:14px;align-items:flex-start}
code{font:12px ui-monospace,Menlo,Consolas,monospace;background:#f0f2f5;padding:1px 4px;border-radius:3px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:1px 12px;margin:4px 0;font-size:13px}
dt{color:#6b7480}dd{margin:0}
svg{display:block}svg text{font:10px system-ui,sans-serif;fill:#57606a}
tr.regress td{background:#fde2df}tr.improve td{background:#dcf5e3}
"""


class Raw(str):
    """HTML built from escaped parts: inserted as is."""


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def page(title: str, body: str, *, css: str = "") -> str:
    """A complete, self-contained HTML document."""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width\"><title>{esc(title)}</title>"
            f"<style>{CSS}{css}</style></head><body><main>{body}</main></body></html>\n")


def badge(text: str, colour: str) -> Raw:
    return Raw(f'<span class="badge" style="background:{colour}">{esc(text)}</span>')


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, row_class: Sequence[str] | None = None,
          formats: Sequence[Callable[[Any], str] | None] | None = None) -> str:
    """An HTML table. A cell that is :class:`Raw` goes in as is; a number is formatted
    (``formats[j]`` for column ``j``, else :func:`formatting.number`) and right-aligned."""
    out = ["<table><thead><tr>", *(f"<th>{esc(h)}</th>" for h in headers), "</tr></thead><tbody>"]
    for i, row in enumerate(rows):
        cls = f' class="{esc(row_class[i])}"' if row_class and i < len(row_class) and row_class[i] else ""
        out.append(f"<tr{cls}>")
        for j, cell in enumerate(row):
            if isinstance(cell, Raw):
                out.append(f"<td>{cell}</td>")
                continue
            f = formats[j] if formats and j < len(formats) else None
            if f is not None and (cell is None or isinstance(cell, (int, float))):
                out.append(f'<td class="num">{esc(f(cell))}</td>')
            elif cell is None or (isinstance(cell, (int, float)) and not isinstance(cell, bool)):
                out.append(f'<td class="num">{esc(fmt.number(cell))}</td>')
            else:
                out.append(f"<td>{esc(cell)}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


# -- SVG charts ---------------------------------------------------------------------------------


def _svg(width: int, height: int, body: str, label: str) -> Raw:
    return Raw(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
               f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(label)}"><title>{esc(label)}</title>'
               f"{body}</svg>")


def _finite(values: Iterable[Any]) -> list[float]:
    out = []
    for v in values:
        try:
            f = float(v)
        except (TypeError, ValueError):
            continue
        if math.isfinite(f):
            out.append(f)
    return out


def histogram(counts: Sequence[float], *, reference: Sequence[float] | None = None, left: str = "",
              right: str = "", width: int = 250, height: int = 84, colour: str = BLUE, label: str = "histogram") -> Raw:
    """Bars of ``counts`` (equal width) as shares of their total; ``reference`` (the same
    bins of an earlier run) drawn as a grey outline on the same scale; ``left``/``right``
    label the ends of the axis."""
    n = len(counts)
    if n == 0:
        return _svg(width, height, f'<text x="4" y="{height // 2}">no values</text>', label)
    total = sum(counts) or 1
    shares = [c / total for c in counts]
    ref_shares = None
    if reference is not None and len(reference) == n and sum(reference):
        ref_total = sum(reference)
        ref_shares = [c / ref_total for c in reference]
    top = max([*shares, *(ref_shares or [])]) or 1
    plot_h = height - 16
    bar_w = width / n
    parts = []
    for i, s in enumerate(shares):
        h = plot_h * s / top
        parts.append(f'<rect x="{i * bar_w + 0.5:.1f}" y="{plot_h - h:.1f}" width="{max(bar_w - 1, 0.5):.1f}" '
                     f'height="{h:.1f}" fill="{colour}" opacity="0.85"><title>{esc(fmt.percent(s))}</title></rect>')
    if ref_shares is not None:
        path = []
        for i, s in enumerate(ref_shares):
            y = plot_h - plot_h * s / top
            path.append(f"{'M' if i == 0 else 'L'}{i * bar_w:.1f},{y:.1f} L{(i + 1) * bar_w:.1f},{y:.1f}")
        parts.append(f'<path d="{" ".join(path)}" fill="none" stroke="#444" stroke-width="1.2" '
                     f'stroke-dasharray="3,2"><title>previous run</title></path>')
    parts.append(f'<line x1="0" y1="{plot_h}" x2="{width}" y2="{plot_h}" stroke="#d0d7de"/>')
    if left:
        parts.append(f'<text x="0" y="{height - 3}">{esc(left)}</text>')
    if right:
        parts.append(f'<text x="{width}" y="{height - 3}" text-anchor="end">{esc(right)}</text>')
    return _svg(width, height, "".join(parts), label)


def bars(items: Sequence[tuple[str, float]], *, reference: dict[str, float] | None = None, total: float | None = None,
         width: int = 250, bar_h: int = 13, colour: str = BLUE, label: str = "top values") -> Raw:
    """Horizontal bars (label, count), longest first, with each bar's share of ``total``;
    ``reference`` (label -> share in an earlier run) as a tick on each bar."""
    if not items:
        return _svg(width, 20, '<text x="4" y="14">no values</text>', label)
    total = total or sum(c for _, c in items) or 1
    text_w = 78
    plot_w = width - text_w - 44
    top = max(c for _, c in items) / total or 1
    parts = []
    for i, (name, count) in enumerate(items):
        y = i * (bar_h + 3)
        share = count / total
        w = plot_w * share / top
        shown = name if len(name) <= 12 else name[:11] + "…"
        parts.append(f'<text x="{text_w - 4}" y="{y + bar_h - 3}" text-anchor="end">{esc(shown)}</text>'
                     f'<rect x="{text_w}" y="{y}" width="{max(w, 1):.1f}" height="{bar_h}" fill="{colour}" '
                     'opacity="0.85">'
                     f"<title>{esc(name)}: {esc(fmt.integer(count))} ({esc(fmt.percent(share))})</title></rect>"
                     f'<text x="{text_w + max(w, 1) + 3:.1f}" y="{y + bar_h - 3}">{esc(fmt.percent(share))}</text>')
        if reference is not None and name in reference:
            x = text_w + plot_w * reference[name] / top
            parts.append(f'<line x1="{x:.1f}" y1="{y - 1}" x2="{x:.1f}" y2="{y + bar_h + 1}" stroke="#222" '
                         f'stroke-width="2"><title>previous run: {esc(fmt.percent(reference[name]))}</title></line>')
    height = len(items) * (bar_h + 3)
    return _svg(width, height, "".join(parts), label)


def _degenerate(lo: float, hi: float) -> bool:
    """Whether [lo, hi] is too narrow to draw: empty, or narrower than the floats' resolution
    there (a constant prediction summed in another order: 29.950000000000003 and 29.95).
    Relative to the values, so a range of tiny values (costs of 1e-10 $) still draws."""
    return not hi - lo > 1e-9 * max(abs(lo), abs(hi))


def _widened(lo: float, hi: float) -> tuple[float, float]:
    """An axis range around a (nearly) single value: half a unit, or a millionth of it, each side."""
    if not _degenerate(lo, hi):
        return lo, hi
    pad = max(0.5, 1e-6 * max(abs(lo), abs(hi)))
    return lo - pad, hi + pad


def _ticks(lo: float, hi: float, n: int = 4) -> list[float]:
    if _degenerate(lo, hi):
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=raw)
    start = math.ceil(lo / step) * step
    # a step counted from the start, not added up: a step below a float's resolution cannot stall it
    return [round(start + i * step, 12) for i in range(int((hi + step * 1e-9 - start) // step) + 1)]


def lines(series: Sequence[tuple[str, Sequence[float], Sequence[float], str, str]], *,
          xlim: tuple[float, float] | None = None, ylim: tuple[float, float] | None = None, xlabel: str = "",
          ylabel: str = "", diagonal: bool = False, hline: float | None = None, width: int = 330, height: int = 260,
          label: str = "chart", markers: bool = False, tick_format: Callable[[float], str] = fmt.number,
          dots: tuple[Sequence[float], Sequence[float]] | None = None,
          xtick_format: Callable[[float], str] | None = None) -> Raw:
    """Line chart. ``series``: (name, xs, ys, colour, dash) — dash ``""`` for solid, ``"points"``
    for markers without a line.
    ``diagonal`` draws y = x (dotted), ``hline`` a dotted horizontal line, ``dots`` a light
    scatter of (xs, ys). ``tick_format`` formats the ticks of both axes unless ``xtick_format``
    is given for the x axis; a series named ``""`` gets no legend entry."""
    pad_l, pad_r, pad_t, pad_b = 42, 10, 10, 34
    xs_all = _finite([*(x for s in series for x in s[1]), *(dots[0] if dots else ())])
    ys_all = _finite([*(y for s in series for y in s[2]), *(dots[1] if dots else ())])
    x0, x1 = xlim or ((min(xs_all), max(xs_all)) if xs_all else (0.0, 1.0))
    y0, y1 = ylim or ((min(ys_all + ([hline] if hline is not None else [])),
                       max(ys_all + ([hline] if hline is not None else []))) if ys_all else (0.0, 1.0))
    x0, x1 = _widened(x0, x1)
    y0, y1 = _widened(y0, y1)
    pw, ph = width - pad_l - pad_r, height - pad_t - pad_b

    def X(v: float) -> float:  # noqa: N802
        return pad_l + pw * (v - x0) / (x1 - x0)

    def Y(v: float) -> float:  # noqa: N802
        return pad_t + ph * (1 - (v - y0) / (y1 - y0))

    parts = [f'<rect x="{pad_l}" y="{pad_t}" width="{pw}" height="{ph}" fill="#fff" stroke="#d0d7de"/>']
    for t in _ticks(x0, x1):
        parts.append(f'<line x1="{X(t):.1f}" y1="{pad_t}" x2="{X(t):.1f}" y2="{pad_t + ph}" stroke="#eef1f4"/>'
                     f'<text x="{X(t):.1f}" y="{pad_t + ph + 12}" text-anchor="middle">'
                     f"{esc((xtick_format or tick_format)(t))}</text>")
    for t in _ticks(y0, y1):
        parts.append(f'<line x1="{pad_l}" y1="{Y(t):.1f}" x2="{pad_l + pw}" y2="{Y(t):.1f}" stroke="#eef1f4"/>'
                     f'<text x="{pad_l - 4}" y="{Y(t) + 3:.1f}" text-anchor="end">{esc(tick_format(t))}</text>')
    if diagonal:
        lo, hi = max(x0, y0), min(x1, y1)
        parts.append(f'<line x1="{X(lo):.1f}" y1="{Y(lo):.1f}" x2="{X(hi):.1f}" y2="{Y(hi):.1f}" stroke="{GREY}" '
                     'stroke-dasharray="2,3"/>')
    if hline is not None:
        parts.append(f'<line x1="{pad_l}" y1="{Y(hline):.1f}" x2="{pad_l + pw}" y2="{Y(hline):.1f}" stroke="{GREY}" '
                     'stroke-dasharray="2,3"/>')
    if dots is not None:
        parts.extend(f'<circle cx="{X(x):.1f}" cy="{Y(y):.1f}" r="1.6" fill="{BLUE}" opacity="0.35"/>'
                     for x, y in zip(_finite(dots[0]), _finite(dots[1])))
    legend = []
    for i, (name, xs, ys, colour, dash) in enumerate(series):
        pts = [(X(x), Y(y)) for x, y in zip(xs, ys) if x is not None and y is not None
               and math.isfinite(float(x)) and math.isfinite(float(y))]
        if not pts:
            continue
        if dash == "points":  # operating points only (a rule with one cut): no line between them
            parts.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4.5" fill="{colour}">'
                         f"<title>{esc(name)}</title></circle>" for x, y in pts)
            legend.append(f'<circle cx="{pad_l + 17}" cy="{pad_t + 10 + 13 * i}" r="4" fill="{colour}"/>'
                          f'<text x="{pad_l + 30}" y="{pad_t + 13 + 13 * i}">{esc(name)}</text>')
            continue
        d = " ".join(f"{'M' if j == 0 else 'L'}{x:.1f},{y:.1f}" for j, (x, y) in enumerate(pts))
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="1.8"{dash_attr}>'
                     f"<title>{esc(name)}</title></path>")
        if markers:
            parts.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}"/>' for x, y in pts)
        if not name:
            continue
        legend.append(f'<line x1="{pad_l + 8}" y1="{pad_t + 10 + 13 * i}" x2="{pad_l + 26}" y2="{pad_t + 10 + 13 * i}" '
                      f'stroke="{colour}" stroke-width="2"{dash_attr}/>'
                      f'<text x="{pad_l + 30}" y="{pad_t + 13 + 13 * i}">'
                      f"{esc(name)}</text>")
    parts.extend(legend)
    parts.append(f'<text x="{pad_l + pw / 2:.1f}" y="{height - 4}" text-anchor="middle">{esc(xlabel)}</text>'
                 f'<text x="10" y="{pad_t + ph / 2:.1f}" text-anchor="middle" transform="rotate(-90 10 '
                 f'{pad_t + ph / 2:.1f})">{esc(ylabel)}</text>')
    return _svg(width, height, "".join(parts), label)


def scatter(xs: Sequence[float], ys: Sequence[float], *, xlabel: str = "", ylabel: str = "", hline: float | None = 0.0,
            width: int = 330, height: int = 260, label: str = "scatter") -> Raw:
    """A light scatter (a sample of points) with an optional dotted horizontal line."""
    return lines([], xlabel=xlabel, ylabel=ylabel, hline=hline, width=width, height=height, label=label,
                 dots=(xs, ys))


def _fit(text: str, chars: int) -> str:
    """``text`` cut to ``chars`` characters (an ellipsis at the cut)."""
    return text if len(text) <= chars else text[:max(1, chars - 1)] + "…"


def confusion(matrix: Sequence[Sequence[int]], *, threshold: float | None = None, width: int = 260,
              label: str = "confusion matrix", class_names: tuple[str, str] = ("−", "+")) -> Raw:
    """A 2 x 2 confusion matrix ``[[tn, fp], [fn, tp]]``: counts (rows), share of the actual
    class, darker for more rows. Class names too long for their place are cut with an
    ellipsis (the whole name in the label's tooltip), so labels never overlap."""
    (tn, fp), (fn, tp) = matrix
    cells = [[tn, fp], [fn, tp]]
    biggest = max(tn, fp, fn, tp) or 1
    cw, ch, left, top = (width - 80) / 2, 52, 80, 18
    col_chars, row_chars = int(cw / 6.2), int((left - 8) / 6.2)  # ~6 px a character at 10 px

    def text(x: float, y: float, anchor: str, words: str, chars: int) -> str:
        return (f'<text x="{x:.0f}" y="{y:.0f}" text-anchor="{anchor}"><title>{esc(words)}</title>'
                f"{esc(_fit(words, chars))}</text>")

    neg, pos = (str(c) for c in class_names)
    parts = [text(left + cw / 2, 12, "middle", f"predicted {neg}", col_chars),
             text(left + 1.5 * cw, 12, "middle", f"predicted {pos}", col_chars),
             text(left - 6, top + ch / 2 + 3, "end", f"actual {neg}", row_chars),
             text(left - 6, top + 1.5 * ch + 3, "end", f"actual {pos}", row_chars)]
    for i in range(2):
        row_total = sum(cells[i]) or 1
        for j in range(2):
            v = cells[i][j]
            shade = 0.12 + 0.78 * v / biggest
            text_colour = "#fff" if shade > 0.55 else "#1d232a"
            x, y = left + j * cw, top + i * ch
            parts.append(f'<rect x="{x:.1f}" y="{y}" width="{cw - 2:.1f}" height="{ch - 2}" fill="{BLUE}" '
                         f'opacity="{shade:.2f}"/>'
                         f'<text x="{x + cw / 2:.1f}" y="{y + ch / 2 - 2}" text-anchor="middle" '
                         f'style="font-size:13px;fill:{text_colour};font-weight:600">{esc(fmt.integer(v))}</text>'
                         f'<text x="{x + cw / 2:.1f}" y="{y + ch / 2 + 12}" text-anchor="middle" '
                         f'style="fill:{text_colour}">{esc(fmt.percent(v / row_total))} of actual</text>')
    title = label if threshold is None else f"{label} at threshold {fmt.number(threshold)} (rows)"
    return _svg(width, top + 2 * ch + 4, "".join(parts), title)
