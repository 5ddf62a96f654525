"""The load-or-compute steps the notebooks share: a fresh artifact is reused, one made from
other inputs is made again, and what was made from the old one is removed."""

import numpy as np

from helpers.core.run_dir import RunDir
from helpers.run import workflow as W


def test_clusters_are_reused_while_fresh_and_remade_with_what_follows_them(tmp_path, monkeypatch):
    run = RunDir(tmp_path)
    codes = np.random.default_rng(0).normal(size=(200, 10)).astype(np.float32)
    run.save_arrays("codes.npz", codes=codes, made_from=np.asarray("codes-1"))
    made = []
    real = W.cluster_codes
    monkeypatch.setattr(W, "cluster_codes", lambda *a, **k: made.append(1) or real(*a, **k))

    first = W.get_clusters(run, codes, 3, method="kmeans", of="codes.npz")
    assert made == [1] and run.has("clusters.npz")
    again = W.get_clusters(run, codes, 3, of="codes.npz")  # the method saved is kept
    assert made == [1] and str(again["method"]) == "kmeans"
    np.testing.assert_array_equal(again["clusters"], first["clusters"])

    run.save_arrays("scores.npz", similarity=np.zeros((200, 3)), made_from=np.asarray("s"))
    run.save_csv("labels.csv", [{"image": 0}], ["image"])
    W.get_clusters(run, codes, 3, method="kmeans", seed=1, of="codes.npz")  # other settings
    assert made == [1, 1]
    assert not run.has("scores.npz") and not run.has("labels.csv")  # made from the old ones

    run.save_arrays("codes.npz", codes=codes, made_from=np.asarray("codes-2"))  # new codes
    W.get_clusters(run, codes, 3, method="kmeans", seed=1, of="codes.npz")
    assert made == [1, 1, 1]
