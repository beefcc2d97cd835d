"""End to end in a real browser: JupyterLab started by ``make lab-server`` (the command line of
``make lab``), ``notebooks/01_train.ipynb`` opened in headless Chromium, "Run > Run All Cells",
then the metrics table must appear in the page and a screenshot is saved. And the checkout stays
clean: a git copy of the committed notebooks is served, one stays open for three minutes (through
JupyterLab's autosave) and is saved by hand, then ``git status`` must be clean and the file browser
must list each notebook once.

Needs Chromium and its driver (Debian: ``apt-get install chromium chromium-driver``) and the
``selenium`` package; without them the test is skipped with the reason. ``CHROMIUM`` and
``CHROMEDRIVER`` (full paths) override where they are looked for; on GitHub's runner images the
preinstalled Google Chrome and ``$CHROMEWEBDRIVER/chromedriver`` are used.

The server works on a copy of the notebook in a temporary folder (JupyterLab autosaves, and the
checkout's notebooks must stay stripped) and ``HIMNET_RESULTS`` sends the smoke run's benchmark and
run directory to a temporary folder as well. Run it with ``make test-browser`` or ``pytest -m browser``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from himnet_lib.utils.paths import PROJECT_ROOT, notebooks_dir

pytestmark = pytest.mark.browser

NOTEBOOK = "01_train"
SERVER_START_S = 120
RUN_ALL_S = 600
HOLD_S = 180  # how long the notebook stays open (JupyterLab autosaves changes every 120 s)
CHROME_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
    "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--window-size=1920,1080",
]


def _find(env_var: str, *names: str) -> str | None:
    candidates = [os.environ.get(env_var, "")] + [f"/usr/bin/{n}" for n in names]
    candidates += [shutil.which(n) or "" for n in names]
    if os.environ.get("CHROMEWEBDRIVER"):  # GitHub's runner images: the driver's folder
        candidates += [os.path.join(os.environ["CHROMEWEBDRIVER"], n) for n in names]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _api(base: str, token: str, path: str, method: str = "GET"):
    req = urllib.request.Request(f"{base}{path}", method=method, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        body = r.read()
    return json.loads(body) if body else None


@contextmanager
def _lab_server(tmp_path: Path, nbdir: Path):
    """A JupyterLab server started by ``make lab-server`` on a free port with a known token, serving ``nbdir``."""
    if not shutil.which("make"):
        pytest.skip("make not found (the test starts JupyterLab through `make lab-server`)")
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "HIMNET_RESULTS": str(tmp_path / "results")}
    # VENV: the environment running pytest, so that the server (and its "python3" kernel) is this Python.
    cmd = ["make", "--no-print-directory", "-C", str(PROJECT_ROOT), "lab-server", f"VENV={sys.prefix}",
           f"LAB_PORT={port}", f"LAB_TOKEN={token}", f"LAB_DIR={nbdir}", "LAB_ARGS=--no-browser"]
    log = tmp_path / "lab.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                _api(base, token, "/api/status")
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer within {SERVER_START_S} s:\n{log.read_text()[-3000:]}")
                time.sleep(0.5)
        yield {"base": base, "token": token, "results": tmp_path / "results", "log": log}
    finally:
        try:  # shut the kernels down first: they run in sessions of their own
            for k in _api(base, token, "/api/kernels"):
                _api(base, token, f"/api/kernels/{k['id']}", method="DELETE")
        except OSError:
            pass
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture
def lab(tmp_path):
    """JupyterLab serving a copy of the notebook (JupyterLab autosaves; the checkout's notebooks stay stripped)."""
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    for ext in ("ipynb", "py"):
        shutil.copy(notebooks_dir() / f"{NOTEBOOK}.{ext}", nbdir)
    with _lab_server(tmp_path, nbdir) as server:
        yield server


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def lab_checkout(tmp_path):
    """JupyterLab serving the notebooks of a git checkout: a copy of the committed notebooks, with the
    files that decide how they are saved and tracked (pyproject.toml's jupytext settings, .gitignore)."""
    if not shutil.which("git"):
        pytest.skip("git not found")
    repo = tmp_path / "checkout"
    shutil.copytree(notebooks_dir(), repo / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    for name in ("pyproject.toml", ".gitignore"):
        shutil.copy(PROJECT_ROOT / name, repo)
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "-q", "-m", "notebooks")
    with _lab_server(tmp_path, repo / "notebooks") as server:
        yield {**server, "repo": repo}


@pytest.fixture
def browser(tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
    chromium = _find("CHROMIUM", "chromium", "chromium-browser", "google-chrome")
    driver_path = _find("CHROMEDRIVER", "chromedriver")
    if not chromium or not driver_path:
        pytest.skip(f"headless browser not available (chromium: {chromium}, chromedriver: {driver_path}); "
                    "install chromium and chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROME_FLAGS + [f"--user-data-dir={tmp_path / 'chromium-profile'}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver_path))
    try:
        yield driver
    finally:
        driver.quit()


def _kernel_executables(kernel_ids) -> list[str]:
    """argv[0] of the processes running the given kernels (Linux /proc), [] where unknown."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(f"kernel-{k}.json".encode() in a for a in argv for k in kernel_ids):
            found.append(argv[0].decode())
    return found


def _open_notebook(browser, lab, name: str) -> None:
    """Open ``name``.ipynb in JupyterLab and wait until its kernel is idle."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    # ?reset: start from the default layout, whatever an earlier session left in the workspace
    browser.get(f"{lab['base']}/lab/tree/{name}.ipynb?reset&token={lab['token']}")
    wait = WebDriverWait(browser, SERVER_START_S)
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".jp-NotebookPanel .jp-Cell")))
    # the kernel named by the notebook (python3) has started and is idle (status bar: "Python 3 (ipykernel) | Idle")
    wait.until(ec.presence_of_element_located(
        (By.XPATH, "//div[contains(@class,'jp-StatusBar')]//*[contains(., '| Idle')]")))
    for no in browser.find_elements(By.XPATH, "//button[normalize-space()='No']"):  # the "Jupyter news?" toast
        no.click()


def test_run_all_cells_of_train_notebook_in_jupyterlab(lab, browser, tmp_path):
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    _open_notebook(browser, lab, NOTEBOOK)

    def run_all_cells():
        """Run > Run All Cells (the menu item is disabled until the notebook is the current widget)."""
        WebDriverWait(browser, 30).until(ec.element_to_be_clickable(
            (By.XPATH, "//li[contains(@class,'lm-MenuBar-item')][.//div[normalize-space()='Run']]"))).click()
        item = WebDriverWait(browser, 30).until(ec.element_to_be_clickable(
            (By.XPATH, "//li[contains(@class,'lm-Menu-item')][.//div[normalize-space()='Run All Cells']]")))
        if "lm-mod-disabled" in (item.get_attribute("class") or ""):
            browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
            return False
        item.click()
        return True

    started = "//div[contains(@class,'jp-InputPrompt')][contains(., '[*]') or contains(., '[1]')]"
    for _ in range(5):
        if run_all_cells():
            try:
                WebDriverWait(browser, 30).until(ec.presence_of_element_located((By.XPATH, started)))
                break
            except TimeoutException:
                pass
        time.sleep(2)
    else:
        browser.save_screenshot(str(tmp_path / "not-started.png"))
        pytest.fail(f"Run All Cells did not start the notebook; screenshot {tmp_path / 'not-started.png'}")

    table = "//div[contains(@class,'jp-OutputArea-output')]//table[.//th[contains(., 'fg/bg ACC')]]"
    error = "//div[contains(@class,'jp-OutputArea-output')][contains(., 'Traceback')]"

    def finished(driver):
        if driver.find_elements(By.XPATH, error):
            raise AssertionError("a cell raised:\n" + driver.find_elements(By.XPATH, error)[0].text[-3000:])
        return driver.find_elements(By.XPATH, table)

    try:
        WebDriverWait(browser, RUN_ALL_S, poll_frequency=1).until(finished)
        # the last cells (figures) have run too: the kernel is idle again and every code cell has a count
        WebDriverWait(browser, RUN_ALL_S, poll_frequency=1).until(lambda d: d.find_elements(
            By.CSS_SELECTOR, ".jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status='idle']")
            and not d.find_elements(By.XPATH, "//div[contains(@class,'jp-InputPrompt')][contains(., '[*]')]"))
    except TimeoutException:
        browser.save_screenshot(str(tmp_path / "timeout.png"))
        pytest.fail(f"no metrics table after {RUN_ALL_S} s; screenshot {tmp_path / 'timeout.png'}\n"
                    f"{lab['log'].read_text()[-3000:]}")

    header = browser.find_element(By.XPATH, table).text
    for column in ("AVG (all tIoU)", "fg/bg ACC", "mAP@0.5"):
        assert column in header

    # the notebook ran in this environment: its kernel is the Python running the tests
    kernels = [k["id"] for k in _api(lab["base"], lab["token"], "/api/kernels")]
    exes = _kernel_executables(kernels)
    if Path("/proc/self/cmdline").exists():  # Linux: the kernel process must be found
        assert exes, kernels
        assert all(Path(e).parent == Path(sys.executable).parent for e in exes), (exes, sys.executable)

    # and wrote its run under HIMNET_RESULTS, not into the checkout
    assert list((lab["results"] / "smoke" / "runs").glob("*/metrics.json"))

    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", browser.find_element(By.XPATH, table))
    time.sleep(0.5)
    shot = tmp_path / f"{NOTEBOOK}.png"
    assert browser.save_screenshot(str(shot))
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 20_000, len(data)


def test_open_notebook_leaves_the_checkout_clean(lab_checkout, browser, tmp_path):
    """A notebook open in JupyterLab for HOLD_S (autosave included) and saved by hand leaves ``git status``
    clean, and the file browser lists each notebook once (the .ipynb, not its paired .py)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    repo, lab = lab_checkout["repo"], lab_checkout
    path = repo / "notebooks" / f"{NOTEBOOK}.ipynb"

    def dirty() -> str:
        status = _git(repo, "status", "--porcelain")
        return status and status + _git(repo, "diff", "--stat") + _git(repo, "diff")[:3000]

    _open_notebook(browser, lab, NOTEBOOK)
    opened = path.stat().st_mtime_ns
    deadline = time.monotonic() + HOLD_S
    while time.monotonic() < deadline:
        assert not dirty(), f"the open notebook changed the checkout:\n{dirty()}"
        time.sleep(5)
    # the kernel's language_info made the notebook "changed" for JupyterLab: the autosave did write it
    assert path.stat().st_mtime_ns != opened, f"no autosave within {HOLD_S} s"

    # then File > Save Notebook: the request an autosave sends, whether or not the notebook had changes
    WebDriverWait(browser, 30).until(ec.element_to_be_clickable(
        (By.XPATH, "//li[contains(@class,'lm-MenuBar-item')][.//div[normalize-space()='File']]"))).click()
    WebDriverWait(browser, 30).until(ec.element_to_be_clickable(
        (By.XPATH, "//li[contains(@class,'lm-Menu-item')][.//div[normalize-space()='Save Notebook']]"))).click()
    before = path.stat().st_mtime_ns
    WebDriverWait(browser, 30, poll_frequency=0.5).until(lambda _: path.stat().st_mtime_ns != before)
    time.sleep(1)  # the paired .py is written after the .ipynb
    assert not dirty(), f"saving the notebook changed the checkout:\n{dirty()}"
    # the notebook's kernel runs over IPC (himnet_lib.engine.lab.CheckoutKernelManager): no TCP warning in the
    # server log
    assert "without encryption" not in lab["log"].read_text()

    # the file browser (the notebooks folder) lists each notebook once
    listing = ".jp-FileBrowser .jp-DirListing-item .jp-DirListing-itemText"
    WebDriverWait(browser, 30).until(lambda d: any(
        e.text == f"{NOTEBOOK}.ipynb" for e in d.find_elements(By.CSS_SELECTOR, listing)))
    shown = sorted(e.text for e in browser.find_elements(By.CSS_SELECTOR, listing))
    committed = sorted(p.stem for p in (repo / "notebooks").glob("*.ipynb"))
    assert sorted(Path(n).stem for n in shown) == committed, shown
    assert all(n.endswith(".ipynb") for n in shown), shown
