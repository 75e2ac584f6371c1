"""Odd real image files: each is either decoded correctly or refused with a reason."""

import numpy as np
import pytest
from PIL import Image

from semantic_hashing.retrieval.images import (
    UnreadableImage,
    list_images,
    load_image,
    sniff_channels,
)

from .conftest import png_claiming_size


@pytest.fixture
def gradient():
    x = np.linspace(0, 255, 40, dtype=np.uint8)
    return np.tile(x, (30, 1))  # 30 high, 40 wide, dark on the left


def test_readable_oddities(tmp_path, gradient):
    rgb = np.stack([gradient, gradient // 2, 255 - gradient], axis=2)
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "cmyk.jpg")
    Image.fromarray(gradient.astype(np.uint16) * 257).save(tmp_path / "deep.png")
    pal = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    pal.info["transparency"] = 0
    pal.save(tmp_path / "palette.png", transparency=0)
    frames = [Image.fromarray(gradient), Image.fromarray(255 - gradient)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    Image.new("L", (1, 1), 128).save(tmp_path / "one.png")
    Image.fromarray(rgb).convert("RGBA").save(tmp_path / "rgba.webp")
    for path in sorted(tmp_path.iterdir()):
        arr, info = load_image(path, 28, 3)
        assert arr.shape == (3, 28, 28) and arr.dtype == np.uint8, path
        assert info.width >= 1 and len(info.sha256) == 64
    deep, _ = load_image(tmp_path / "deep.png", 28, 1)
    assert deep[0, :, -1].mean() > 200 and deep[0, :, 0].mean() < 50  # 16 bits scaled, not clipped


def test_exif_rotation_is_applied(tmp_path, gradient):
    img = Image.fromarray(gradient)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    img.save(tmp_path / "rot.jpg", exif=exif, quality=95)
    arr, info = load_image(tmp_path / "rot.jpg", 28, 1)
    # displayed upright the image is 30 wide and 40 high, dark at the top
    assert arr[0, 0].mean() < arr[0, -1].mean()


@pytest.mark.parametrize(
    "make,reason",
    [
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_text("just text"), "not an image"),
        (lambda p: png_claiming_size(p, 20000, 20000), "too large"),
    ],
)
def test_refused_files(tmp_path, make, reason):
    path = tmp_path / "bad.png"
    make(path)
    with pytest.raises(UnreadableImage, match=reason):
        load_image(path, 28, 1)


def test_truncated_jpeg(tmp_path, gradient):
    Image.fromarray(gradient).save(tmp_path / "full.jpg")
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(UnreadableImage, match="truncated"):
        load_image(tmp_path / "cut.jpg", 28, 1)


def test_listing_skips_links_loops_and_other_files(tmp_path, gradient):
    (tmp_path / "a" / "b").mkdir(parents=True)
    Image.fromarray(gradient).save(tmp_path / "a" / "b" / "x.PNG")
    Image.fromarray(gradient).save(tmp_path / "a" / "y.jpeg")
    (tmp_path / "a" / "notes.txt").write_text("no")
    (tmp_path / "a" / "loop").symlink_to(tmp_path / "a")
    (tmp_path / "dangling.jpg").symlink_to(tmp_path / "gone.jpg")
    found = list_images(tmp_path)
    assert [p.name for p in found] == ["x.PNG", "y.jpeg", "dangling.jpg"]
    with pytest.raises(UnreadableImage, match="cannot read"):
        load_image(tmp_path / "dangling.jpg", 28, 1)
    assert sniff_channels(found) == 1
