import numpy as np
import pytest

from helpers.core.views import shift_and_mirror
from helpers.model import autoencoder as M
from helpers.model import training as T
from helpers.model.invariance import INVARIANCE_KINDS, InvarianceLoss


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
        hist = T.train(ae, x, T.Recipe(epochs=2, batch_size=32), n_images=128, seed=0, verbose=0)
        runs.append((hist["loss"], M.encode(enc, x[:8])))
    losses, codes = runs[0]
    assert losses[1] < losses[0]
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(codes, runs[1][1])


def test_bfloat16_training_leaves_a_float32_model(tmp_path, real_images):
    x, _ = real_images
    ae, enc, _ = M.build_autoencoder()
    recipe = T.Recipe(epochs=2, batch_size=32, precision="mixed_bfloat16")
    hist = T.train(ae, x, recipe, n_images=128, verbose=0)
    assert hist["loss"][1] < hist["loss"][0]
    policies = {layer.dtype_policy.name for layer in T._leaf_layers(ae)}
    assert policies == {"float32"} and all(w.dtype == "float32" for w in ae.get_weights())
    # what it encodes now is what a float32 model with those weights encodes
    M.save_weights(ae, tmp_path / "w.weights.h5")
    _, enc2, _ = M.load_weights(tmp_path / "w.weights.h5")
    np.testing.assert_array_equal(M.encode(enc, x[:16]), M.encode(enc2, x[:16]))
    with pytest.raises(ValueError, match="precision"):
        T.train(ae, x, T.Recipe(epochs=1, precision="float16"), n_images=32, verbose=0)


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


def test_interrupted_training_resumes_from_checkpoint(tmp_path, real_images):
    x, _ = real_images
    ckpt = tmp_path / "ckpt" / "train.keras"
    ae, _, _ = M.build_autoencoder()
    first = T.train(
        ae, x, T.Recipe(epochs=1, batch_size=32), n_images=64, verbose=0, checkpoint=ckpt
    )
    assert ckpt.is_file() and len(first["loss"]) == 1
    saved = ae.get_weights()
    # A fresh process would start from a new model: the checkpoint brings back the weights
    # and optimizer, then training runs only the epochs still missing.
    ae2, _, _ = M.build_autoencoder()
    calls = []
    cb = __import__("keras").callbacks.LambdaCallback(
        on_epoch_begin=lambda e, logs: calls.append(e)
    )
    both = T.train(
        ae2,
        x,
        T.Recipe(epochs=2, batch_size=32),
        n_images=64,
        verbose=0,
        checkpoint=ckpt,
        callbacks=[cb],
    )
    assert calls == [1]
    assert len(both["loss"]) == 2 and both["loss"][0] == first["loss"][0]
    assert int(ae2.optimizer.iterations.numpy()) == 4
    assert not np.allclose(ae2.get_weights()[0], saved[0])
    done = T.train(
        ae2, x, T.Recipe(epochs=2, batch_size=32), n_images=64, verbose=0, checkpoint=ckpt
    )
    assert done == both


def test_shift_and_mirror_moves_content_a_little_and_is_seeded():
    x = np.zeros((200, 12, 12, 1), np.float32)
    x[:, 5, 4, 0] = 1.0  # one bright pixel, away from the borders
    out = shift_and_mirror(x, np.random.default_rng(0))
    assert out.shape == x.shape and out.sum() == x.sum()
    rows, cols = np.nonzero(out[..., 0])[1:]
    assert set(rows) == {3, 4, 5, 6, 7}  # up to 2 pixels either way
    mirrored = 11 - cols  # the pixel's column as if not mirrored
    assert (np.minimum(np.abs(cols - 4), np.abs(mirrored - 4)) <= 2).all()
    assert (np.abs(cols - 4) > 2).any()  # some were mirrored (column 7 +- 2)
    again = shift_and_mirror(x, np.random.default_rng(0))
    np.testing.assert_array_equal(out, again)


@pytest.mark.parametrize("augment", [False, True])
def test_epoch_batches_resume_with_the_epoch_they_left_off(augment):
    x = np.random.default_rng(0).random((70, 8, 8, 1)).astype(np.float32)
    fresh = T.EpochBatches(x, 32, seed=3, augment=augment)
    assert len(fresh) == 3
    first_inputs, first_targets = fresh[0]
    np.testing.assert_array_equal(first_inputs, first_targets)  # rebuild what it is shown
    fresh.on_epoch_end()
    resumed = T.EpochBatches(x, 32, seed=3, first_epoch=1, augment=augment)
    np.testing.assert_array_equal(fresh[2][0], resumed[2][0])
    assert not np.array_equal(first_inputs, fresh[0][0])


def test_cosine_schedule_and_augmentation_train_reproducibly(real_images):
    x, _ = real_images
    runs = []
    for _ in range(2):
        M.set_seed(0)
        ae, _, _ = M.build_autoencoder()
        hist = T.train(
            ae,
            x,
            T.Recipe(epochs=2, batch_size=32, schedule="cosine"),
            n_images=64,
            verbose=0,
            augment=True,
        )
        runs.append(hist["loss"])
        assert float(ae.optimizer.learning_rate) == pytest.approx(0.0, abs=1e-9)
    assert runs[0] == runs[1]
    with pytest.raises(ValueError, match="schedule"):
        T.train(ae, x, T.Recipe(epochs=1, schedule="step"), n_images=32, verbose=0)


TRAIN_IN_A_FRESH_PROCESS = """
import os, signal, sys
import keras, numpy as np
from helpers.model import autoencoder as M
from helpers.model import training as T
from helpers.data.fashion_mnist import load_fashion_mnist, to_float_images

out, checkpoint, kill_in_epoch = sys.argv[1], sys.argv[2] or None, int(sys.argv[3])
(x, _), _ = load_fashion_mnist()
x = to_float_images(x[:640])


class Kill(keras.callbacks.Callback):  # a crash halfway through an epoch
    def on_train_batch_end(self, batch, logs=None):
        if self.params and self._epoch == kill_in_epoch and batch == 4:
            os.kill(os.getpid(), signal.SIGKILL)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch


ae, _, _ = M.build_autoencoder(seed=5)
T.train(ae, x, T.Recipe(epochs=4), seed=5, verbose=0, checkpoint=checkpoint, callbacks=[Kill()])
np.savez(out, *ae.get_weights())
"""


def _train_in_fresh_process(tmp_path, name, checkpoint=None, kill_in_epoch=-1):
    import subprocess
    import sys

    script = tmp_path / "train_once.py"
    script.write_text(TRAIN_IN_A_FRESH_PROCESS)
    out = tmp_path / f"{name}.npz"
    args = [sys.executable, str(script), str(out), str(checkpoint or ""), str(kill_in_epoch)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=600)
    return done, out


def _weights(path):
    with np.load(path) as saved:
        return [saved[k] for k in saved.files]


def test_training_gives_identical_weights_in_fresh_processes(tmp_path):
    runs = [_train_in_fresh_process(tmp_path, f"run{i}") for i in (1, 2)]
    for done, _ in runs:
        assert done.returncode == 0, done.stderr[-2000:]
    for a, b in zip(_weights(runs[0][1]), _weights(runs[1][1]), strict=True):
        np.testing.assert_array_equal(a, b)


def test_training_killed_mid_epoch_resumes_to_the_same_weights(tmp_path):
    ckpt = tmp_path / "ckpt" / "train.keras"
    killed, out = _train_in_fresh_process(tmp_path, "resumed", ckpt, kill_in_epoch=2)
    assert killed.returncode == -9 and not out.exists()  # SIGKILL in epoch 3 of 4
    resumed, out = _train_in_fresh_process(tmp_path, "resumed", ckpt)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    whole, whole_out = _train_in_fresh_process(tmp_path, "whole")
    assert whole.returncode == 0, whole.stderr[-2000:]
    for a, b in zip(_weights(out), _weights(whole_out), strict=True):
        np.testing.assert_array_equal(a, b)


def test_invariance_losses_reward_agreeing_views():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(16, 10)).astype(np.float32)
    agreeing = np.concatenate([a, a + 0.01 * rng.normal(size=a.shape).astype(np.float32)])
    unrelated = np.concatenate([a, rng.normal(size=a.shape).astype(np.float32)])
    collapsed = np.zeros((32, 10), np.float32)
    unused = np.zeros((32, 1), np.float32)
    for kind in INVARIANCE_KINDS:
        loss = InvarianceLoss(kind)
        assert float(loss(unused, agreeing)) < float(loss(unused, unrelated)), kind
    vicreg = InvarianceLoss("vicreg")
    assert float(vicreg(unused, collapsed)) > float(vicreg(unused, agreeing))  # no collapse


def test_two_view_training_trains_the_autoencoder_and_resumes(tmp_path, real_images):
    x, _ = real_images
    two_views = {"invariance": 1.0, "invariance_kind": "ntxent", "view_target": "image"}
    runs = []
    for stop_after in (2, 1):
        M.set_seed(0)
        ae, encoder, _ = M.build_autoencoder()
        before = M.encode(encoder, x[:8])
        ckpt = tmp_path / f"stop{stop_after}" / "c.keras"

        def train(model, epochs, ckpt=ckpt):
            recipe = T.Recipe(epochs=epochs, batch_size=16, **two_views)
            return T.train(model, x, recipe, n_images=48, verbose=0, checkpoint=ckpt)

        hist = train(ae, stop_after)
        if stop_after == 1:  # resume to 2 epochs from a fresh model
            ae, encoder, _ = M.build_autoencoder()
            hist = train(ae, 2)
        assert set(hist) >= {"loss", "decoder_loss", "codes_loss"} and len(hist["loss"]) == 2
        assert not np.allclose(M.encode(encoder, x[:8]), before)
        runs.append(ae.get_weights())
    for a, b in zip(*runs, strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_rebuild_verdict_says_what_the_ssim_means_for_the_pile():
    from helpers.model.autoencoder import rebuild_verdict

    assert "rebuilds this pile well (mean SSIM 0.89 over 3 images" in rebuild_verdict(
        np.array([0.88, 0.89, 0.90])
    )
    assert "loses the detail" in rebuild_verdict(np.array([0.6, 0.65]))
    assert "learned little" in rebuild_verdict(np.array([0.09, 0.75, 0.1]))  # blurs, mostly
