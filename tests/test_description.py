"""The description of each image for the neighbour graph: the scattering transform and the
projection fitted on the pile."""

import tracemalloc

import numpy as np
import pytest

from helpers.data.description import (
    BATCH_BYTES,
    Description,
    batch_size,
    fit_description,
    scattering_features,
)
from helpers.data.scattering import n_paths, scattering, scattering_plain


def test_scattering_of_a_constant_image_is_its_value_then_nothing():
    """The low-pass average of a constant is that constant; Morlet wavelets have no mean,
    so every path through one of them is (nearly) zero."""
    images = np.full((2, 28, 28, 1), 0.6, np.float32)
    out = scattering(images, J=2)
    assert out.shape == (2, n_paths(2), 7, 7) == (2, 81, 7, 7)
    np.testing.assert_allclose(out[:, 0], 0.6, atol=1e-4)
    assert np.abs(out[:, 1:]).max() < 1e-4


def test_scattering_sees_orientation():
    """Vertical stripes and horizontal stripes excite different first-order paths."""
    x = np.arange(32)
    vertical = np.tile((np.sin(x * np.pi / 2) > 0).astype(np.float32), (32, 1))
    images = np.stack([vertical, vertical.T])[..., None]
    first = scattering(images, J=2)[:, 1:9].mean(axis=(2, 3))  # scale 0, 8 orientations
    assert np.argmax(first[0]) != np.argmax(first[1])
    assert first.max() > 10 * first.min()


def test_colour_channels_are_transformed_each_on_its_own():
    rng = np.random.default_rng(0)
    rgb = rng.random((3, 32, 32, 3)).astype(np.float32)
    out = scattering(rgb, J=2)
    assert out.shape == (3, 3 * n_paths(2), 8, 8)
    green = scattering(rgb[..., 1:2], J=2)
    np.testing.assert_allclose(out[:, n_paths(2) : 2 * n_paths(2)], green, atol=1e-6)


@pytest.mark.parametrize(
    ("shape", "J"),
    [((5, 28, 28, 1), 2), ((3, 16, 24, 1), 2), ((2, 64, 64, 3), 3), ((1, 96, 96, 1), 3)],
)
def test_the_fast_transform_computes_the_plain_ones_numbers(shape, J):
    """The workbook's transform (averaging as a matrix, products folded as made) against
    kymatio's algorithm step by step in Fourier space: the same numbers to float32 rounding."""
    images = np.random.default_rng(1).random(shape).astype(np.float32)
    fast, plain = scattering(images, J), scattering_plain(images, J)
    assert fast.shape == plain.shape
    np.testing.assert_allclose(fast, plain, atol=2e-6 * np.abs(plain).max())


def made_pile(n_per_class: int = 40, seed: int = 0):
    """Three classes of 28x28 images: a bar at one of three angles, at a random place and
    brightness, with noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:28, :28]
    images, classes = [], []
    for c, angle in enumerate((0.0, np.pi / 3, 2 * np.pi / 3)):
        for _ in range(n_per_class):
            cy, cx = rng.uniform(10, 18, 2)
            along = (xx - cx) * np.cos(angle) + (yy - cy) * np.sin(angle)
            across = -(xx - cx) * np.sin(angle) + (yy - cy) * np.cos(angle)
            bar = ((np.abs(along) < 8) & (np.abs(across) < 1.5)) * rng.uniform(0.6, 1.0)
            images.append(np.clip(bar + rng.normal(0, 0.05, bar.shape), 0, 1))
            classes.append(c)
    return np.asarray(images, np.float32)[..., None], np.asarray(classes)


def test_a_shifted_copy_is_nearer_than_any_image_of_another_class():
    images, classes = made_pile()
    description = fit_description(images)
    points = description(images)
    assert points.shape == (len(images), min(100, len(images)))
    np.testing.assert_allclose(np.linalg.norm(points, axis=1), 1.0, atol=1e-5)
    for i in (0, 50, 100):
        shifted = np.roll(images[i], (2, -1), axis=(0, 1))[None]
        moved = description(shifted)[0]
        similarity = points @ moved  # cosine: unit vectors
        assert similarity[i] > similarity[classes != classes[i]].max()


def test_the_description_is_deterministic_and_saves_whole():
    images, _ = made_pile(20)
    first = fit_description(images, seed=3)
    again = fit_description(images, seed=3)
    np.testing.assert_array_equal(first(images), again(images))
    restored = Description.from_arrays(first.arrays())
    np.testing.assert_array_equal(restored(images), first(images))
    with pytest.raises(ValueError, match="fitted on"):
        first(np.zeros((2, 32, 32, 1), np.float32))


def test_memory_is_bounded_by_the_batch_not_the_images():
    """Large images are transformed a few at a time: the peak stays near ``BATCH_BYTES``
    however many there are (all of these at once would take several times as much)."""
    shape = (192, 192, 3)
    assert batch_size(shape) < 8
    images = np.random.default_rng(0).random((8, *shape)).astype(np.float32)
    tracemalloc.start()
    features = scattering_features(images)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert features.shape[0] == 8
    assert peak < 3 * BATCH_BYTES + features.nbytes
