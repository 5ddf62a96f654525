"""The fast scoring path (reconstructions decoded from codes, compiled pairwise SSIM, batch by
batch) gives the labels of the plain path (the autoencoder on the images, tf.image.ssim one
pair at a time)."""

import numpy as np
import tensorflow as tf

from helpers.data.fashion_mnist import choose_examples, to_float_images
from helpers.labelling.labels import label_images
from helpers.labelling.scoring import Reconstructions, score_batch
from helpers.model.autoencoder import (
    decode,
    encode,
    load_weights,
    reconstruct,
    shipped_weights_path,
)


def test_fast_path_labels_equal_the_plain_path(fashion_mnist):
    (x_train, y_train), (x_test, _) = fashion_mnist
    ae, enc, dec = load_weights(shipped_weights_path())
    pile = x_test[:300, ..., None]  # uint8, as the workbook keeps it
    idx = choose_examples(y_train, 2, seed=0)
    ex_images, ex_labels = to_float_images(x_train[idx]), y_train[idx]
    codes = encode(enc, pile)

    # plain: reconstruct the images, one tf.image.ssim call per pair
    recon, ex_recon = reconstruct(ae, pile), reconstruct(ae, ex_images)
    plain = np.stack(
        [tf.image.ssim(np.repeat(r[None], len(ex_recon), 0), ex_recon, 1.0).numpy() for r in recon]
    )
    # fast: decoded from the codes, in batches of 64 (several, the last one short)
    fast = Reconstructions(dec, codes, keep_up_to=0, batch_size=64)
    ex_codes = encode(enc, ex_images)
    sim = fast.similarity(decode(dec, ex_codes))
    assert np.abs(sim - plain).max() < 1e-4

    def labels(similarity):
        zeros = np.zeros(len(codes), np.int64)
        return label_images(similarity, ex_labels, 10, codes, zeros, example_codes=ex_codes)

    a, b = labels(sim), labels(plain)
    np.testing.assert_array_equal(a.label, b.label)
    np.testing.assert_allclose(a.margin, b.margin, atol=1e-4)


def test_reconstructions_held_or_decoded_are_the_same(fashion_mnist):
    _, (x_test, _) = fashion_mnist
    _, enc, dec = load_weights(shipped_weights_path())
    codes = encode(enc, x_test[:50, ..., None])
    held, decoded = Reconstructions(dec, codes), Reconstructions(dec, codes, keep_up_to=10)
    assert held.held is not None and decoded.held is None and len(decoded) == 50
    np.testing.assert_allclose(decoded[[3, 7]], held[[3, 7]], atol=1e-6)
    np.testing.assert_allclose(decoded[5], held[5], atol=1e-6)
    targets = held[:4]
    np.testing.assert_allclose(
        decoded.similarity(targets), score_batch(dec, codes, targets), atol=1e-6
    )


def test_a_large_piles_reconstructions_are_decoded_once_into_the_run_directory(
    fashion_mnist, tmp_path
):
    from helpers.core.run_dir import RunDir

    _, (x_test, _) = fashion_mnist
    _, enc, dec = load_weights(shipped_weights_path())
    codes = encode(enc, x_test[:120, ..., None])
    run = RunDir(tmp_path)
    exact = Reconstructions(dec, codes)  # held, float32
    targets = exact[:5]
    first = Reconstructions(dec, codes, keep_up_to=10, batch_size=32, store=(run, "aaa"))
    assert first.on_disk is None
    scores = first.similarity(targets)  # decodes the pile, keeps it as float16
    assert (tmp_path / "reconstructions-aaa.npy").is_file() and first.on_disk.dtype == np.float16
    assert np.abs(scores - exact.similarity(targets)).max() < 3e-4
    assert np.abs(first[[3, 9]] - exact[[3, 9]]).max() <= 2.5e-4

    again = Reconstructions(dec, codes, keep_up_to=10, store=(run, "aaa"))  # a later session
    assert again.on_disk is not None  # read from the file, nothing decoded
    np.testing.assert_allclose(again.similarity(targets), scores, atol=1e-5)  # other batches
    np.testing.assert_array_equal(again[7], first[7])

    other = Reconstructions(dec, codes[:60], keep_up_to=10, store=(run, "bbb"))  # new codes
    other.similarity(targets)
    assert sorted(p.name for p in tmp_path.glob("reconstructions-*")) == ["reconstructions-bbb.npy"]
