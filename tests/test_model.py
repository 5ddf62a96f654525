import numpy as np
import pytest

from helpers import model as M


def test_tutorial_architecture_exactly():
    ae, enc, dec = M.build_autoencoder()
    assert ae.count_params() == 215_499
    assert enc.output.shape[1:] == (10,)
    assert dec.output.shape[1:] == (28, 28, 1)
    names = [layer.name for layer in enc.layers] + [layer.name for layer in dec.layers]
    assert names.count("enc_conv1") == 1 and "code" in names and "reconstruction" in names
    strides = [enc.get_layer(f"enc_conv{i}").strides for i in (1, 2, 3)]
    assert strides == [(1, 1), (2, 2), (2, 2)]
    assert dec.get_layer("reconstruction").activation.__name__ == "sigmoid"


def test_other_shapes_and_latent_sizes():
    ae, enc, dec = M.build_autoencoder((32, 32, 3), latent_dim=4)
    assert enc.output.shape[1:] == (4,) and ae.output.shape[1:] == (32, 32, 3)
    with pytest.raises(ValueError, match="multiples of 4"):
        M.build_autoencoder((30, 30, 1))


def test_training_reduces_loss_and_is_reproducible(real_images):
    x, _ = real_images
    runs = []
    for _ in range(2):
        M.set_seed(0)
        ae, enc, _ = M.build_autoencoder()
        hist = M.train(ae, x, epochs=2, batch_size=32, n_images=128, seed=0, verbose=0)
        runs.append((hist.history["loss"], M.encode(enc, x[:8])))
    losses, codes = runs[0]
    assert losses[1] < losses[0]
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(codes, runs[1][1])


def test_save_and_load_round_trip(tmp_path, real_images):
    x, _ = real_images
    M.set_seed(1)
    ae, _, _ = M.build_autoencoder()
    path = M.save_weights(ae, tmp_path / "sub" / "model.weights.h5")
    assert path.is_file() and not list(path.parent.glob(".*tmp*"))
    ae2, enc2, _ = M.load_weights(path)
    np.testing.assert_allclose(M.reconstruct(ae, x[:4]), M.reconstruct(ae2, x[:4]), atol=1e-6)
    with pytest.raises(ValueError, match=r"\.weights\.h5"):
        M.save_weights(ae, tmp_path / "model.h5")
    with pytest.raises(FileNotFoundError, match="nope.weights.h5"):
        M.load_weights(tmp_path / "nope.weights.h5")
    (tmp_path / "bad.weights.h5").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="bad.weights.h5"):
        M.load_weights(tmp_path / "bad.weights.h5")
