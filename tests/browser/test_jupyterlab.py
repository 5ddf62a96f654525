"""The workbook in a real JupyterLab, driven by a real (headless) Chromium, as a person
uses it.

nbval executes the notebooks but never draws a widget. This test starts JupyterLab on a
free loopback port with a throwaway token and no run directory in its environment. In
notebook 01 it sets the run directory in the parameters cell (the only place it is set)
and runs it, then runs notebooks 02, 03 and 04 in turn: each follows the run notebook 01
set up. In notebook 05 (smoke profile) it moves the threshold slider with the keyboard and
checks that the count follows; clicks one image in the gallery and gives it another
class; reviews two more by keyboard (a class key, then ``c`` to confirm); saves
labels.csv; restarts the kernel and runs the notebook again, and sees the reviews still
applied, the slider at the threshold it saved and labels.csv as it saved it.
Screenshots land in tests/browser/output/.
"""

from __future__ import annotations

import csv
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = Path(__file__).resolve().parent / "output"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SERVER_START_S = 90
NOTEBOOK_RUN_S = int(os.environ.get("BROWSER_TEST_NOTEBOOK_S", "420"))


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name) or (
            f"/usr/bin/{name}" if os.path.exists(f"/usr/bin/{name}") else None
        )
        if path:
            return path
    reason = "Chromium not found: install Debian's package (apt-get install -y chromium)"
    if os.environ.get("CI"):
        pytest.fail(reason)  # CI installs it (.ci/run): a missing browser there is a failure
    pytest.skip(reason + " to run the browser test")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory):
    """A JupyterLab server on loopback; always shut down, even when the test fails."""
    _chromium()  # no browser: skip (or fail under CI) before starting a server
    port, token = _free_port(), secrets.token_hex(16)
    home = tmp_path_factory.mktemp("jupyter-home")
    # Serve a copy: JupyterLab autosaves, and the committed notebooks must stay stripped.
    served = tmp_path_factory.mktemp("lab-root")
    run_dir = tmp_path_factory.mktemp("run")
    shutil.copytree(ROOT / "notebooks", served / "notebooks")
    log_path = tmp_path_factory.mktemp("jupyter-log") / "server.log"
    env = {
        **os.environ,
        # BROWSER_TEST_PROFILE=full makes the README's screenshot with the shipped weights.
        "WORKBOOK_PROFILE": os.environ.get("BROWSER_TEST_PROFILE", "smoke"),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
    }
    cmd = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={served}",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ]
    env.pop("WORKBOOK_RUN_DIR", None)  # notebook 01's parameter says where, nothing else
    if os.geteuid() == 0:  # CI runs as root in a throwaway machine
        cmd.append("--allow-root")
    log = open(log_path, "w")
    proc = subprocess.Popen(
        cmd, cwd=served, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + SERVER_START_S
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"JupyterLab exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}"
                )
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if time.time() > deadline:
                    pytest.fail(
                        f"JupyterLab did not answer within {SERVER_START_S} s:\n"
                        f"{log_path.read_text()[-3000:]}"
                    )
                time.sleep(0.5)
        yield base, token, run_dir
    finally:
        _stop(proc)
        log.close()


def _stop(proc: subprocess.Popen) -> None:
    """Stop the server and everything it started (kernels), whatever state it is in."""
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _run_all_cells(page) -> None:
    """Run > Run All Cells once the kernel is idle; again if no cell starts (a click that
    lands while the kernel session is still connecting is dropped)."""
    _wait_idle(page)
    for _attempt in range(3):
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        try:
            page.wait_for_function(
                "() => [...document.querySelectorAll('.jp-InputArea-prompt')]"
                ".some(p => /\\[(\\*|\\d+)\\]/.test(p.innerText))",
                timeout=30_000,
            )
            return
        except Exception:
            continue
    pytest.fail("JupyterLab did not start running the notebook's cells")


_CURRENT = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook in view


def _open(context, base: str, token: str, name: str, before=None):
    """A new browser tab with one notebook alone (a reset workspace: no tab of an earlier
    one); ``before``, the tab it replaces, is closed without JupyterLab's unload prompt."""
    if before is not None:
        before.close(run_before_unload=False)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{base}/lab/tree/notebooks/{name}.ipynb?reset&token={token}")
    page.wait_for_selector(f"{_CURRENT} .jp-Cell", timeout=90_000)
    _dismiss_news_popup(page)
    return page


def _set_parameter(page, line: str) -> None:
    """Type ``line`` at the end of the parameters cell, as a person sets a parameter."""
    editor = page.locator(f"{_CURRENT} .jp-CodeCell").first.locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.press("Enter")
    page.keyboard.type(line)
    page.keyboard.press("Escape")  # back to command mode


def _run_to_the_end(page, name: str) -> str:
    """Run every cell and wait until the last has run; no error. Returns what it printed."""
    _run_all_cells(page)
    page.wait_for_function(
        f"() => {{ const p = [...document.querySelectorAll('{_CURRENT} .jp-InputArea-prompt')]"
        ".map(e => e.innerText).filter(t => t.trim()); "
        "return p.length && !p.some(t => t.includes('*')) && /\\d/.test(p[p.length - 1]); }",
        timeout=NOTEBOOK_RUN_S * 1000,
    )
    # JupyterLab draws only the cells in view: back to the top, where the setup cell is
    page.locator(f"{_CURRENT} .jp-WindowedPanel-outer").evaluate("e => { e.scrollTop = 0; }")
    page.wait_for_timeout(1000)
    printed = "\n".join(page.locator(f"{_CURRENT} .jp-OutputArea-output").all_inner_texts())
    assert "Traceback" not in printed, f"{name}: {printed[-3000:]}"
    return printed


def _set_up_and_run_01_to_04(context, base: str, token: str, run_dir: Path):
    """The run directory set in notebook 01's parameters only; 02-04 follow it. Returns
    the last tab."""
    page = _open(context, base, token, "01_load_data")
    _set_parameter(page, f"RUN_DIR = {str(run_dir)!r}")
    printed = _run_to_the_end(page, "01_load_data")
    assert f"results in {run_dir}" in printed, printed[-2000:]
    assert (run_dir / "inputs.json").is_file()
    page.screenshot(path=str(OUTPUT / "01_done.png"), full_page=False)
    for name in ("02_train_autoencoder", "03_visualize_latents", "04_cluster"):
        page = _open(context, base, token, name, before=page)
        printed = _run_to_the_end(page, name)
        assert f"results in {run_dir} (the run notebook 01 set up last" in printed, (
            name,
            printed[-2000:],
        )
        page.screenshot(path=str(OUTPUT / f"{name[:2]}_done.png"), full_page=False)
    assert (run_dir / "clusters.npz").is_file()
    return page


def _dismiss_news_popup(page) -> None:
    """Answer JupyterLab's "notified about news?" toast so it does not cover the widget."""
    try:
        page.get_by_role("button", name="No", exact=True).click(timeout=10_000)
    except Exception:
        pass  # not shown this time


def _wait_idle(page, timeout_ms: int = 90_000) -> None:
    page.wait_for_function("() => /\\|\\s*Idle/.test(document.body.innerText)", timeout=timeout_ms)


def _explorer_state(page) -> str:
    """What the explorer shows: its summary and every picture and caption in the gallery."""
    return page.evaluate(
        "() => document.querySelector('.threshold-summary')?.innerText + '|' + "
        "[...document.querySelectorAll('.threshold-gallery img, .gallery-pick')]"
        ".map(e => e.src || e.innerText).join(',')"
    )


def _wait_settled(page, tries: int = 60) -> None:
    """Idle, and the explorer unchanged over a second and a half: the last of a burst of
    slider updates has been drawn (the kernel can look idle between two of them)."""
    for _ in range(tries):
        _wait_idle(page)
        state = _explorer_state(page)
        page.wait_for_timeout(1500)
        if _is_idle(page) and _explorer_state(page) == state:
            return
    pytest.fail("the threshold explorer kept changing after the slider stopped")


def _is_idle(page) -> bool:
    return page.evaluate("() => /\\|\\s*Idle/.test(document.body.innerText)")


def _summary_count(page) -> int:
    text = page.locator(".threshold-summary").inner_text()
    return int(re.match(r"\s*(\d+) of", text).group(1))


def _review_by_keyboard(page, run_dir: Path) -> None:
    """With the mouse over the gallery: an arrow moves the cursor to the second image, the
    first class's key gives it that class and moves on, ``c`` confirms the next image's
    class and moves on too; reviews.csv has both, and the notebook itself is untouched
    (JupyterLab's own keys, such as 1 for a heading or c for copy, did not fire)."""
    cells_before = page.locator(".jp-Notebook .jp-Cell").count()
    code_before = page.locator(".jp-Notebook .jp-CodeCell").count()
    first_class = page.locator(".review-class").first.inner_text().split(" · key ")[0]
    page.locator(".threshold-gallery").hover()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("1")
    page.wait_for_function(
        "() => document.querySelector('.threshold-summary')?.innerText.includes('2 reviewed')",
        timeout=60_000,
    )
    third = page.locator(".threshold-gallery .gallery-pick").nth(2)
    shown = re.match(r"(.+?): ([^,(]+)", third.get_attribute("title")).group(2).strip()
    page.keyboard.press("c")
    page.wait_for_function(
        "() => document.querySelector('.threshold-summary')?.innerText.includes('3 reviewed')",
        timeout=60_000,
    )
    page.screenshot(path=str(OUTPUT / "05_keyboard.png"), full_page=False)
    with open(run_dir / "reviews.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert len(rows) == 4 and rows[2][1] == first_class and rows[3][1] == shown, rows
    # the cursor (the blue frame) moved on to the fourth image
    frames = page.locator(".threshold-gallery .gallery-pick").evaluate_all(
        "picks => picks.map(p => getComputedStyle(p).borderTopColor)"
    )
    cursor = "rgb(25, 118, 210)"  # the explorer's #1976d2
    assert frames[3] == cursor and frames.count(cursor) == 1, frames[:5]
    assert "since the last relabel" in page.locator(".threshold-summary").inner_text()
    assert page.locator(".jp-Notebook .jp-Cell").count() == cells_before
    assert page.locator(".jp-Notebook .jp-CodeCell").count() == code_before


def _save_labels(page, run_dir: Path) -> tuple[str, bytes]:
    """Press *save labels.csv*: labels.csv and its record say the person saved it, at the
    slider's threshold. Returns that threshold as the slider shows it, and the file."""
    readout = page.locator(".threshold-slider .widget-readout").inner_text().strip()
    page.locator(".labels-save").click()
    page.wait_for_function(
        "() => document.querySelector('.labels-save-state')?.innerText"
        ".includes('holds what is shown (saved by you)')",
        timeout=60_000,
    )
    record = json.loads((run_dir / "labels.json").read_text())
    assert record["by"] == "you" and f"{record['threshold']:.4f}" == readout, (record, readout)
    return readout, (run_dir / "labels.csv").read_bytes()


def _review_save_and_restart(page, run_dir: Path) -> None:
    """Click the first image of the gallery, give it another class, see it saved; review
    two more by keyboard; save labels.csv; restart the kernel, run everything again, and
    see the reviews still applied, the slider where it was saved, labels.csv untouched."""
    pick = page.locator(".threshold-gallery .gallery-pick").first
    pick.scroll_into_view_if_needed()
    shown = pick.get_attribute("title")  # "17: Sandal" (the image's id in labels.csv)
    image, shown_class = re.match(r"(.+?): ([^,(]+)", shown).groups()
    pick.click()
    other = page.locator(".review-class").filter(has_not_text=shown_class.strip()).first
    given = other.inner_text().strip().split(" · key ")[0]
    other.click()
    page.wait_for_function(
        "() => document.querySelector('.review-status')?.innerText.includes('reviews.csv')"
    )
    page.screenshot(path=str(OUTPUT / "05_reviewed.png"), full_page=False)
    with open(run_dir / "reviews.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["image", "label", "time", "audit"] and len(rows) == 2, rows
    assert rows[1][1] == given, (rows, given)
    image_id = rows[1][0]
    assert "1 reviewed" in page.locator(".threshold-summary").inner_text()
    _review_by_keyboard(page, run_dir)
    threshold, saved = _save_labels(page, run_dir)

    # mark this explorer, so the wait below sees the one drawn after the restart
    page.evaluate("() => document.querySelector('.threshold-summary').dataset.old = '1'")
    page.get_by_role("menuitem", name="Kernel", exact=True).click()
    page.get_by_role("menuitem", name=re.compile("Restart Kernel and Run All Cells")).click()
    page.get_by_role("button", name="Confirm Kernel Restart").or_(
        page.get_by_role("button", name="Restart", exact=True)
    ).first.click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.threshold-summary')]"
        ".some(e => !e.dataset.old && e.innerText.includes('3 reviewed'))",
        timeout=NOTEBOOK_RUN_S * 1000,
    )
    # the slider starts where the person saved it, and says why
    slider = page.locator(".threshold-slider").last
    assert slider.locator(".widget-readout").inner_text().strip() == threshold
    # the last cell leaves the person's labels.csv as it is, and says so
    page.wait_for_function(
        "() => /holds what you saved|already holds these labels/.test(document.body.innerText)",
        timeout=NOTEBOOK_RUN_S * 1000,
    )
    assert (run_dir / "labels.csv").read_bytes() == saved
    with open(run_dir / "labels.csv", newline="") as fh:
        row = next(r for r in csv.DictReader(fh) if r["image"] == image_id)
    assert (row["label"], row["source"], row["accepted"]) == (given, "reviewed", "1"), row
    assert image  # the gallery's caption named the image reviewed


def test_threshold_slider_in_jupyterlab(jupyterlab, tmp_path):
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    base, token, run_dir = jupyterlab
    OUTPUT.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        try:
            context = pw.chromium.launch_persistent_context(
                str(tmp_path / "chromium-profile"),
                executable_path=_chromium(),
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": 1400, "height": 1000},
                timeout=60_000,
            )
        except PlaywrightError as err:
            pytest.fail(f"Chromium did not start: {err}")
        try:
            page = _set_up_and_run_01_to_04(context, base, token, run_dir)
            page = _open(context, base, token, "05_label_with_ssim", before=page)
            _run_all_cells(page)

            slider = page.locator(".threshold-slider")
            slider.wait_for(state="visible", timeout=NOTEBOOK_RUN_S * 1000)
            page.wait_for_function(
                "() => document.querySelector('.threshold-summary')?.innerText.includes('accepted')"
            )
            page.locator(".threshold-gallery .gallery-pick").first.wait_for(state="visible")

            outputs = page.locator(".jp-OutputArea-output").all_inner_texts()
            joined = "\n".join(outputs)
            assert "Error displaying widget" not in joined
            assert "VBox(children=" not in joined, "the widget is shown as its text repr"
            assert "Traceback" not in joined, joined[-2000:]
            assert page.locator("[data-mime-type='application/vnd.jupyter.error']").count() == 0

            # the slider at the top of the view, the summary and the gallery under it
            slider.evaluate("element => element.scrollIntoView({block: 'start'})")
            page.screenshot(path=str(OUTPUT / "05_before.png"), full_page=False)
            before_count = _summary_count(page)
            before_readout = float(slider.locator(".widget-readout").inner_text())

            handle = slider.locator(".noUi-handle")
            handle.focus()
            for _ in range(20):  # each press loosens the margin threshold one step
                page.keyboard.press("ArrowLeft")
            page.wait_for_function(
                f"() => !document.querySelector('.threshold-summary').innerText"
                f".startsWith('{before_count} of')",
                timeout=60_000,
            )
            _wait_settled(page)  # every key press has been handled by the kernel
            after_count = _summary_count(page)
            page.screenshot(path=str(OUTPUT / "05_after.png"), full_page=False)
            assert after_count > before_count, (before_count, after_count)
            readout = float(slider.locator(".widget-readout").inner_text())
            assert readout < before_readout, (before_readout, readout)
            # the summary speaks of the threshold the slider shows
            assert f"{readout:.4f}" in page.locator(".threshold-summary").inner_text()
            _review_save_and_restart(page, run_dir)
        except BaseException:
            for k, tab in enumerate(context.pages):  # whichever notebook it stopped in
                if tab.url != "about:blank":
                    tab.screenshot(path=str(OUTPUT / f"failure-{k}.png"), full_page=True)
            raise
        finally:
            context.close()
