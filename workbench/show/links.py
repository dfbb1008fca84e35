"""Links from a report page to the MLflow UI that work wherever the page is opened.

A page is opened three ways: as a file from ``reports/``, inside the MLflow UI's artifact
preview, and under whatever host and port ``make ui`` serves today. The page carries each
link's path in the UI (``#/experiments/...``) and a small script picks the base when the
page opens:

- ``?mlflow=<url>`` in the page's own address wins (a file opened against another port);
- in the MLflow preview (a sandboxed ``<iframe>`` over a ``blob:`` URL of the UI's origin),
  the UI that shows the page is the base: ``document.referrer`` (origin and path prefix),
  else the origin of the ``blob:`` URL; the report copies beside the scorecard file do not
  exist there, so those links go to the artifact in the UI instead;
- otherwise the base known when the page was written (``fallback``), as a plain ``href``,
  so the page needs no script to work.

The preview's sandbox allows scripts but neither pop-ups nor navigating the top window:
a link clicked there stays in the frame, so the page says to open links in a new tab.
"""

from __future__ import annotations

from .html import Raw, esc

__all__ = ["ui_link", "report_link", "LINKS_SCRIPT", "PREVIEW_NOTE"]


def ui_link(text: str, path: str, fallback: str) -> Raw:
    """A link to ``path`` (a :func:`workbench.store.tracking.ui_path`) in the UI at ``fallback``."""
    return Raw(f'<a data-ui="{esc(path)}" href="{esc(fallback.rstrip("/") + "/" + path)}">{esc(text)}</a>')


def report_link(text: str, local: str, path: str, *, cls: str = "report-link") -> Raw:
    """A link to a report's copy beside this file (``local``); in the preview, to ``path`` in the UI."""
    return Raw(f'<a class="{esc(cls)}" data-ui-preview="{esc(path)}" href="{esc(local)}">{esc(text)}</a>')


# shown only inside the MLflow preview (the script unhides it)
PREVIEW_NOTE = ('<p class="muted wb-preview-note" hidden>Inside the MLflow preview links stay in this frame: '
                'open them in a new tab (middle-click or right-click).</p>')

LINKS_SCRIPT = """<script>
(function () {
  function strip(u) { return u.split('#')[0].split('?')[0].replace(/\\/+$/, ''); }
  var base = null, preview = false;
  try { base = new URLSearchParams(location.search).get('mlflow'); } catch (e) {}
  if (location.protocol === 'blob:') {
    preview = true;
    if (!base) {
      var origin = new URL(location.href.slice(5)).origin;
      var ref = document.referrer || '';
      base = ref.indexOf(origin) === 0 ? strip(ref) : origin;
    }
  } else if (/^https?:$/.test(location.protocol) && /\\/get-artifact$/.test(location.pathname)) {
    preview = true;
    base = base || location.origin + location.pathname.replace(/\\/get-artifact$/, '');
  }
  if (!base) { return; }
  base = strip(base);
  var links = document.querySelectorAll('a[data-ui]');
  for (var i = 0; i < links.length; i++) { links[i].href = base + '/' + links[i].getAttribute('data-ui'); }
  if (!preview) { return; }
  var copies = document.querySelectorAll('a[data-ui-preview]');
  for (var j = 0; j < copies.length; j++) { copies[j].href = base + '/' + copies[j].getAttribute('data-ui-preview'); }
  var notes = document.querySelectorAll('.wb-preview-note');
  for (var k = 0; k < notes.length; k++) { notes[k].hidden = false; }
})();
</script>"""
