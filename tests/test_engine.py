"""Where the per-image work runs: the engine choice, the actor plan, and a folder labelled
on a local Ray giving exactly the labels of the local engine."""

import csv
import subprocess
import sys

import numpy as np
import pytest

from helpers.core import engine as E
from helpers.data import read_on_ray as R


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
    done_on_ray = tmp_path / "ray" / "notebooks"  # the work did go to Ray
    assert "Ray: reading" in (done_on_ray / "01_load_data.ipynb").read_text()
    assert "Ray: encoding and scoring" in (done_on_ray / "03_visualize_latents.ipynb").read_text()
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
    # each image described on the Ray actors, as it is here
    assert "scored and described" in (done_on_ray / "03_visualize_latents.ipynb").read_text()
    points = [np.load(tmp_path / run / "description.npz")["points"] for run in ("local", "ray")]
    assert points[0].shape == (len(paths), min(100, len(paths)))
    np.testing.assert_allclose(points[0], points[1], atol=1e-5)


def test_a_ray_started_here_is_shut_down_after_an_error():
    import ray

    from helpers.labelling.scoring import score_images_on_ray
    from helpers.model.autoencoder import build_autoencoder

    _, encoder, decoder = build_autoencoder()
    images = np.zeros((4, 28, 28, 1), np.uint8)
    wrong = np.zeros((2, 9, 9, 1), np.float32)  # targets of another size: scoring fails
    with pytest.raises(Exception):  # noqa: B017 (whatever Ray wraps the error in)
        score_images_on_ray(images, encoder, decoder, wrong, 1.0)
    assert not ray.is_initialized()


@pytest.mark.parametrize("lose_nodes", [False, True], ids=["three nodes", "two nodes lost"])
def test_a_cluster_of_nodes_reads_and_scores_as_here_even_when_nodes_are_lost(
    pile_folder, monkeypatch, capsys, lose_nodes
):
    """A head and two worker nodes, each a raylet of its own with one CPU (Ray's own tool
    for testing many nodes on one machine). With ``lose_nodes`` one worker is removed as
    soon as the first batch of the read arrives, the other as soon as the first batch of
    the scoring does, while the other batches are in flight."""
    import ray
    from ray.cluster_utils import Cluster

    from helpers.data.folders import folder_from_results, list_image_files, read_files
    from helpers.data.images import ImageFormat
    from helpers.labelling.scoring import score_batch, score_images_on_ray
    from helpers.model.autoencoder import build_autoencoder, encode

    root, _ = pile_folder
    files, _ = list_image_files(root / "pile")
    monkeypatch.setattr(E, "BATCH", 8)  # many small batches, spread over the nodes
    _, encoder, decoder = build_autoencoder()
    targets = np.random.default_rng(0).random((5, 28, 28, 1)).astype(np.float32)
    fmt = ImageFormat()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    workers = [cluster.add_node(num_cpus=1) for _ in range(2)]
    to_lose = list(workers) if lose_nodes else []

    def lose_one(_done):  # one worker node at the first batch of each map
        if to_lose and len(to_lose) + lose_one.map == 2:
            cluster.remove_node(to_lose.pop())

    try:
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False)
        lose_one.map = 0
        into = np.zeros((len(files), *fmt.shape), np.uint8)
        results = R.read_files_on_ray(files, fmt, into, cluster.address, lose_one)
        pile = folder_from_results(root / "pile", files, results, into)
        lose_one.map = 1
        codes, similarity, _ = score_images_on_ray(
            pile.images, encoder, decoder, targets, 1.0, cluster.address, lose_one
        )
        assert sum(n["Alive"] for n in ray.nodes()) == (1 if lose_nodes else 3)
    finally:
        ray.shutdown()
        cluster.shutdown()
    said = capsys.readouterr().out
    assert said.count("node(s) lost on the way") == (2 if lose_nodes else 0), said
    here = read_files(root / "pile", files, fmt)
    assert pile.paths == here.paths and pile.skipped == here.skipped and pile.info == here.info
    np.testing.assert_array_equal(pile.images, here.images)
    local_codes = encode(encoder, here.images)
    np.testing.assert_allclose(codes, local_codes, atol=1e-5)
    local_similarity = score_batch(decoder, local_codes, targets, 1.0)
    np.testing.assert_allclose(similarity, local_similarity, atol=1e-5)


def test_actors_read_paths_and_uris_and_refuse_what_is_not_a_file(tmp_path):
    import os

    from helpers.data.images import UnreadableImage

    image = tmp_path / "a b.png"  # a space: URIs quote it
    image.write_bytes(b"\x89PNG not really")
    assert R.read_bytes(str(image)) == image.read_bytes()
    assert R.read_bytes(image.as_uri()) == image.read_bytes()  # file:///.../a%20b.png
    os.mkfifo(tmp_path / "pipe.png")
    for path, reason in [
        (str(tmp_path / "pipe.png"), "not a regular file (a FIFO)"),
        ((tmp_path / "pipe.png").as_uri(), "not a regular file"),
        (str(tmp_path / "gone.png"), "vanished"),
        ((tmp_path / "gone.png").as_uri(), "no such file"),
    ]:
        with pytest.raises(UnreadableImage, match=reason.replace("(", r"\(").replace(")", r"\)")):
            R.read_bytes(path)
