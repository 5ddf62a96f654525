import numpy as np
import pytest

from helpers.model import autoencoder as M
from helpers.model import training as T
from helpers.model.refine import KnownClassLoss, RefineSettings, refine, training_set


def test_known_class_loss_counts_only_known_images():
    logits = np.array([[4.0, 0.0], [0.0, 4.0], [4.0, 0.0]], np.float32)
    right = float(KnownClassLoss()(np.array([[0], [1], [-1]]), logits))
    wrong = float(KnownClassLoss()(np.array([[1], [-1], [-1]]), logits))
    assert right == pytest.approx(np.log1p(np.exp(-4.0)), rel=1e-4)  # mean of two alike
    assert wrong == pytest.approx(4.0 + np.log1p(np.exp(-4.0)), rel=1e-4)
    assert float(KnownClassLoss()(np.array([[-1], [-1], [-1]]), logits)) == 0.0


def test_training_set_repeats_what_a_person_labelled():
    pile = np.arange(100, dtype=np.uint8).reshape(100, 1, 1, 1)
    accepted = np.full(100, -1)
    accepted[:30] = 1  # accepted labels: learned once
    known = np.zeros(100, bool)
    known[95:] = True  # reviews among the pile
    accepted[95:] = 2
    extra = np.full((5, 1, 1, 1), 200, np.uint8)  # examples from outside the pile
    images, classes = training_set(pile, accepted, extra, np.zeros(5), known, known_share=0.2)
    assert len(images) == 100 + 2 * 10  # 10 person labels repeated to ~20% of 100
    assert (classes[:30] == 1).all() and (classes[30:100] == -1).all()  # reviews not twice
    assert sorted(classes[100:110]) == [0] * 5 + [2] * 5
    np.testing.assert_array_equal(images[110:120], images[100:110])


def test_refinement_learns_the_known_classes(real_images):
    x, y = real_images
    ae, enc, _ = M.build_autoencoder(seed=0)
    T.train(ae, x, T.Recipe(epochs=1, batch_size=32), seed=0, verbose=0)
    before = M.encode(enc, x)
    classes = np.where(np.arange(len(y)) % 2 == 0, y.astype(int), -1)  # half of them known
    settings = RefineSettings(epochs=2, class_weight=1.0, learning_rate=1e-3, batch_size=32)
    history = refine(ae, x, classes, 10, settings, seed=0, verbose=0)
    assert history["class_head_loss"][1] < history["class_head_loss"][0]
    assert not np.allclose(M.encode(enc, x), before)  # the encoder itself was refined
    with pytest.raises(ValueError, match="known class"):
        refine(ae, x, np.full(len(x), -1), 10, settings, verbose=0)
    with pytest.raises(ValueError, match="10 classes"):
        refine(ae, x, np.full(len(x), 10), 10, settings, verbose=0)
