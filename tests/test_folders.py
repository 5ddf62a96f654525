"""Reading a user's folder: every format and mode, nesting, clutter, and bad files skipped."""

import numpy as np
import pytest
from PIL import Image

from helpers.data import folders as F
from helpers.data import images as I
from tests import piles


@pytest.fixture(scope="module")
def pile(tmp_path_factory, fashion_mnist):
    (_, _), (x_test, y_test) = fashion_mnist
    root = tmp_path_factory.mktemp("pile")
    paths = piles.write_good_images(root, x_test[:40])
    bad = piles.write_bad_files(root / "batch1", x_test[0])
    piles.write_clutter(root, x_test[0])
    return root, paths, bad, x_test[:40]


def test_listing_walks_nested_folders_and_leaves_hidden_files_and_loops(pile):
    root, paths, bad, _ = pile
    files, others = F.list_image_files(root)
    rel = {f.relative_to(root).as_posix() for f in files}
    assert rel == set(paths) | {f"batch1/{name}" for name in bad}
    assert others == {".txt": 1}
    with pytest.raises(FileNotFoundError, match="nowhere"):
        F.list_image_files(root / "nowhere")


def test_every_format_and_mode_reads_as_the_same_picture(pile):
    root, paths, _, originals = pile
    for rel, original in zip(paths, originals, strict=True):
        pixels, info = I.read_image(root / rel, I.ImageFormat(28, "grey", "stretch"))
        assert pixels.shape == (28, 28, 1) and pixels.dtype == np.uint8, rel
        # transparent pixels (the black background here) go onto white
        transparent = info["mode"] in ("RGBA", "P") and rel.endswith((".webp", ".png"))
        expected = np.where(original > 0, original, 255) if transparent else original
        if info["mode"] == "P" and not transparent:
            continue  # GIF palettes quantise; its first frame is still checked below
        if info["mode"] == "P":
            expected = np.where(original > 0, original, 255)
        error = np.abs(pixels[..., 0].astype(int) - expected.astype(int)).mean()
        assert error < 12, (rel, info, error)
    gif = next(p for p in paths if p.endswith(".gif"))
    first, info = I.read_image(root / gif)
    assert info["format"] == "GIF" and first.max() > 0  # the first frame, not the black one


def test_sixteen_bit_greyscale_is_scaled_not_clipped(tmp_path):
    Image.fromarray(np.full((8, 8), 32768, np.uint16)).save(tmp_path / "half.tif")
    pixels, info = I.read_image(tmp_path / "half.tif", I.ImageFormat(8))
    assert info["mode"].startswith("I;16") and abs(int(pixels.mean()) - 128) <= 1


def test_exif_rotated_photo_is_turned_upright(tmp_path):
    tall = np.zeros((40, 20), np.uint8)
    tall[:5] = 255  # a bright band at the top of a tall picture
    stored = Image.fromarray(tall).rotate(90, expand=True)  # stored lying on its side
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to view"
    stored.save(tmp_path / "photo.jpg", exif=exif.tobytes(), quality=95)
    pixels, info = I.read_image(tmp_path / "photo.jpg", I.ImageFormat(40, "grey", "stretch"))
    assert (info["width"], info["height"]) == (40, 20)  # as stored
    assert pixels[:4].mean() > 200 and pixels[-10:].mean() < 30  # upright: band on top


@pytest.mark.parametrize("fit", I.FITS)
def test_fit_keeps_or_drops_the_aspect_ratio(tmp_path, fit):
    wide = np.full((20, 60, 3), (200, 30, 30), np.uint8)
    wide[:, 20:40] = (10, 200, 10)  # a green square in the middle of a red strip
    Image.fromarray(wide).save(tmp_path / "wide.png")
    pixels, _ = I.read_image(tmp_path / "wide.png", I.ImageFormat(12, "rgb", fit))
    assert pixels.shape == (12, 12, 3)
    centre, corner = pixels[6, 6], pixels[0, 0]
    assert centre[1] > 150  # green in the middle whatever the fit
    if fit == "pad":  # padded with the border colour (red), aspect kept
        assert corner[0] > 150 and pixels[:, 0, 0].mean() > 150
    elif fit == "crop":  # only the middle square is left
        assert corner[1] > 150
    else:  # stretch: the red ends are squeezed in from the sides
        assert corner[0] > 150 and pixels[6, 0, 0] > 150


def test_bad_files_are_skipped_with_a_reason_and_nothing_else_is_lost(pile):
    root, paths, bad, _ = pile
    found = F.read_folder(root, I.ImageFormat())
    assert found.paths == sorted(paths)
    reasons = dict(found.skipped)
    assert set(reasons) == {f"batch1/{name}" for name in bad}
    for name, word in bad.items():
        assert word in reasons[f"batch1/{name}"], (name, reasons[f"batch1/{name}"])
    assert found.images.shape == (len(paths), 28, 28, 1)
    assert found.other_files == {".txt": 1}


def test_a_file_that_vanishes_before_it_is_read_is_skipped(tmp_path, fashion_mnist):
    (_, _), (x_test, _) = fashion_mnist
    paths = piles.write_good_images(tmp_path, x_test[:3])
    files = [tmp_path / p for p in paths]
    (tmp_path / paths[1]).unlink()
    found = F.read_files(tmp_path, files, I.ImageFormat())
    assert len(found) == 2 and "vanished" in dict(found.skipped)[paths[1]]


def test_a_folder_with_nothing_readable_is_one_clear_error(tmp_path):
    (tmp_path / "broken.png").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match=f"{tmp_path}.*no readable image"):
        F.read_folder(tmp_path)


def test_formats_are_checked():
    with pytest.raises(ValueError, match="multiple of 4"):
        I.ImageFormat(30)
    with pytest.raises(ValueError, match="color"):
        I.ImageFormat(28, "sepia")
    assert I.ImageFormat(32, "rgb").shape == (32, 32, 3)


def test_chunks_and_threads_do_not_change_what_is_read(pile, monkeypatch):
    whole = F.read_folder(pile[0], workers=1)
    monkeypatch.setattr(F, "CHUNK", 3)
    chunked = F.read_folder(pile[0], workers=4)
    np.testing.assert_array_equal(chunked.images, whole.images)
    assert chunked.paths == whole.paths and chunked.skipped == whole.skipped
    assert chunked.skipped and chunked.info == whole.info


def test_describe_groups_formats_and_sizes():
    info = [
        {"width": 28, "height": 28, "mode": "L", "format": "PNG"},
        {"width": 40, "height": 30, "mode": "L", "format": "PNG"},
        {"width": 640, "height": 480, "mode": "RGB", "format": "JPEG"},
    ]
    table = F.describe(info)
    assert table[0] == {
        "format": "PNG",
        "mode": "L",
        "images": 2,
        "width": "28-40",
        "height": "28-30",
    }
    assert table[1]["images"] == 1 and table[1]["width"] == "640"


FORMATS = [  # (file name, Pillow format, mode written, extra save options)
    ("face.pgm", "PPM", "L", {}),
    ("face.ppm", "PPM", "RGB", {}),
    ("photo.avif", "AVIF", "RGB", {"quality": 95}),
    ("photo.jfif", "JPEG", "L", {"quality": 95}),
    ("photo.jpe", "JPEG", "RGB", {"quality": 95}),
    ("image.qoi", "QOI", "RGB", {}),
    ("camera.mpo", "MPO", "RGB", {"quality": 95, "save_all": True}),
    ("phone.heic", "HEIF", "RGB", {"quality": -1}),
    ("scan.tga", "TGA", "L", {}),
    ("scan.jp2", "JPEG2000", "L", {}),
    ("scan.sgi", "SGI", "L", {}),
    ("scan.pcx", "PCX", "L", {}),
]


def test_every_pixel_format_pillow_reads_is_an_image_file(tmp_path, fashion_mnist):
    (_, _), (x_test, _) = fashion_mnist
    assert {".pgm", ".ppm", ".pbm", ".avif", ".jfif", ".qoi", ".mpo", ".heic", ".psd"} <= set(
        I.IMAGE_SUFFIXES
    )
    assert not {".pdf", ".eps", ".mpeg", ".h5", ".grib"} & set(I.IMAGE_SUFFIXES)
    picture = x_test[0]
    for name, fmt, mode, options in FORMATS:
        image = Image.fromarray(picture).convert(mode)
        if options.get("save_all"):  # a camera's multi-picture file: two frames
            options = {**options, "append_images": [Image.new(mode, image.size)]}
        image.save(tmp_path / name, fmt, **options)
    files, others = F.list_image_files(tmp_path)
    assert sorted(f.name for f in files) == sorted(n for n, *_ in FORMATS) and not others
    folder = F.read_folder(tmp_path, I.ImageFormat(28, "grey", "stretch"))
    assert not folder.skipped and len(folder) == len(FORMATS)
    for rel, pixels in zip(folder.paths, folder.images, strict=True):
        error = np.abs(pixels[..., 0].astype(int) - picture.astype(int)).mean()
        assert error < 12, (rel, error)  # the same picture, give or take compression
        if rel.endswith((".pgm", ".ppm", ".qoi", ".tga", ".sgi", ".pcx")):  # lossless
            np.testing.assert_array_equal(pixels[..., 0], picture, err_msg=rel)
    kinds = {row["format"] for row in folder.info}
    assert {"PPM", "AVIF", "JPEG", "QOI", "MPO", "HEIF", "TGA", "JPEG2000"} <= kinds


def test_fifos_sockets_and_devices_are_skipped_without_opening(tmp_path, fashion_mnist):
    import os
    import socket

    (_, _), (x_test, _) = fashion_mnist
    Image.fromarray(x_test[0]).save(tmp_path / "good.png")
    os.mkfifo(tmp_path / "pipe.png")  # opening it to read would wait for a writer forever
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(tmp_path / "socket.png"))
        (tmp_path / "zeros.png").symlink_to("/dev/zero")  # a device that never ends
        (tmp_path / "nothing.png").symlink_to(tmp_path / "missing.png")
        folder = F.read_folder(tmp_path)
    assert folder.paths == ["good.png"]
    assert dict(folder.skipped) == {
        "nothing.png": "a link to nothing",
        "pipe.png": "not a regular file (a FIFO)",
        "socket.png": "not a regular file (a socket)",
        "zeros.png": "not a regular file (a character device)",
    }


def _peak_memory_of_reading(folder, fmt: str, limit_bytes: int, timeout: int):
    """Read ``folder`` in a child process whose address space is capped: its peak resident
    memory (bytes), what it read and skipped. Past the cap it fails instead of the machine."""
    import json
    import resource
    import subprocess
    import sys

    code = (
        "import json, sys\n"
        "from helpers.data import folders as F\n"
        "from helpers.data import images as I\n"
        f"folder = F.read_folder(sys.argv[1], I.ImageFormat(28, 'grey', {fmt!r}), workers=2)\n"
        "status = open('/proc/self/status').read().split('VmHWM:')[1]\n"
        "peak = int(status.split()[0]) * 1024  # this program's own peak (getrusage's\n"
        "# ru_maxrss keeps the forking parent's across exec)\n"
        "print(json.dumps({'peak': peak, 'read': folder.paths, 'skipped': folder.skipped}))\n"
    )

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))

    done = subprocess.run(
        [sys.executable, "-c", code, str(folder)],
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=cap,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_extreme_shapes_fit_in_memory_the_image_needs(tmp_path):
    # a long strip: padding it to a square of its long side would take 400,000^2 bytes
    Image.new("L", (400_000, 4), 200).save(tmp_path / "strip.png")
    Image.new("RGB", (3, 300_000), (0, 0, 255)).save(tmp_path / "pole.png")
    for fit in ("pad", "crop", "stretch"):
        out = _peak_memory_of_reading(tmp_path, fit, 2 << 30, timeout=120)
        assert sorted(out["read"]) == ["pole.png", "strip.png"], out["skipped"]
        assert out["peak"] < 600 << 20, (fit, out["peak"])
    pixels, _ = I.read_image(tmp_path / "strip.png", I.ImageFormat(28, "grey", "pad"))
    assert pixels.shape == (28, 28, 1) and pixels[14, :, 0].min() == 200  # the strip itself


def test_seeded_fuzz_of_every_format_never_hangs_or_overallocates(tmp_path, fashion_mnist):
    """Truncations and flipped header bytes at seeded places in every format: each file is
    read or skipped with a reason, within a timeout and a memory cap."""
    (_, _), (x_test, _) = fashion_mnist
    rng = np.random.default_rng(0)
    clean = tmp_path / "clean"
    clean.mkdir()
    for i, (name, fmt, mode, options) in enumerate(FORMATS + [("a.gif", "GIF", "L", {})]):
        Image.fromarray(x_test[i]).convert(mode).save(clean / name, fmt, **options)
    for fmt in ("PNG", "TIFF", "BMP", "WEBP"):
        Image.fromarray(x_test[0]).save(clean / f"a.{fmt.lower()}", fmt)
    fuzzed = tmp_path / "fuzzed"
    fuzzed.mkdir()
    made = 0
    for path in sorted(clean.iterdir()):
        data = path.read_bytes()
        for j in range(8):
            mutated = bytearray(data)
            if j < 3:  # cut short
                mutated = mutated[: int(rng.integers(1, len(data)))]
            else:  # a byte flipped among the first 64 (the header), sometimes two
                for at in rng.integers(0, min(64, len(data)), 1 + j % 2):
                    mutated[at] ^= int(rng.integers(1, 256))
            (fuzzed / f"{path.stem}-{j}{path.suffix}").write_bytes(bytes(mutated))
            made += 1
    out = _peak_memory_of_reading(fuzzed, "pad", 3 << 30, timeout=300)
    assert len(out["read"]) + len(out["skipped"]) == made
    assert all(reason for _, reason in out["skipped"])
    assert out["peak"] < 1 << 30
