"""The contents manager of ``make lab`` (himnet_lib.engine.lab): saving a notebook the way JupyterLab does
after opening it (its kernel's ``language_info`` added) leaves the checkout's files byte-identical,
through jupytext's pairing as the server extension sets it up; each notebook is listed once.
tests/test_browser.py checks the same in a real JupyterLab."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

pytest.importorskip("jupyter_server")
lab = pytest.importorskip("himnet_lib.engine.lab")

from himnet_lib.utils.paths import notebooks_dir  # noqa: E402

LANGUAGE_INFO = {"codemirror_mode": {"name": "ipython", "version": 3}, "file_extension": ".py",
                 "mimetype": "text/x-python", "name": "python", "nbconvert_exporter": "python",
                 "pygments_lexer": "ipython3", "version": "3.11.99"}
PY = "# ---\n# jupyter:\n#   jupytext:\n#     text_representation:\n#       jupytext_version: {}\n# ---\n\n" \
     "# %%\n# jupytext_version: {}\nx = 1\n"


def test_listed_once():
    names = ["01_a.ipynb", "01_a.py", "02_b.py", "03_c.ipynb", "notes.txt", "01_a.md"]
    kept = [e["name"] for e in lab.listed_once([{"name": n} for n in names])]
    assert kept == ["01_a.ipynb", "02_b.py", "03_c.ipynb", "notes.txt", "01_a.md"]


def test_keep_language_info():
    nb = {"metadata": {"kernelspec": {"name": "python3"}, "language_info": dict(LANGUAGE_INFO)}}
    lab.keep_language_info(nb, {"metadata": {"kernelspec": {"name": "python3"}}})
    assert nb == {"metadata": {"kernelspec": {"name": "python3"}}}
    nb = {"metadata": {"language_info": dict(LANGUAGE_INFO)}}
    lab.keep_language_info(nb, {"metadata": {"language_info": {"name": "python", "version": "3.11.7"}}})
    assert nb == {"metadata": {"language_info": {"name": "python", "version": "3.11.7"}}}
    nb = {"metadata": {}}
    lab.keep_language_info(nb, {"metadata": {}})
    assert nb == {"metadata": {}}


def test_keep_jupytext_version():
    new, old = PY.format("1.20.0", "2.0"), PY.format("1.16.4", "3.0")
    # the header's line is the file's; the same words in a cell are the cell's
    assert lab.keep_jupytext_version(new, old) == PY.format("1.16.4", "2.0")
    assert lab.keep_jupytext_version(new, "x = 1\n") == new
    assert lab.keep_jupytext_version("x = 2\n", old) == "x = 2\n"


@pytest.fixture
def checkout(tmp_path) -> Path:
    for name in ("01_train.ipynb", "01_train.py"):
        shutil.copy(notebooks_dir() / name, tmp_path)
    (tmp_path / "notes.py").write_text("x = 1\n")
    return tmp_path


def _manager(root: Path):
    jupytext_cm = pytest.importorskip("jupytext.async_contentsmanager")
    # what jupytext's server extension does with the configured contents manager class
    cls = jupytext_cm.build_async_jupytext_contents_manager_class(lab.CheckoutContentsManager)
    return cls(root_dir=str(root))


def test_opened_and_saved_notebook_is_unchanged(checkout):
    before = {p.name: p.read_bytes() for p in checkout.iterdir()}

    async def open_and_save():
        cm = _manager(checkout)
        model = await cm.get("01_train.ipynb")
        assert "language_info" not in model["content"]["metadata"]
        model["content"]["metadata"]["language_info"] = dict(LANGUAGE_INFO)  # what Lab adds from its kernel
        await cm.save({"type": "notebook", "format": "json", "content": model["content"]}, "01_train.ipynb")

    asyncio.run(open_and_save())
    after = {p.name: p.read_bytes() for p in checkout.iterdir() if p.is_file()}
    assert after == before


def test_saved_notebook_keeps_a_language_info_it_has(checkout):
    import nbformat

    path = checkout / "01_train.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.metadata["language_info"] = {"name": "python", "version": "3.11.7"}
    nbformat.write(nb, path)

    async def open_and_save():
        cm = _manager(checkout)
        model = await cm.get("01_train.ipynb")
        model["content"]["metadata"]["language_info"] = dict(LANGUAGE_INFO)
        await cm.save({"type": "notebook", "format": "json", "content": model["content"]}, "01_train.ipynb")

    asyncio.run(open_and_save())
    assert nbformat.read(path, as_version=4).metadata["language_info"] == {"name": "python", "version": "3.11.7"}


def test_paired_py_keeps_its_jupytext_version(checkout):
    path = checkout / "01_train.py"
    committed = path.read_text()
    assert "jupytext_version: " in committed
    older = "\n".join("#       jupytext_version: 1.16.0" if line.startswith("#       jupytext_version: ") else line
                      for line in committed.split("\n"))
    assert older != committed
    path.write_text(older)

    async def open_and_save():
        cm = _manager(checkout)
        model = await cm.get("01_train.ipynb")
        await cm.save({"type": "notebook", "format": "json", "content": model["content"]}, "01_train.ipynb")

    asyncio.run(open_and_save())
    assert path.read_text() == older


def test_folder_lists_each_notebook_once(checkout):
    async def listing():
        return await _manager(checkout).get("")

    names = sorted(e["name"] for e in asyncio.run(listing())["content"])
    assert names == ["01_train.ipynb", "notes.py"]


def test_lab_kernels_use_private_sockets(tmp_path):
    from himnet_lib.engine import kernels

    if not kernels.ipc_available():
        pytest.skip("no Unix sockets on this platform")
    connection_file = str(tmp_path / "kernel-1234.json")  # where the server puts it (its runtime folder)
    km = lab.CheckoutKernelManager(connection_file=connection_file, kernel_name="python3")
    assert km.transport == "ipc" and km.connection_file == connection_file
    folder = Path(km.ip).parent
    assert folder.is_dir() and folder != tmp_path and Path(km.ip).name == kernels.SOCKET_NAME
