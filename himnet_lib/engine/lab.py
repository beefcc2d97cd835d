"""The contents manager of ``make lab`` (set by ``jupyter/jupyter_server_config.json``): opening and
autosaving a notebook of the checkout leaves ``git status`` clean, and each notebook is listed once.

* JupyterLab writes the kernel's ``language_info`` (the Python version included) into a notebook
  when its kernel connects, and autosaves it: a save keeps the ``language_info`` the file has on
  disk (none, for the committed notebooks).
* jupytext writes its own version into the header of the paired ``.py``: a save keeps the
  ``jupytext_version`` line the file has on disk.
* a ``.py`` beside a ``.ipynb`` of the same name (the jupytext pair) is left out of folder
  listings; it is still written with its notebook and opens by its path.

jupytext's server extension derives its contents manager from this one, so the pairing works as
before. The kernels run over IPC, as the study's (``himnet_lib.engine.kernels``). Used by the Jupyter
server only (needs ``jupyter_server``, from the ``lab`` extra).
"""

from __future__ import annotations

import re
from typing import Any

from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from jupyter_server.services.kernels.kernelmanager import ServerKernelManager
from tornado.web import HTTPError

from himnet_lib.engine.kernels import use_private_sockets

_HEADER = re.compile(r"# ---\n.*?\n# ---\n", re.S)  # jupytext's YAML header of a py:percent file
_VERSION_LINE = re.compile(r"^#\s+jupytext_version: .*$", re.M)


def listed_once(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A folder listing without the ``.py`` files that have a ``.ipynb`` of the same name beside them."""
    notebooks = {e["name"][: -len(".ipynb")] for e in entries if e["name"].endswith(".ipynb")}
    return [e for e in entries if not (e["name"].endswith(".py") and e["name"][: -len(".py")] in notebooks)]


def keep_language_info(notebook: dict[str, Any], on_disk: dict[str, Any]) -> None:
    """Give ``notebook`` (a notebook's JSON, changed in place) the ``metadata.language_info`` of
    ``on_disk``, or none where ``on_disk`` has none."""
    metadata = notebook.setdefault("metadata", {})
    old = on_disk.get("metadata", {}).get("language_info")
    if old is None:
        metadata.pop("language_info", None)
    else:
        metadata["language_info"] = old


def keep_jupytext_version(text: str, on_disk: str) -> str:
    """``text`` (a py:percent file) with the ``jupytext_version`` header line of ``on_disk``."""
    new_header, old_header = _HEADER.match(text), _HEADER.match(on_disk)
    if not new_header or not old_header:
        return text
    new, old = _VERSION_LINE.search(new_header.group(0)), _VERSION_LINE.search(old_header.group(0))
    if not new or not old:
        return text
    return text[: new.start()] + old.group(0) + text[new.end():]


class CheckoutContentsManager(AsyncLargeFileManager):
    """JupyterLab's default contents manager, with the save and listing rules of this module."""

    async def get(self, path, content=True, type=None, format=None, require_hash=False):
        # require_hash only where asked: jupyter_server before 2.11 does not take it
        extra = {"require_hash": True} if require_hash else {}
        model = await super().get(path, content=content, type=type, format=format, **extra)
        if model["type"] == "directory" and model.get("content") is not None:
            model["content"] = listed_once(model["content"])
        return model

    async def save(self, model: dict[str, Any], path: str = "") -> dict[str, Any]:
        kind = model.get("type")
        if model.get("content") is not None and "chunk" not in model and kind in ("notebook", "file") \
                and await self.file_exists(path):
            try:
                if kind == "notebook":
                    keep_language_info(model["content"], (await super().get(path, type="notebook"))["content"])
                elif path.endswith(".py") and model.get("format") == "text":
                    on_disk = (await super().get(path, type="file", format="text"))["content"]
                    model["content"] = keep_jupytext_version(model["content"], on_disk)
            except (HTTPError, OSError, ValueError):
                pass  # an unreadable file on disk: it is replaced by what Lab sends, unchanged
        return await super().save(model, path)


class CheckoutKernelManager(ServerKernelManager):
    """JupyterLab's kernel manager, its kernel on Unix sockets in a private folder (``himnet_lib.engine.kernels``);
    the connection file stays where the server puts it (its runtime folder)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        use_private_sockets(self)
