import numpy as np

from helpers.labelling.tutorial import tutorial_on_class, tutorial_rule
from helpers.ssim import pairwise_ssim


def test_tutorial_rule_pairs_by_index(real_images):
    x, _ = real_images
    out = tutorial_rule(x[:5], np.concatenate([x[:3], x[10:13]]), threshold=0.3)
    assert out["index"].tolist() == [0, 1, 2, 3, 4]
    # the first three pairs are identical images: loss 0, accepted
    np.testing.assert_allclose(out["ssim_loss"][:3], 0.0, atol=1e-6)
    assert out["accepted"][:3].all()
    short = tutorial_rule(x[:8], x[:2], threshold=0.3)
    assert len(short["index"]) == 2  # it only ever looks at as many images as examples


def test_tutorial_on_class_uses_the_cluster_mapped_to_that_class(real_images):
    x, y = real_images
    keep = (y == 1) | (y == 9)  # trousers (class 0 here) and ankle boots (class 1)
    x, truth = x[keep], (y[keep] == 9).astype(int)
    clusters = 1 - truth  # cluster 0 holds the boots
    examples = np.concatenate([np.flatnonzero(truth == 0)[:3], np.flatnonzero(truth == 1)[:3]])
    sim = np.asarray(pairwise_ssim(x, x[examples]))
    ex_labels = truth[examples]
    rows = tutorial_on_class(x, clusters, sim, x[examples], ex_labels, 1, truth)
    assert [r["cluster"] for r in rows] == [0, 0] and rows[0]["compared"] == 3
    assert rows[0]["precision"] == 1.0
