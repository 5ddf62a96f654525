"""Where the per-image work runs: the engine choice, the actor plan, and a folder labelled
on a local Ray giving exactly the labels of the local engine."""

import csv
import subprocess
import sys

import numpy as np
import pytest

from helpers import engine as E


def test_the_engine_is_chosen_in_one_place(monkeypatch):
    monkeypatch.delenv("WORKBOOK_ENGINE", raising=False)
    assert E.engine_from() == "local"
    monkeypatch.setenv("WORKBOOK_ENGINE", "ray")
    assert E.engine_from() == "ray" and E.engine_from("local") == "local"
    with pytest.raises(ValueError, match="engine must be one of"):
        E.engine_from("spark")


@pytest.mark.parametrize("cpus", [1, 2, 3, 4, 16, 2.5, 64])
def test_actors_always_leave_a_cpu_for_the_read_tasks(cpus):
    plan = E.ActorPlan.for_cluster(cpus)
    assert plan.actors >= 1
    assert plan.leaves_a_cpu(cpus)
    if cpus == 2:  # this machine: one actor with one CPU, one CPU for reading
        assert (plan.actors, plan.cpus_per_actor) == (1, 1.0)


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _headless(run_dir, root, *more):
    command = [sys.executable, "-m", "helpers", "run", "--profile", "smoke"]
    command += ["--run-dir", str(run_dir), "--data", str(root / "pile")]
    command += ["--examples", str(root / "examples"), "--truth", str(root / "truth.csv"), *more]
    # a pipeline that deadlocks never ends: the timeout turns that into a failure
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_a_local_ray_gives_the_local_engines_labels(pile_folder, tmp_path):
    # the whole workbook twice on a folder with broken files: once here, once with the
    # per-image work on a Ray started with this machine's cores (2 in CI)
    root, paths = pile_folder
    _headless(tmp_path / "local", root)
    _headless(tmp_path / "ray", root, "--engine", "ray")
    ray_run = tmp_path / "ray" / "notebooks" / "03_visualize_latents.ipynb"
    assert "scoring actor(s)" in ray_run.read_text()  # the work did go to Ray
    assert _rows(tmp_path / "ray" / "skipped.csv") == _rows(tmp_path / "local" / "skipped.csv")
    local, ray = _rows(tmp_path / "local" / "labels.csv"), _rows(tmp_path / "ray" / "labels.csv")
    assert len(local) == len(paths) == len(ray)
    scores = ("ssim_loss", "margin")
    for a, b in zip(local, ray, strict=True):
        assert {k: v for k, v in a.items() if k not in scores} == {
            k: v for k, v in b.items() if k not in scores
        }
        for key in scores:
            assert abs(float(a[key]) - float(b[key])) <= 1e-6, (key, a, b)
    codes = [np.load(tmp_path / run / "codes.npz")["codes"] for run in ("local", "ray")]
    np.testing.assert_allclose(codes[0], codes[1], atol=1e-5)


def test_a_ray_started_here_is_shut_down_after_an_error(pile_folder):
    import ray

    from helpers.folders import ImageFormat, list_image_files
    from helpers.model import build_autoencoder

    root, _ = pile_folder
    files, _ = list_image_files(root / "pile")
    _, encoder, decoder = build_autoencoder()
    wrong = np.zeros((2, 9, 9, 1), np.float32)  # targets of another size: scoring fails
    with pytest.raises(Exception):  # noqa: B017 (whatever Ray wraps the error in)
        E.score_files_on_ray(files[:4], encoder, decoder, ImageFormat(), wrong, 1.0)
    assert not ray.is_initialized()
