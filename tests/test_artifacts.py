import csv

import numpy as np
import pytest

from helpers.core.run_dir import RunDir


def test_round_trips_and_no_temp_files_left(tmp_path):
    run = RunDir(tmp_path / "run")
    run.save_arrays("codes.npz", codes=np.arange(6).reshape(3, 2))
    assert run.load_arrays("codes.npz")["codes"].tolist() == [[0, 1], [2, 3], [4, 5]]
    run.save_json("info.json", {"a": np.float32(1.5), "b": np.arange(2)})
    assert run.load_json("info.json") == {"a": 1.5, "b": [0, 1]}
    run.save_csv("labels.csv", [{"image": 1, "label": "x"}], ["image", "label"])
    with open(run / "labels.csv") as fh:
        assert list(csv.DictReader(fh)) == [{"image": "1", "label": "x"}]
    assert sorted(p.name for p in run.path.iterdir()) == ["codes.npz", "info.json", "labels.csv"]


def test_failed_write_keeps_the_old_file(tmp_path):
    run = RunDir(tmp_path)
    run.save_json("info.json", {"ok": True})
    with pytest.raises(TypeError):
        run.save_json("info.json", {"bad": object()})
    assert run.load_json("info.json") == {"ok": True}
    assert [p.name for p in run.path.iterdir()] == ["info.json"]


def test_unreadable_artifact_names_the_file(tmp_path):
    run = RunDir(tmp_path)
    (run / "codes.npz").write_bytes(b"junk")
    with pytest.raises(ValueError, match="codes.npz.*delete it to recompute"):
        run.load_arrays("codes.npz")
    (run / "x.json").write_text("{")
    with pytest.raises(ValueError, match="x.json.*not valid JSON"):
        run.load_json("x.json")


def test_invalidate_after_removes_downstream_only(tmp_path):
    run = RunDir(tmp_path)
    for name in ("autoencoder.weights.h5", "codes.npz", "clusters.npz", "labels.csv"):
        (run / name).write_bytes(b"x")
    (run / "labels.json").write_text("{}")
    assert run.invalidate_after("codes.npz") == ["clusters.npz", "labels.csv"]
    assert run.has("codes.npz") and run.has("autoencoder.weights.h5")
    # labels.csv, which a person may have saved, is set aside with its record, not deleted
    assert not run.has("labels.csv") and not run.has("labels.json")
    (kept,) = (run / "earlier").iterdir()
    assert (kept / "labels.csv").read_bytes() == b"x" and (kept / "labels.json").is_file()


def test_run_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBOOK_RUN_DIR", str(tmp_path / "elsewhere"))
    assert RunDir().path == tmp_path / "elsewhere"


def test_files_get_the_usual_mode_under_the_umask(tmp_path):
    import os
    import stat

    from helpers.core.files import atomic_write, write_text

    old = os.umask(0o022)
    try:
        run = RunDir(tmp_path / "run")
        written = [
            run.save_arrays("codes.npz", codes=np.zeros(2)),
            run.save_json("info.json", {}),
            run.save_csv("labels.csv", [], ["image"]),
            run.save_text("notebooks/01.html", "<p>"),
            write_text(tmp_path / "a.json", "{}"),
            atomic_write(tmp_path / "w.weights.h5", lambda tmp: tmp.write_bytes(b"x")),
        ]
        os.umask(0o077)
        private = write_text(tmp_path / "private.txt", "x")
    finally:
        os.umask(old)
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert not list(tmp_path.rglob(".*tmp*"))


def test_an_array_saved_in_rows_reads_back_and_a_short_one_is_never_saved(tmp_path):
    run = RunDir(tmp_path)
    rows = np.arange(24, dtype=np.float16).reshape(6, 2, 2)
    run.save_array_in_rows("a.npy", rows.shape, np.float16, [rows[:4], rows[4:]])
    np.testing.assert_array_equal(run.load_array("a.npy"), rows)
    with pytest.raises(ValueError, match="5 rows written, 6 expected"):
        run.save_array_in_rows("b.npy", rows.shape, np.float16, [rows[:5]])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npy"]  # no b.npy, no temporary


def test_keras_shows_one_line_per_epoch_in_a_headless_run(monkeypatch):
    from helpers.core import config

    monkeypatch.delenv(config.HEADLESS, raising=False)
    assert config.keras_verbosity() == "auto" and config.keras_verbosity(0) == 0
    monkeypatch.setenv(config.HEADLESS, "1")
    assert config.keras_verbosity() == 2 and config.keras_verbosity(0) == 0
