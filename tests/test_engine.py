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
def test_actors_take_the_cpus_since_they_read_their_own_files(cpus):
    plan = E.ActorPlan.for_cluster(cpus)
    assert plan.actors >= 1 and plan.actors * plan.cpus_per_actor <= cpus
    if cpus >= 2:  # no read task needs a CPU: one actor per CPU
        assert (plan.actors, plan.cpus_per_actor) == (int(cpus), 1.0)


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


def _local_scores(files, encoder, decoder, fmt, targets, max_val):
    """What the local engine computes for the same files: codes and SSIM of those that read."""
    from helpers.folders import UnreadableImage, read_image
    from helpers.model import encode
    from helpers.scoring import score_batch

    images, paths, skipped = [], [], []
    for path in files:
        try:
            images.append(read_image(path, fmt)[0])
            paths.append(str(path))
        except UnreadableImage as err:
            skipped.append((str(path), str(err)))
    codes = encode(encoder, np.stack(images))
    return paths, codes, score_batch(decoder, codes, targets, max_val), skipped


@pytest.mark.parametrize("lose_a_node", [False, True], ids=["two nodes", "a node lost"])
def test_a_two_node_cluster_gives_the_local_scores_even_when_a_node_is_lost(
    pile_folder, monkeypatch, lose_a_node
):
    """A head and a worker node, each a raylet of its own with one CPU (Ray's own tool for
    testing many nodes on one machine); with ``lose_a_node`` the worker is removed as soon
    as the first batch of results arrives, while the other batches are in flight."""
    import ray
    from ray.cluster_utils import Cluster

    from helpers.folders import ImageFormat, list_image_files
    from helpers.model import build_autoencoder

    root, _ = pile_folder
    files, _ = list_image_files(root / "pile")
    monkeypatch.setattr(E, "BATCH", 8)  # many small batches, spread over both nodes
    _, encoder, decoder = build_autoencoder()
    targets = np.random.default_rng(0).random((5, 28, 28, 1)).astype(np.float32)
    fmt = ImageFormat()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        worker = cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False)
        lost = []

        def first_batch_in(_done):
            if lose_a_node and not lost:
                cluster.remove_node(worker)
                lost.append(True)

        scores = E.score_files_on_ray(
            files, encoder, decoder, fmt, targets, 1.0, cluster.address, first_batch_in
        )
        assert len(ray.nodes()) == 2 and sum(n["Alive"] for n in ray.nodes()) == (
            1 if lose_a_node else 2
        )
    finally:
        ray.shutdown()
        cluster.shutdown()
    paths, codes, similarity, skipped = _local_scores(files, encoder, decoder, fmt, targets, 1.0)
    assert scores.paths == paths and sorted(scores.skipped) == sorted(skipped)
    np.testing.assert_allclose(scores.codes, codes, atol=1e-5)
    np.testing.assert_allclose(scores.similarity, similarity, atol=1e-5)


def test_actors_read_paths_and_uris_and_refuse_what_is_not_a_file(tmp_path):
    import os

    from helpers.folders import UnreadableImage

    image = tmp_path / "a b.png"  # a space: URIs quote it
    image.write_bytes(b"\x89PNG not really")
    assert E.read_bytes(str(image)) == image.read_bytes()
    assert E.read_bytes(image.as_uri()) == image.read_bytes()  # file:///.../a%20b.png
    os.mkfifo(tmp_path / "pipe.png")
    for path, reason in [
        (str(tmp_path / "pipe.png"), "not a regular file (a FIFO)"),
        ((tmp_path / "pipe.png").as_uri(), "not a regular file"),
        (str(tmp_path / "gone.png"), "vanished"),
        ((tmp_path / "gone.png").as_uri(), "no such file"),
    ]:
        with pytest.raises(UnreadableImage, match=reason.replace("(", r"\(").replace(")", r"\)")):
            E.read_bytes(path)
