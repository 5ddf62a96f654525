"""The decoder made lighter for inference: each batch normalisation folded into the
transposed convolution before it, and the stride-1 transposed convolutions turned into
plain convolutions. The same images within float rounding, in fewer passes over memory.

A batch normalisation at inference is ``y = gamma * (x - mean) / sqrt(var + eps) + beta``,
a per-channel scale and shift: folded into the kernel (each output channel's weights times
its scale) and the bias. A stride-1 transposed convolution with ``same`` padding is a plain
convolution with the kernel turned half a circle and its channel axes swapped.
"""

from __future__ import annotations

import weakref

import keras
import numpy as np
from keras import layers

_FOLDED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def folded_decoder(decoder: keras.Model) -> keras.Model:
    """The inference twin of ``decoder`` (``build_autoencoder``'s), made once per decoder
    and its weights; a decoder of another architecture is returned as it is."""
    try:
        names = {layer.name for layer in decoder.layers}
    except AttributeError:
        return decoder
    if not {"dec_dense", "dec_deconv1", "dec_bn1", "reconstruction"} <= names:
        return decoder
    stamp = _weights_stamp(decoder)
    cached = _FOLDED.get(decoder)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    twin = _fold(decoder)
    _FOLDED[decoder] = (stamp, twin)
    return twin


def _weights_stamp(model: keras.Model) -> tuple:
    """Changes whenever the weights do (cheap: a sum and a few values per array)."""
    return tuple(
        (float(w.sum()), float(w.flat[0]), float(w.flat[-1]), w.shape)
        for w in (np.asarray(v) for v in model.get_weights())
    )


def _fold(decoder: keras.Model) -> keras.Model:
    dense, reshape = decoder.get_layer("dec_dense"), decoder.get_layer("dec_reshape")
    code = keras.Input(shape=decoder.input_shape[1:], name="code_in")
    y = layers.Dense(dense.units, name="dec_dense")(code)
    y = layers.Reshape(reshape.target_shape, name="dec_reshape")(y)
    convs = []
    i = 1
    while _has(decoder, f"dec_deconv{i}"):
        deconv, bn = decoder.get_layer(f"dec_deconv{i}"), decoder.get_layer(f"dec_bn{i}")
        act = decoder.get_layer(f"dec_act{i}")
        kernel, bias = _with_batch_norm(deconv, bn)
        layer, kernel = _as_conv(deconv, kernel, f"dec_conv{i}", None)
        y = layer(y)
        convs.append((layer, kernel, bias))
        y = layers.LeakyReLU(negative_slope=act.negative_slope, name=f"dec_act{i}")(y)
        i += 1
    last = decoder.get_layer("reconstruction")
    kernel, bias = last.get_weights()
    layer, kernel = _as_conv(last, kernel, "reconstruction", last.activation)
    out = layer(y)
    convs.append((layer, kernel, bias))
    twin = keras.Model(code, out, name="decoder_folded")
    twin.get_layer("dec_dense").set_weights(dense.get_weights())
    for layer, kernel, bias in convs:
        layer.set_weights([kernel, bias])
    return twin


def _has(model: keras.Model, name: str) -> bool:
    return any(layer.name == name for layer in model.layers)


def _with_batch_norm(deconv, bn) -> tuple[np.ndarray, np.ndarray]:
    """The transposed convolution's kernel (kh, kw, out, in) and bias with ``bn`` folded in."""
    kernel, bias = (np.asarray(w, np.float64) for w in deconv.get_weights())
    gamma, beta, mean, var = (np.asarray(w, np.float64) for w in bn.get_weights())
    scale = gamma / np.sqrt(var + bn.epsilon)
    kernel = kernel * scale[None, None, :, None]
    return kernel.astype(np.float32), ((bias - mean) * scale + beta).astype(np.float32)


def _as_conv(deconv, kernel: np.ndarray, name: str, activation):
    """A layer doing what ``deconv`` does with ``kernel``: a plain convolution at stride 1
    (kernel turned half a circle, channel axes swapped), else a transposed one."""
    filters = kernel.shape[2]
    if tuple(deconv.strides) == (1, 1) and deconv.padding == "same":
        layer = layers.Conv2D(
            filters, deconv.kernel_size, padding="same", activation=activation, name=name
        )
        return layer, np.ascontiguousarray(kernel[::-1, ::-1].transpose(0, 1, 3, 2))
    layer = layers.Conv2DTranspose(
        filters,
        deconv.kernel_size,
        strides=deconv.strides,
        padding=deconv.padding,
        activation=activation,
        name=name,
    )
    return layer, kernel
