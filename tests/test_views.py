from dataclasses import replace

import numpy as np

from helpers.core.views import DEFAULT_VIEWS, ViewSettings, random_views

NOTHING = ViewSettings(0, 0, 0, 0, 0, 0)


def test_a_view_with_nothing_changed_is_the_image(real_images):
    x, _ = real_images
    out = random_views(x[:20], np.random.default_rng(0), NOTHING)
    assert out.dtype == np.float32 and out.shape == x[:20].shape
    np.testing.assert_allclose(out, x[:20], atol=1e-6)


def test_views_stay_in_range_are_seeded_and_differ(real_images):
    x, _ = real_images
    a = random_views(x[:50], np.random.default_rng(1))
    b = random_views(x[:50], np.random.default_rng(1))
    c = random_views(x[:50], np.random.default_rng(2))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.min() >= 0.0 and a.max() <= 1.0
    # small changes: a view is still far more like its own image than like another one
    own = np.abs(a - x[:50]).mean(axis=(1, 2, 3))
    other = np.abs(a - np.roll(x[:50], 1, axis=0)).mean(axis=(1, 2, 3))
    assert (own < other).mean() > 0.9


def test_shift_and_rotation_move_a_pixel_where_geometry_says():
    x = np.zeros((1, 21, 21, 1), np.float32)
    x[0, 10, 15, 0] = 1.0  # 5 pixels right of the centre
    shifted = random_views(x, np.random.default_rng(0), replace(NOTHING, shift=3.0))
    assert abs(shifted.sum() - 1.0) < 1e-5  # bilinear: the pixel's mass is kept
    turned = random_views(x, np.random.default_rng(0), replace(NOTHING, rotate_degrees=90.0))
    ys, xs = np.nonzero(turned[0, ..., 0] > 0.01)
    # wherever it went, it is still about 5 pixels from the centre
    radius = np.hypot(ys - 10, xs - 10)
    assert np.all(np.abs(radius - 5) < 1.5)


def test_mirroring_happens_only_when_asked(real_images):
    x, _ = real_images
    asymmetric = x[:200]
    flip_only = replace(NOTHING, mirror=True)
    out = random_views(asymmetric, np.random.default_rng(0), flip_only)
    flipped = [
        np.allclose(o, a[:, ::-1]) and not np.allclose(o, a)
        for o, a in zip(out, asymmetric, strict=True)
    ]
    assert 0.3 < np.mean(flipped) < 0.7
    assert DEFAULT_VIEWS.mirror is False


def test_occlusion_hides_a_square_in_about_half_the_views():
    x = np.ones((400, 16, 16, 1), np.float32)
    out = random_views(x, np.random.default_rng(0), replace(NOTHING, occlude=0.25))
    hidden = (out == 0).sum(axis=(1, 2, 3))
    assert set(np.unique(hidden)) == {0, 16}  # a 4x4 square, or nothing
    assert 0.4 < (hidden > 0).mean() < 0.6
