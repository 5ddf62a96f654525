"""Settings chosen from the pile: colour or grey, image size, epochs in the budget."""

import numpy as np
import pytest
from PIL import Image

from helpers.data.inputs import Inputs, resolve_inputs
from helpers.data.pile_settings import MIN_EPOCHS, default_epochs, look_at_pile


def _write(root, pictures, colour: bool, side: int):
    root.mkdir()
    rng = np.random.default_rng(0)
    paths = []
    for i, picture in enumerate(pictures):
        grey = Image.fromarray(picture).resize((side, side))
        if colour:  # the picture in a colour of its own, on a coloured ground
            tint = rng.integers(0, 256, 3)
            pixels = np.asarray(grey, np.float32)[..., None] / 255
            rgb = pixels * tint + (1 - pixels) * tint[::-1]
            image = Image.fromarray(rgb.astype(np.uint8), "RGB")
        else:
            image = grey.convert("RGB")  # grey saved as RGB: its channels agree
        path = root / f"{i:03d}.{'jpg' if i % 2 else 'png'}"
        image.save(path)
        paths.append(path)
    return paths


def test_colour_photos_get_colour_and_a_size_they_fill(tmp_path, fashion_mnist):
    (_, _), (x_test, _) = fashion_mnist
    colour = look_at_pile(_write(tmp_path / "colour", x_test[:60], True, 100))
    assert (colour.color, colour.image_size) == ("rgb", 64) and colour.colour_share > 0.9
    grey = look_at_pile(_write(tmp_path / "grey", x_test[:60], False, 100))
    assert (grey.color, grey.image_size) == ("grey", 64) and grey.colour_share == 0.0
    small = look_at_pile(_write(tmp_path / "small", x_test[:60], True, 20))
    assert (small.color, small.image_size) == ("rgb", 28)  # never below the tutorial's model
    text = colour.describe(60, True, True)
    assert "COLOR 'auto' -> 'rgb'" in text and "IMAGE_SIZE 'auto' -> 64" in text


def test_a_large_pile_keeps_its_training_within_the_budget(tmp_path, fashion_mnist):
    (_, _), (x_test, _) = fashion_mnist
    files = _write(tmp_path / "pile", x_test[:40], True, 100)
    look = look_at_pile(files * 500)  # 20,000 images: 64 x 64 colour would train 2 epochs
    assert look.image_size == 28 and default_epochs(20_000, (28, 28, 3)) < MIN_EPOCHS
    assert default_epochs(20_000, (look.image_size,) * 2 + (3,)) >= 1


def test_auto_is_the_default_for_a_folder_and_an_explicit_value_wins(monkeypatch):
    for name in ("WORKBOOK_IMAGE_SIZE", "WORKBOOK_COLOR", "WORKBOOK_DATA"):
        monkeypatch.delenv(name, raising=False)
    assert (Inputs().image_size, Inputs().color) == (28, "grey")  # Fashion-MNIST
    folder = resolve_inputs(data="pile", examples="ex")
    assert (folder.image_size, folder.color) == ("auto", "auto") and folder.is_auto
    with pytest.raises(ValueError, match="'auto' until"):
        folder.format  # noqa: B018
    fixed = resolve_inputs(data="pile", examples="ex", image_size="32", color="AUTO")
    assert (fixed.image_size, fixed.color) == (32, "auto")


def test_setup_says_what_auto_chose_and_records_it(tmp_path, fashion_mnist, capsys):
    from helpers.run.workflow import setup

    (_, _), (x_test, y_test) = fashion_mnist
    pile = tmp_path / "pile"
    _write(pile, x_test[:30], True, 48)
    examples = tmp_path / "examples"
    for c in (0, 1):
        (examples / str(c)).mkdir(parents=True)
        Image.open(pile / "000.png").save(examples / str(c) / "a.png")
    _, run, split = setup("smoke", str(tmp_path / "run"), data=str(pile), examples=str(examples))
    printed = capsys.readouterr().out
    assert "COLOR 'auto' -> 'rgb'" in printed and "IMAGE_SIZE 'auto' -> 48" in printed
    assert split.image_shape == (48, 48, 3)
    assert (run.load_json("inputs.json")["image_size"], run.load_json("inputs.json")["color"]) == (
        48,
        "rgb",
    )
    assert split.original(0).shape == (96, 96, 3)  # the explorer's thumbnail, from the file
