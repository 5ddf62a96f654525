"""The committed notebooks: clean, parameterised, in order; and the headless runner."""

import csv
import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from helpers.run.headless import NOTEBOOKS, notebooks_dir


def _load(name):
    return json.loads((notebooks_dir() / f"{name}.ipynb").read_text())


def test_the_five_notebooks_exist_in_order():
    assert sorted(p.stem for p in notebooks_dir().glob("*.ipynb")) == list(NOTEBOOKS)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_notebook_is_stripped(name):
    nb = _load(name)
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        # nbval fails a notebook on any error, so its checks are assert cells, not outputs
        assert not cell["outputs"], f"{name}: outputs committed in {source[:60]!r}"
        assert cell.get("execution_count") is None, f"{name}: execution count committed"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_first_code_cell_is_tagged_parameters(name):
    code = [c for c in _load(name)["cells"] if c["cell_type"] == "code"]
    assert "parameters" in code[0]["metadata"].get("tags", [])
    assert "PROFILE = None" in "".join(code[0]["source"])


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_parameters_cells_parse_cleanly_for_papermill(name, caplog):
    import papermill

    with caplog.at_level(logging.WARNING, logger="papermill"):
        params = papermill.inspect_notebook(str(notebooks_dir() / f"{name}.ipynb"))
    assert not caplog.records, [r.getMessage() for r in caplog.records]
    assert {"PROFILE", "RUN_DIR", "SEED"} <= set(params)


def test_papermill_injects_parameters(tmp_path):
    import papermill

    out = tmp_path / "01.ipynb"
    papermill.execute_notebook(
        str(notebooks_dir() / "01_load_data.ipynb"),
        str(out),
        parameters={"PROFILE": "smoke", "RUN_DIR": str(tmp_path / "injected")},
        kernel_name="python3",
        cwd=str(notebooks_dir()),
        progress_bar=False,
    )
    cells = nbformat.read(out, as_version=4).cells
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in cells)
    printed = "".join(o.get("text", "") for c in cells for o in c.get("outputs", []))
    assert f"results in {tmp_path / 'injected'}" in printed


@pytest.fixture(scope="module")
def headless_run(tmp_path_factory):
    """One smoke-profile headless run, and what it printed."""
    tmp_path = tmp_path_factory.mktemp("headless")
    command = [sys.executable, "-m", "helpers", "run", "--profile", "smoke"]
    done = subprocess.run(
        command + ["--run-dir", str(tmp_path / "run")], capture_output=True, text=True
    )
    return tmp_path, done


def test_headless_run_writes_notebooks_html_and_labels(headless_run):
    tmp_path, done = headless_run
    assert done.returncode == 0, done.stderr[-3000:]
    # only the lines that matter: no kernel transport or shutdown warnings
    assert not done.stderr.strip(), done.stderr[-3000:]
    assert "done in" in done.stdout and len(done.stdout.splitlines()) == 8
    labels = tmp_path / "run" / "labels.csv"
    for name in NOTEBOOKS:
        assert (tmp_path / "run" / "notebooks" / f"{name}.ipynb").is_file()
        assert (tmp_path / "run" / "notebooks" / f"{name}.html").stat().st_size > 10_000
    # training's progress, one line per epoch in the executed copy (not every bar update)
    trained = nbformat.read(tmp_path / "run" / "notebooks" / "02_train_autoencoder.ipynb", 4)
    printed = "".join(o.get("text", "") for c in trained.cells for o in c.get("outputs", []))
    assert "/step - loss" in printed and printed.count("step") <= 5, printed[-2000:]
    with open(labels) as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 1000  # the smoke profile labels 1,000 test images
    assert list(rows[0])[:6] == ["image", "cluster", "label", "ssim_loss", "accepted", "true_label"]
    assert {r["accepted"] for r in rows} <= {"0", "1"}
    assert not list(Path(tmp_path / "run").glob(".*tmp*"))
    # labels.json says at what threshold, on what basis (no audits yet: a guess), by whom
    record = json.loads((tmp_path / "run" / "labels.json").read_text())
    assert record["by"] == "the workbook" and record["basis"].startswith("guess: 0 of the 30")
    assert record["accepted"] == sum(r["accepted"] == "1" for r in rows)
    # notebook 05 labels as the library does with its defaults
    assert [int(r["label_index"]) for r in rows] == _library_labels(tmp_path / "run").tolist()


def _library_labels(path):
    from helpers.core.config import get_profile
    from helpers.core.run_dir import RunDir
    from helpers.data.description import Description
    from helpers.data.fashion_mnist import choose_examples
    from helpers.data.pile import load_pile
    from helpers.labelling.labels import label_images

    run = RunDir(path)
    scores, described = run.load_arrays("scores.npz"), run.load_arrays("description.npz")
    split = load_pile(get_profile("smoke"))
    idx = choose_examples(split.y_train, 10, seed=0)  # notebook 05's defaults
    describe = Description.from_arrays(described)  # the graph's points, as notebook 03's
    clusters = run.load_arrays("clusters.npz")["clusters"]
    return label_images(
        scores["similarity"],
        split.y_train[idx],
        10,
        described["points"],
        clusters,
        example_codes=describe(split.x_train[idx]),
    ).label


def test_a_review_round_from_the_queue_is_read_by_the_next_run(headless_run):
    tmp_path, done = headless_run
    assert done.returncode == 0, done.stderr[-3000:]
    run = tmp_path / "run"
    command = [sys.executable, "-m", "helpers", "queue", "--run-dir", str(run), "-n", "50"]
    queue = subprocess.run(command, capture_output=True, text=True)
    assert queue.returncode == 0, queue.stderr[-3000:]
    rows = list(csv.DictReader(queue.stdout.splitlines()))
    assert queue.stdout.startswith("image,label,time,audit") and len(rows) == 50
    # no audits yet: the audit round (30) first, then one in five
    audit = [r["audit"] for r in rows]
    assert audit[:30] == ["1"] * 30 and audit.count("1") == 34 and audit[34] == "1"
    with open(run / "labels.csv") as fh:
        before = list(csv.DictReader(fh))
    by_image = {r["image"]: r for r in before}
    truth = {i: r["true_label"] for i, r in by_image.items()}
    assert all(r["label"] == by_image[r["image"]]["label"] for r in rows)  # as labelled
    # a reviewer corrects the labels and appends the rows to reviews.csv
    with open(run / "reviews.csv", "a", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["image", "label", "time", "audit"])
        writer.writerows([r["image"], truth[r["image"]], "", r["audit"]] for r in rows)
    again = subprocess.run(
        [sys.executable, "-m", "helpers", "run", "--profile", "smoke", "--run-dir", str(run)],
        capture_output=True,
        text=True,
    )
    assert again.returncode == 0, again.stderr[-3000:]
    with open(run / "labels.csv") as fh:
        after = list(csv.DictReader(fh))
    reviewed = {r["image"]: r for r in after if r["source"] == "reviewed"}
    assert set(reviewed) == {r["image"] for r in rows}
    assert all(r["label"] == truth[i] and r["accepted"] == "1" for i, r in reviewed.items())
    # the audit round is in: the accepted column rests on a promise now, and keeps it
    record = json.loads((run / "labels.json").read_text())
    assert record["basis"].startswith("promise: 34 audit reviews"), record
    auto = [r for r in after if r["source"] == "auto" and r["accepted"] == "1"]
    if auto:  # the workbook's own accepted labels: no draw under 0.88 (issue 30's floor)
        assert sum(r["label"] == r["true_label"] for r in auto) / len(auto) >= 0.88


def test_a_kernel_that_dies_ends_the_run_at_once_naming_notebook_and_cell(tmp_path):
    from nbformat.v4 import new_code_cell, new_notebook

    from helpers.core.run_dir import RunDir
    from helpers.run.headless import NotebookFailed, execute_notebook

    cells = ["x = 1", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", "x = 2"]
    path = tmp_path / "dies.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell(c) for c in cells]), path)
    start = time.time()
    with pytest.raises(NotebookFailed) as failed:
        execute_notebook(path, RunDir(tmp_path / "run"), timeout=600)
    assert time.time() - start < 60  # seconds, not the cell timeout
    assert "dies: the kernel died in cell 1 (killed by SIGKILL, likely out of memory)" in str(
        failed.value
    )
    kept = nbformat.read(tmp_path / "run" / "notebooks" / "dies.ipynb", as_version=4)
    assert kept.cells[0].execution_count == 1 and kept.cells[2].execution_count is None
