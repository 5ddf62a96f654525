import numpy as np
import pytest

from helpers.model import autoencoder as M
from helpers.model import training as T
from helpers.model.folded import folded_decoder


@pytest.mark.parametrize("shape, latent", [((28, 28, 1), 10), ((32, 32, 3), 4)])
def test_the_folded_decoder_draws_the_same_images(real_images, shape, latent):
    ae, enc, dec = M.build_autoencoder(shape, latent, seed=1)
    if shape == (28, 28, 1):  # trained a little, so the batch norms hold real statistics
        T.train(ae, real_images[0][:64], T.Recipe(epochs=1, batch_size=16), verbose=0)
    rng = np.random.default_rng(0)
    for layer in dec.layers:  # and statistics far from the initial ones
        if layer.name.startswith("dec_bn"):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights(
                [
                    rng.uniform(0.5, 2, gamma.shape),
                    rng.normal(0, 0.3, beta.shape),
                    rng.normal(0, 0.5, mean.shape),
                    rng.uniform(0.2, 3, var.shape),
                ]
            )
    codes = rng.normal(0, 2, (64, latent)).astype(np.float32)
    twin = folded_decoder(dec)
    assert not any("bn" in layer.name for layer in twin.layers)
    assert twin.get_layer("reconstruction").__class__.__name__ == "Conv2D"
    plain = np.asarray(dec.predict(codes, verbose=0))
    np.testing.assert_allclose(M.decode(dec, codes), plain, atol=2e-5)
    np.testing.assert_allclose(np.asarray(twin.predict(codes, verbose=0)), plain, atol=2e-5)


def test_the_twin_follows_the_decoders_weights(real_images):
    ae, _, dec = M.build_autoencoder(seed=0)
    codes = np.random.default_rng(0).normal(size=(8, 10)).astype(np.float32)
    before = M.decode(dec, codes)
    assert folded_decoder(dec) is folded_decoder(dec)  # made once
    T.train(ae, real_images[0][:32], T.Recipe(epochs=1, batch_size=16), verbose=0)  # weights change
    after = M.decode(dec, codes)
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, np.asarray(dec.predict(codes, verbose=0)), atol=2e-5)
