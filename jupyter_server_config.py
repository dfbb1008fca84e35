"""JupyterLab configuration for `make lab`: notebooks are saved without their outputs.

`make lab` puts this folder on JUPYTER_CONFIG_PATH, so the server loads this file. Its
pre-save hook strips what running a notebook adds — outputs, execution counts, widget
state, the kernel's language_info, the kernel's display name as this JupyterLab spells it —
before JupyterLab (and jupytext, for the paired ``.pct.py``) writes the file. Running the
control panel or a step notebook then leaves the repository clean: no ``git_dirty`` pilot
runs, no "Error displaying widget: model not found" after a kernel restart. What you see in
the browser is unchanged; the executed notebooks worth keeping are the ones the pilot
attaches to its MLflow runs.

Set WORKBENCH_KEEP_OUTPUTS=1 to save outputs anyway (e.g. in a notebook of your own
outside the repository).
"""

import os

# notebook metadata that records a session rather than the notebook
_SESSION_METADATA = ("widgets", "language_info")
# JupyterLab writes the running kernel's display name ("Python 3 (ipykernel)"); the committed
# notebooks and their .pct.py pairs name the kernel as nbformat does, so a save changes nothing
_KERNEL_DISPLAY_NAMES = {"python3": "Python 3"}
# cell metadata that records a session (timings, collapsed/scrolled output state)
_SESSION_CELL_METADATA = ("execution", "collapsed", "scrolled")


def strip_outputs(model, **kwargs):  # noqa: ANN001, ANN003, ANN201 - Jupyter's hook signature
    """Pre-save hook: drop outputs, execution counts and session metadata of a notebook."""
    if model.get("type") != "notebook" or os.environ.get("WORKBENCH_KEEP_OUTPUTS") == "1":
        return
    notebook = model.get("content") or {}
    metadata = notebook.get("metadata") or {}
    for key in _SESSION_METADATA:
        metadata.pop(key, None)
    kernelspec = metadata.get("kernelspec") or {}
    if kernelspec.get("name") in _KERNEL_DISPLAY_NAMES:
        kernelspec["display_name"] = _KERNEL_DISPLAY_NAMES[kernelspec["name"]]
    for cell in notebook.get("cells") or []:
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        cell_metadata = cell.get("metadata") or {}
        for key in _SESSION_CELL_METADATA:
            cell_metadata.pop(key, None)


c = get_config()  # noqa: F821 - provided by Jupyter when it loads this file
c.ContentsManager.pre_save_hook = strip_outputs
# JupyterLab's own defaults for this project (jupyterlab_settings/overrides.json): no "Would you
# like to get notified about official Jupyter news?" prompt over the control panel, and no call
# to jupyter.org for news or updates from a workbench session
c.LabApp.app_settings_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "jupyterlab_settings")
