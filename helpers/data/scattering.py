"""The wavelet scattering transform of images (Bruna and Mallat, 2013), in numpy.

A fixed bank of Morlet wavelets at ``J`` scales and ``L`` orientations, no training: each
image is filtered, the modulus taken, filtered again, and every path averaged over
``2**J``-pixel windows. What survives is how much edge and texture there is at each scale,
orientation and place, stable to small shifts and deformations: a description of what an
image shows that the nearest-neighbour graph can use (``helpers.data.description``).

The filters and the algorithm follow kymatio's ``Scattering2D`` (its filter bank, its
reflect padding, its subsampling in Fourier space), written here because kymatio 0.3 does
not import with current scipy. Images are transformed a batch at a time, so memory grows
with the batch, not the pile. ``scattering`` computes kymatio's numbers in fewer steps
(``benchmarks/describing.py`` times it against ``scattering_plain``, kymatio's order of
work, and a test holds the two to float32 rounding).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import fft

DEFAULT_ORIENTATIONS = 8


def gabor_2d(m: int, n: int, sigma: float, theta: float, xi: float, slant: float = 1.0):
    """(m, n) complex Gabor filter, periodised over the grid (kymatio's ``gabor_2d``)."""
    rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    curvature = rotation @ np.diag([1.0, slant * slant]) @ rotation.T / (2 * sigma * sigma)
    out = np.zeros((m, n), np.complex128)
    for ex in (-2, -1, 0, 1, 2):
        for ey in (-2, -1, 0, 1, 2):
            xx, yy = np.mgrid[ex * m : m + ex * m, ey * n : n + ey * n]
            arg = -(
                curvature[0, 0] * xx * xx
                + (curvature[0, 1] + curvature[1, 0]) * xx * yy
                + curvature[1, 1] * yy * yy
            ) + 1j * (xx * np.cos(theta) * xi + yy * np.sin(theta) * xi)
            out += np.exp(arg)
    return out / (2 * np.pi * sigma * sigma / slant)


def morlet_2d(m: int, n: int, sigma: float, theta: float, xi: float, slant: float):
    """A Gabor filter less its mean: a Morlet wavelet, which ignores constant regions."""
    wave = gabor_2d(m, n, sigma, theta, xi, slant)
    envelope = gabor_2d(m, n, sigma, theta, 0.0, slant)
    return wave - wave.sum() / envelope.sum() * envelope


def periodize(filter_fft: np.ndarray, level: int) -> np.ndarray:
    """A filter's Fourier transform for a signal subsampled ``2**level`` times: frequencies
    beyond the new band cut, the rest folded onto the smaller grid (kymatio's
    ``periodize_filter_fft``)."""
    if level == 0:
        return filter_fft
    m, n = filter_fft.shape
    k = 2**level
    masked = filter_fft.copy()
    start_x, len_x = int(m * 2 ** (-level - 1)), int(m * (1 - 2 ** (-level)))
    start_y, len_y = int(n * 2 ** (-level - 1)), int(n * (1 - 2 ** (-level)))
    masked[start_x : start_x + len_x, :] = 0
    masked[:, start_y : start_y + len_y] = 0
    return masked.reshape(k, m // k, k, n // k).sum(axis=(0, 2))


@dataclass(frozen=True)
class FilterBank:
    """Fourier transforms of the wavelets and the low-pass filter, at every resolution."""

    psi: tuple[tuple[np.ndarray, ...], ...]  # psi[j][level]: (L, m / 2**level, n / 2**level)
    phi: tuple[np.ndarray, ...]  # phi[level]: the low-pass filter


@lru_cache(maxsize=8)
def filter_bank(m: int, n: int, J: int, L: int = DEFAULT_ORIENTATIONS) -> FilterBank:
    """The filters for padded images of ``m`` x ``n`` pixels (kymatio's ``filter_bank``)."""
    psi = []
    for j in range(J):
        spectra = [
            np.real(fft.fft2(morlet_2d(m, n, 0.8 * 2**j, angle, 3 / 4 * np.pi / 2**j, 4 / L)))
            for angle in (L // 2 - 1 - np.arange(L)) * np.pi / L
        ]
        psi.append(tuple(_single([periodize(x, r) for x in spectra]) for r in range(j + 1)))
    low = np.real(fft.fft2(gabor_2d(m, n, 0.8 * 2 ** (J - 1), 0.0, 0.0)))
    phi = tuple(_single(periodize(low, r)) for r in range(J))
    return FilterBank(tuple(psi), phi)


def _single(spectrum: np.ndarray) -> np.ndarray:
    """A real filter spectrum in float32: the transform runs in single precision."""
    return np.ascontiguousarray(spectrum, np.float32)


def padded_size(size: int, J: int) -> int:
    """The side an image is padded to: past its border by at least ``2**J``, a multiple of it."""
    return ((size + 2**J) // 2**J + 1) * 2**J


def n_paths(J: int, L: int = DEFAULT_ORIENTATIONS) -> int:
    """Scattering coefficients per place and channel: order 0, 1 and 2."""
    return 1 + J * L + L * L * J * (J - 1) // 2


def _subsample(spectrum: np.ndarray, k: int) -> np.ndarray:
    """A batch of spectra of signals subsampled ``k`` times in space (aliasing folded): the
    mean of the ``k * k`` blocks, added as views (a reduction over strided axes is slower)."""
    if k == 1:
        return spectrum
    m, n = spectrum.shape[-2] // k, spectrum.shape[-1] // k
    out = spectrum[..., :m, :n].copy()
    for a in range(k):
        for b in range(k):
            if a or b:
                out += spectrum[..., a * m : (a + 1) * m, b * n : (b + 1) * n]
    out /= k * k
    return out


def _planes(images: np.ndarray, J: int):
    """The images' channels as (planes, m, n) padded planes, and the sizes involved."""
    images = np.asarray(images, np.float32)
    b, h, w, c = images.shape
    if h % 2**J or w % 2**J:
        raise ValueError(f"images of {h}x{w} cannot be averaged over 2**{J}-pixel windows")
    m, n = padded_size(h, J), padded_size(w, J)
    top, left = (m - h) // 2, (n - w) // 2
    planes = images.transpose(0, 3, 1, 2).reshape(b * c, h, w)
    padded = np.pad(planes, ((0, 0), (top, m - h - top), (left, n - w - left)), mode="reflect")
    crop = (top // 2**J, (top + h) // 2**J, left // 2**J, (left + w) // 2**J)
    return padded, (m, n), crop


def scattering(images: np.ndarray, J: int, L: int = DEFAULT_ORIENTATIONS) -> np.ndarray:
    """(b, channels * n_paths(J, L), h / 2**J, w / 2**J) scattering coefficients of a batch of
    (b, h, w, channels) images, each channel on its own; h and w divisible by ``2**J``.

    The same numbers as ``scattering_plain`` (to float32 rounding), about twice as fast:
    averaging a real image over ``2**J``-pixel windows (low-pass filter, subsample, crop) is
    one fixed real matrix per resolution (``averaging_map``), applied by matrix product in
    place of two FFTs; a first-order path no second-order path continues is never
    transformed back; and a second-order product is folded as it is made.
    """
    b, c = len(images), np.shape(images)[3]
    padded, (m, n), crop = _planes(images, J)
    bank = filter_bank(m, n, J, L)
    planes = len(padded)

    def averaged(spatial: np.ndarray, level: int) -> np.ndarray:  # (..., m_l, n_l) real
        if spatial.shape[-2] * spatial.shape[-1] > MAP_UP_TO:  # a larger map costs more
            low = _subsample(fft.fft2(spatial) * bank.phi[level], 2 ** (J - level))
            out = np.real(fft.ifft2(low))[..., crop[0] : crop[1], crop[2] : crop[3]]
            return out.reshape(*spatial.shape[:-2], -1)
        flat = spatial.reshape(-1, spatial.shape[-2] * spatial.shape[-1])
        return (flat @ averaging_map(m, n, J, L, level, crop)).reshape(*spatial.shape[:-2], -1)

    u0 = fft.fft2(padded)[:, None]  # (planes, 1, m, n)
    first, second = [], []  # kymatio's order: 0, every first-order path, every second
    for j1 in range(J):
        v1 = np.abs(fft.ifft2(_folded_product(u0, bank.psi[j1][0], 2**j1)[:, 0]))  # (planes, L, ..)
        first.append(averaged(v1, j1))
        if j1 == J - 1:
            continue
        u1 = fft.fft2(v1)
        children = []
        for j2 in range(j1 + 1, J):
            u2 = _folded_product(u1, bank.psi[j2][j1], 2 ** (j2 - j1))  # (planes, L, L, ..)
            children.append(averaged(np.abs(fft.ifft2(u2)), j2))
        second.append(np.concatenate(children, axis=2).reshape(planes, -1, children[0].shape[-1]))
    order0 = averaged(padded[:, None], 0)
    coefficients = np.concatenate([order0, *first, *second], axis=1)
    rows, cols = crop[1] - crop[0], crop[3] - crop[2]
    return coefficients.reshape(b, c * coefficients.shape[1], rows, cols)


def _folded_product(u1: np.ndarray, psi: np.ndarray, k: int) -> np.ndarray:
    """``_subsample(u1[:, :, None] * psi, k)``: (planes, L, L, m/k, n/k) from (planes, L, m, n)
    spectra and (L, m, n) real filter spectra, a block at a time (never the whole product
    in memory) and in real arithmetic (a complex number times a real one is two products)."""
    planes, L, m, n = u1.shape
    mk, nk = m // k, n // k
    pairs = np.ascontiguousarray(u1, np.complex64).view(np.float32)  # (planes, L, m, 2n)
    pairs = pairs.reshape(planes, L, k, mk, k, 2 * nk)
    filters = np.repeat(psi, 2, axis=-1).reshape(len(psi), k, mk, k, 2 * nk)
    out = np.empty((planes, L, len(psi), mk, 2 * nk), np.float32)
    term = np.empty_like(out) if k > 1 else None
    for a in range(k):
        for b in range(k):
            block = pairs[:, :, a, :, b][:, :, None]
            if a == b == 0:
                np.multiply(block, filters[:, a, :, b], out=out)
            else:
                out += np.multiply(block, filters[:, a, :, b], out=term)
    out *= 1 / (k * k)
    return out.view(np.complex64)


# Averaging by a matrix up to images of this many pixels (at their resolution): 80 x 80, the
# padded 64-pixel images the workbook's largest size makes; beyond, by FFTs as kymatio does
MAP_UP_TO = 80 * 80


@lru_cache(maxsize=32)
def averaging_map(
    m: int, n: int, J: int, L: int, level: int, crop: tuple[int, int, int, int]
) -> np.ndarray:
    """(m_l * n_l, rows * cols) real matrix: a real image at ``level`` (``m / 2**level`` x
    ``n / 2**level``) low-pass filtered, subsampled to ``2**J``-pixel windows and cropped,
    as ``scattering_plain`` averages it (the map is linear: made by averaging each pixel)."""
    bank = filter_bank(m, n, J, L)
    ml, nl = m >> level, n >> level
    rows = []
    for start in range(0, ml * nl, 1024):  # a block of pixels at a time: memory stays small
        basis = np.zeros((min(1024, ml * nl - start), ml * nl), np.float32)
        basis[np.arange(len(basis)), start + np.arange(len(basis))] = 1.0
        low = _subsample(fft.fft2(basis.reshape(-1, ml, nl)) * bank.phi[level], 2 ** (J - level))
        out = np.real(fft.ifft2(low))[:, crop[0] : crop[1], crop[2] : crop[3]]
        rows.append(out.reshape(len(basis), -1))
    return np.ascontiguousarray(np.concatenate(rows), np.float32)


def scattering_plain(images: np.ndarray, J: int, L: int = DEFAULT_ORIENTATIONS) -> np.ndarray:
    """``scattering`` as kymatio computes it, every step in Fourier space: the reference
    the fast one is tested and benchmarked against."""
    b, c = len(images), np.shape(images)[3]
    padded, (m, n), crop = _planes(images, J)
    bank = filter_bank(m, n, J, L)
    crop_shape = (crop[1] - crop[0], crop[3] - crop[2])

    def averaged(spectrum: np.ndarray, level: int) -> np.ndarray:
        low = _subsample(spectrum * bank.phi[level], 2 ** (J - level))
        out = np.real(fft.ifft2(low))
        return out[..., crop[0] : crop[1], crop[2] : crop[3]]

    u0 = fft.fft2(padded)[:, None]  # (planes, 1, m, n)
    first, second = [], []  # kymatio's order: 0, every first-order path, every second
    for j1 in range(J):
        u1 = fft.fft2(np.abs(fft.ifft2(_subsample(u0 * bank.psi[j1][0], 2**j1))))  # (planes, L, ..)
        first.append(averaged(u1, j1))
        children = []
        for j2 in range(j1 + 1, J):
            u2 = _subsample(u1[:, :, None] * bank.psi[j2][j1], 2 ** (j2 - j1))  # (planes, L, L, ..)
            children.append(averaged(fft.fft2(np.abs(fft.ifft2(u2))), j2))
        if children:
            second.append(np.concatenate(children, axis=2).reshape(len(padded), -1, *crop_shape))
    coefficients = np.concatenate([averaged(u0, 0), *first, *second], axis=1)
    return coefficients.reshape(b, c * coefficients.shape[1], *coefficients.shape[2:])
