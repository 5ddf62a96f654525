"""The workbook on a folder of images: inputs, examples, truth, staleness, sorting, CLI."""

import csv
import subprocess
import sys

import numpy as np
import pytest

from helpers.core.config import get_profile
from helpers.core.run_dir import RunDir
from helpers.data.inputs import Inputs, read_examples
from helpers.run.weights import get_autoencoder
from helpers.run.workflow import get_codes, setup
from tests import piles
from tests.piles import FOLDER_NAMES


@pytest.fixture(scope="module")
def folder(pile_folder):
    return pile_folder


def _inputs(root, **more):
    return {"data": str(root / "pile"), "examples": str(root / "examples"), **more}


def test_setup_reads_the_pile_lists_skipped_files_and_records_the_inputs(
    folder, tmp_path, monkeypatch, capsys
):
    root, paths = folder
    monkeypatch.delenv("WORKBOOK_RUN_DIR", raising=False)
    _, run, split = setup(
        "smoke", tmp_path / "run", follow_run=False, **_inputs(root, truth=str(root / "truth.csv"))
    )
    assert split.x_test.shape == (60, 28, 28, 1) and split.x_train is split.x_test
    assert sorted(split.test_ids.tolist()) == sorted(paths)
    assert split.class_names == tuple(sorted(FOLDER_NAMES))
    assert (split.y_test >= 0).all() and len(split.examples.labels) == 30
    with open(run / "skipped.csv", newline="") as fh:
        skipped = list(csv.DictReader(fh))
    assert {r["path"] for r in skipped} == {
        f"broken/{n}" for n in ("empty.png", "truncated.jpg", "text.png", "huge.png", "unknown.tif")
    }
    assert all(r["reason"] for r in skipped)
    assert run.load_json("inputs.json")["data"] == str(root / "pile")
    # a later notebook, given nothing, follows what notebook 01 recorded
    _, _, again = setup("smoke", tmp_path / "run")
    assert again.inputs == split.inputs and again.made_from == split.made_from
    # and, given no run directory either, the run notebook 01 set up, saying so
    capsys.readouterr()
    _, followed, again = setup("smoke")
    assert followed.path == run.path and again.inputs == split.inputs
    assert "the run notebook 01 set up last" in capsys.readouterr().out


def test_example_folders_must_name_two_classes_with_readable_images(folder, tmp_path):
    root, _ = folder
    from helpers.data.folders import read_folder
    from helpers.data.images import ImageFormat

    pile = read_folder(root / "pile")
    (tmp_path / "one" / "boots").mkdir(parents=True)
    with pytest.raises(ValueError, match=f"{tmp_path / 'one'}.*at least two"):
        read_examples(tmp_path / "one", pile, ImageFormat())
    (tmp_path / "one" / "bags").mkdir()
    (tmp_path / "one" / "bags" / "broken.png").write_bytes(b"")
    with pytest.raises(ValueError, match="bags.*no readable example"):
        read_examples(tmp_path / "one", pile, ImageFormat())
    with pytest.raises(FileNotFoundError, match="nowhere"):
        read_examples(tmp_path / "nowhere", pile, ImageFormat())


def test_examples_from_a_csv_name_images_of_the_pile(folder, tmp_path):
    root, paths = folder
    from helpers.data.folders import read_folder
    from helpers.data.images import ImageFormat

    pile = read_folder(root / "pile")
    (tmp_path / "ex.csv").write_text(
        f"path,label\n{paths[0]},shoe\n{paths[1]},bag\n"
        f"{root / 'pile' / paths[2]},bag\nmissing.png,bag\n"
    )
    examples = read_examples(tmp_path / "ex.csv", pile, ImageFormat())
    assert examples.class_names == ("bag", "shoe") and examples.labels.tolist() == [1, 0, 0]
    assert [pile.paths[i] for i in examples.in_pile] == paths[:3]
    assert examples.skipped == [
        ("missing.png", "named in ex.csv but not a readable image of the pile")
    ]


def test_inputs_check_themselves():
    with pytest.raises(ValueError, match="needs EXAMPLES"):
        Inputs(data="somewhere")
    with pytest.raises(ValueError, match="go with a DATA folder"):
        Inputs(examples="somewhere")


def test_another_pile_or_a_new_file_never_reuses_codes(folder, tmp_path, fashion_mnist):
    root, _ = folder
    run_dir = tmp_path / "run"
    smoke = get_profile("smoke")

    def codes_for(**inputs):
        profile, run, split = setup("smoke", run_dir, follow_run=False, **inputs)
        ae, enc, _, info = get_autoencoder(run, smoke, split, verbose=0)
        return split, get_codes(run, enc, split), info

    split, first, info = codes_for(**_inputs(root))
    assert len(first["codes"]) == 60 and info["source"].startswith("trained")
    (run_dir / "reviews.csv").write_text("image,label,time\n")  # the person's work on it
    _, again, info = codes_for(**_inputs(root))
    assert str(again["made_from"]) == str(first["made_from"]) and info["source"].startswith(
        "reused"
    )
    # another folder: a copy of the pile with three images fewer
    import shutil

    other = tmp_path / "other"
    shutil.copytree(root / "pile", other, ignore=shutil.ignore_patterns("loop"))
    for rel in split.test_ids[:3]:
        (other / rel).unlink()
    _, fewer, info = codes_for(data=str(other), examples=str(root / "examples"))
    assert len(fewer["codes"]) == 57 and info["source"].startswith("trained")
    (kept,) = (run_dir / "earlier").iterdir()  # the first pile's results, set aside whole
    assert kept.name.startswith("pile-") and (kept / "reviews.csv").is_file()
    assert (kept / "autoencoder.weights.h5").is_file() and (kept / "codes.npz").is_file()
    assert not (run_dir / "reviews.csv").exists()
    # one file added to that folder
    (_, _), (x_test, _) = fashion_mnist
    piles.write_good_images(other / "new", x_test[100:101])
    _, more, _ = codes_for(data=str(other), examples=str(root / "examples"))
    assert len(more["codes"]) == 58 and str(more["made_from"]) != str(fewer["made_from"])


def test_sorting_into_class_folders_never_overwrites_or_touches_originals(folder, tmp_path):
    root, paths = folder
    from helpers.run.export import sort_into_folders

    run = RunDir(tmp_path / "run")
    run.save_json("inputs.json", {"data": str(root / "pile")})
    rows = [
        {"image": paths[0], "label": "Bag", "accepted": 1},
        {"image": paths[1], "label": "T-shirt/top", "accepted": 1},
        {"image": paths[2], "label": "Bag", "accepted": 0},
    ]
    run.save_csv("labels.csv", rows, ["image", "label", "accepted"])
    before = {p: (root / "pile" / p).read_bytes() for p in paths[:3]}
    out = tmp_path / "sorted"
    assert sort_into_folders(run.path, out, "copy") == 0
    assert (out / "Bag" / paths[0]).read_bytes() == before[paths[0]]
    assert (out / "T-shirt_top" / paths[1]).is_file()
    assert (out / "_unsure" / paths[2]).is_file()
    (out / "Bag" / paths[0]).write_bytes(b"mine")  # the user's own file now
    assert sort_into_folders(run.path, out, "copy") == 1  # everything refused, nothing replaced
    assert (out / "Bag" / paths[0]).read_bytes() == b"mine"
    assert {p: (root / "pile" / p).read_bytes() for p in paths[:3]} == before
    assert sort_into_folders(run.path, tmp_path / "linked", "link") == 0
    assert (tmp_path / "linked" / "Bag" / paths[0]).is_symlink()
    with pytest.raises(ValueError, match="inside the data folder"):
        sort_into_folders(run.path, root / "pile" / "sorted", "copy")
    # the same from the command line; a second time everything is refused: exit 1
    command = [sys.executable, "-m", "helpers", "export", "--run-dir", str(run.path)]
    command += ["--to", str(tmp_path / "cli")]
    assert subprocess.run(command, capture_output=True).returncode == 0
    assert (tmp_path / "cli" / "Bag" / paths[0]).is_file()
    again = subprocess.run(command, capture_output=True, text=True)
    assert again.returncode == 1 and "3 refused" in again.stdout


def test_the_folder_path_reads_the_same_pixels_as_the_array_path(tmp_path, fashion_mnist):
    """Fashion-MNIST's test images written as PNG files: the folder loader gives back
    exactly the arrays, so every number downstream is the array path's."""
    (x_train, y_train), (x_test, _) = fashion_mnist
    pile = tmp_path / "pile"
    pile.mkdir()
    from PIL import Image

    for i in range(200):
        Image.fromarray(x_test[i]).save(pile / f"{i:05d}.png")
    idx = np.concatenate([np.flatnonzero(y_train == c)[:2] for c in range(10)])
    piles.write_class_folders(tmp_path / "examples", x_train[idx], y_train[idx], FOLDER_NAMES)
    _, _, split = setup(
        "full",
        tmp_path / "run",
        follow_run=False,
        data=str(pile),
        examples=str(tmp_path / "examples"),
    )
    np.testing.assert_array_equal(split.x_test[..., 0], x_test[:200])  # uint8, as written
    order = np.argsort([FOLDER_NAMES[int(c)] for c in y_train[idx]], kind="stable")
    np.testing.assert_array_equal(split.examples.images[..., 0], x_train[idx][order])


def test_headless_run_labels_a_folder(folder, tmp_path):
    root, paths = folder
    command = [
        sys.executable,
        "-m",
        "helpers",
        "run",
        "--profile",
        "smoke",
        "--run-dir",
        str(tmp_path / "run"),
    ]
    command += [
        "--data",
        str(root / "pile"),
        "--examples",
        str(root / "examples"),
        "--truth",
        str(root / "truth.csv"),
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with open(tmp_path / "run" / "labels.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r["image"] for r in rows) == sorted(paths)
    assert {r["source"] for r in rows} == {"auto"}  # the examples live outside the pile
    assert all(r["true_label"] in FOLDER_NAMES for r in rows)
    with open(tmp_path / "run" / "skipped.csv", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == 5


def test_export_refuses_paths_outside_the_folders_and_labels_older_than_reviews(folder, tmp_path):
    root, paths = folder
    from helpers.run.export import sort_into_folders

    run = RunDir(tmp_path / "run")
    run.save_json("inputs.json", {"data": str(root / "pile")})
    secret = tmp_path / "secret.png"
    secret.write_bytes((root / "pile" / paths[0]).read_bytes())
    rows = [
        {"image": paths[0], "label": "Bag", "accepted": 1},
        {"image": "../../secret.png", "label": "Bag", "accepted": 1},
        {"image": str(secret), "label": "../../escape", "accepted": 1},
    ]
    run.save_csv("labels.csv", rows, ["image", "label", "accepted"])
    out = tmp_path / "sorted"
    with pytest.raises(ValueError, match="2 row.s. name a path outside") as refused:
        sort_into_folders(run.path, out, "copy")
    assert "../../secret.png" in str(refused.value) and not out.exists()  # nothing written
    run.save_csv("labels.csv", rows[:1], ["image", "label", "accepted"])
    (run.path / "reviews.csv").write_text("image,label,time\n")
    with pytest.raises(ValueError, match="older than"):
        sort_into_folders(run.path, out, "copy")
    run.save_csv("labels.csv", rows[:1], ["image", "label", "accepted"])  # saved after
    assert sort_into_folders(run.path, out, "copy") == 0
    assert (out / "Bag" / paths[0]).is_file()


def test_later_notebooks_trust_the_listing_until_a_folder_changes(folder, tmp_path, monkeypatch):
    import shutil

    from helpers.data import pile as S

    root, _ = folder
    pile = tmp_path / "pile"
    shutil.copytree(root / "pile", pile, symlinks=True)  # the clutter has a link loop
    inputs = {"data": str(pile), "examples": str(root / "examples")}
    _, run, first = setup("full", tmp_path / "run", follow_run=False, **inputs)
    walked, real_walk = [], S.list_image_files
    monkeypatch.setattr(S, "list_image_files", lambda *a: walked.append(1) or real_walk(*a))
    _, _, later = setup("full", tmp_path / "run")  # notebooks 02-05: no walk
    assert walked == [] and later.made_from == first.made_from
    assert later.test_ids.tolist() == first.test_ids.tolist()
    piles.write_good_images(pile / "new", first.x_test[:2, ..., 0])  # a new folder
    _, _, grown = setup("full", tmp_path / "run")
    assert walked == [1] and len(grown.test_ids) == len(first.test_ids) + 2
    assert grown.made_from != first.made_from
    _, _, again = setup("full", tmp_path / "run")  # the new listing is trusted again
    assert walked == [1] and again.made_from == grown.made_from


def test_notebook_01_again_on_an_unchanged_folder_keeps_the_listing_file(folder, tmp_path):
    import shutil

    root, _ = folder
    pile = tmp_path / "pile"
    shutil.copytree(root / "pile", pile, symlinks=True)
    inputs = {"data": str(pile), "examples": str(root / "examples")}
    _, run, first = setup("full", tmp_path / "run", follow_run=False, **inputs)
    listing = run / "pile.npz"
    written = listing.stat().st_mtime_ns
    _, _, again = setup("full", tmp_path / "run", follow_run=False, **inputs)
    assert listing.stat().st_mtime_ns == written  # read from, not written again
    assert again.made_from == first.made_from and len(again.x_test) == len(first.x_test)
    (pile / "more-notes.txt").write_text("a file that is not an image")  # the walk changes
    setup("full", tmp_path / "run", follow_run=False, **inputs)
    assert listing.stat().st_mtime_ns != written  # written again
