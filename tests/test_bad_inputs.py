"""The bad-input corpus through the whole pipeline: no crash, no hang, every skip reported."""

import os

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from semantic_hashing.cli import cli
from semantic_hashing.retrieval.images import UnreadableImage, list_images, load_image

from .conftest import make_image_folder, png_claiming_size


def make_corpus(root):
    """Odd files beside good ones; returns {name: expected skip reason or None if readable}."""
    good = make_image_folder(root / "good", per_class=4)
    odd = root / "odd"
    odd.mkdir()
    grad = np.tile(np.linspace(0, 255, 40, dtype=np.uint8), (30, 1))
    rgb = np.stack([grad, grad // 2, 255 - grad], axis=2)
    Image.fromarray(grad).save(odd / "full.jpg")
    data = (odd / "full.jpg").read_bytes()
    (odd / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (odd / "full.jpg").unlink()
    (odd / "zero.png").write_bytes(b"")
    (odd / "text.jpg").write_text("I am not a picture")
    Image.fromarray(rgb).convert("CMYK").save(odd / "cmyk.jpg")
    Image.fromarray(grad.astype(np.uint16) * 257).save(odd / "deep16.png")
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=8).save(
        odd / "palette.png", transparency=0
    )
    frames = [Image.fromarray(grad), Image.fromarray(255 - grad)]
    frames[0].save(odd / "anim.gif", save_all=True, append_images=frames[1:])
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(grad).save(odd / "rotated.jpg", exif=exif)
    Image.new("L", (1, 1), 7).save(odd / "one.png")
    png_claiming_size(odd / "bomb.png", 20000, 20000)
    (odd / "broken-link.png").symlink_to(odd / "nowhere.png")
    (odd / "loop").symlink_to(odd)
    long_name = "é" * 100 + ".png"  # 200+ bytes, still a legal name
    Image.fromarray(grad).save(odd / long_name)
    Image.fromarray(grad).save(odd / "日本語 ünïcode.png")
    os.mkfifo(odd / "pipe.png")
    expected = {
        "truncated.jpg": "truncated", "zero.png": "empty file", "text.jpg": "not an image",
        "bomb.png": "too large", "broken-link.png": "cannot read", "pipe.png": "not a regular",
    }  # fmt: skip
    return good, odd, expected


def test_corpus_no_crash_each_skip_reported(tmp_path):
    _, odd, expected = make_corpus(tmp_path / "photos")
    coll = tmp_path / "c.semhash"
    result = CliRunner().invoke(
        cli, ["index", str(tmp_path / "photos"), "-c", str(coll), "--bits", "16", "--epochs", "1"]
    )
    assert result.exit_code == 0, result.output
    for name, reason in expected.items():
        line = next(
            ln for ln in result.stderr.splitlines() if ln.startswith(f"skipped {odd / name}")
        )
        assert reason in line, line
    readable = len(list_images(tmp_path / "photos")) - len(expected)
    assert f"added {readable}," in result.stdout
    log = (coll / "index.log").read_text()
    assert all(name in log for name in expected)
    check = CliRunner().invoke(cli, ["check", str(coll)])
    assert check.exit_code == 0 and "ok" in check.output


def test_file_deleted_between_listing_and_reading(tmp_path):
    make_image_folder(tmp_path, per_class=1)
    paths = list_images(tmp_path)
    paths[0].unlink()
    with pytest.raises(UnreadableImage, match="cannot read"):
        load_image(paths[0], 28, 1)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_permissions(tmp_path):
    Image.new("L", (4, 4)).save(tmp_path / "secret.png")
    os.chmod(tmp_path / "secret.png", 0)
    with pytest.raises(UnreadableImage, match="cannot read"):
        load_image(tmp_path / "secret.png", 28, 1)


def test_folder_with_no_images(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.bin").write_bytes(b"\x00\x01")
    result = CliRunner().invoke(
        cli, ["index", str(tmp_path / "docs"), "-c", str(tmp_path / "c"), "--kind", "image"]
    )
    assert result.exit_code == 1 and "no image files" in result.output
    assert not (tmp_path / "c" / "collection.json").exists()
