"""The image kind (retrieval/kinds/image.py): files, model input, queries, baseline,
similarity and what is shown, each hook on small seeded images."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.families import build_model, family_config
from semantic_hashing.retrieval.fitting import TrainSpec
from semantic_hashing.retrieval.inputs import ImageInput
from semantic_hashing.retrieval.kinds import get_kind
from semantic_hashing.retrieval.models import ModelConfig

from .conftest import make_image_folder

IMAGE = get_kind("image")


def store(path="c.semhash", size=28, channels=1):
    """What the hooks use of a collection: its path and its encoder's config."""
    config = ModelConfig(image_size=size, channels=channels)
    return SimpleNamespace(path=Path(path), encoder=SimpleNamespace(config=config))


@pytest.fixture
def folder(tmp_path) -> Path:
    root = make_image_folder(tmp_path / "imgs", per_class=2)
    (root / "notes.txt").write_text("not an image")
    (root / "bars" / "broken.png").write_bytes(b"\x89PNG not really")
    return root


def test_listing_reading_and_features(folder):
    paths = IMAGE.list(folder)
    assert len(paths) == 7 and all(p.suffix == ".png" for p in paths)  # notes.txt left out
    assert IMAGE.found_in(folder) and IMAGE.accept(Path("a.JPG"))
    loaded = IMAGE.read(paths, None, TrainSpec(), show=False, workers=1)
    assert loaded.items.shape == (6, 1, 28, 28) and loaded.items.dtype == np.uint8
    assert [Path(p).name for p, _ in loaded.skipped] == ["broken.png"]
    assert {"sha256", "width", "height", "mode", "title"} <= set(loaded.meta[0])
    assert IMAGE.features(loaded, None) is loaded.items and IMAGE.unencodable(loaded.items) is None
    assert IMAGE.item_bytes(None, TrainSpec(image_size=32)) == 3 * 32 * 32 + 512
    fitted = IMAGE.training_rows(loaded, TrainSpec())
    assert fitted.kind == "image" and fitted.fields == {"channels": 1, "image_size": 28}


def test_model_side(folder):
    cfg = ModelConfig(channels=3, image_size=32)
    assert IMAGE.input_shape(cfg) == (3, 32, 32)
    assert isinstance(IMAGE.input_module(cfg), ImageInput)
    IMAGE.check_config(cfg)
    with pytest.raises(SemhashError, match="multiple of 4, not 30"):
        IMAGE.check_config(ModelConfig(image_size=30))
    assert (IMAGE.preset_inputs(1), IMAGE.preset_inputs(3)) == ("gray", "color")
    rows = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, -1)  # stored flat
    assert IMAGE.model_input(rows, store()).shape == (2, 1, 28, 28)
    assert IMAGE.inputs_from(rows, store("b"), store()).shape == (2, 1, 28, 28)
    with pytest.raises(SemhashError, match="1x32x32 inputs and c.semhash 1x28x28"):
        IMAGE.inputs_from(np.zeros((1, 32 * 32), np.uint8), store("b", 32), store())


def test_queries(folder, tmp_path):
    names, inputs, skipped = IMAGE.load_queries(folder, store())
    assert len(names) == 6 and inputs.shape == (6, 1, 28, 28) and len(skipped) == 1
    with pytest.raises(SemhashError, match="is not an image file"):
        IMAGE.load_queries(folder / "notes.txt", store())
    with pytest.raises(SemhashError, match="cannot be read"):
        IMAGE.load_queries(folder / "bars" / "broken.png", store())
    with pytest.raises(SemhashError, match="c.semhash is an image collection; --text needs"):
        IMAGE.typed_query("hello", store())
    file = sorted((folder / "bars").glob("bars-*.png"))[0]
    as_file = IMAGE.load_queries(file, store())[1]
    for given in (np.asarray(Image.open(file)), file.read_bytes(), Image.open(file)):
        names, inputs, _ = IMAGE.in_memory_query(given, store())
        assert names == ["(uploaded image)"] and np.array_equal(inputs, as_file)  # one code
    with pytest.raises(SemhashError, match="HxW, HxWx3 or HxWx4"):
        IMAGE.in_memory_query(np.zeros((2, 2, 2, 2)), store())
    with pytest.raises(SemhashError, match="the image cannot be read"):
        IMAGE.in_memory_query(b"GIF8 garbage", store())


def test_baseline_features_and_similarity():
    rng = np.random.default_rng(0)
    db = rng.integers(0, 256, (50, 1, 8, 8), dtype=np.uint8)
    flat = db.reshape(50, -1)
    D, rows = IMAGE.baseline(flat, db[[3, 9]], 2)
    assert rows[:, 0].tolist() == [3, 9] and np.allclose(D[:, 0], 0)
    with pytest.raises(SemhashError, match="keeps no raw data"):
        IMAGE.baseline(None, db[:1], 2)
    a, b, metric = IMAGE.raw_features(db, db[:5])
    assert metric == "l2" and a.shape == (50, 64) and b.max() <= 1.0
    same = IMAGE.similarity(db[:4], db[:4])
    assert np.allclose(same, 1.0, atol=1e-5)
    assert IMAGE.pair_similarity(db, db, np.array([0, 1]), np.array([0, 2]))[0] > 0.99


def test_what_is_shown(folder, tmp_path):
    file = sorted((folder / "columns").glob("*.png"))[0]
    stored = np.full((1, 28 * 28), 200, np.uint8)
    enc = store().encoder
    img = IMAGE.thumbnail({"path": str(file), "title": file.name}, 64, lambda: (stored, enc))
    assert max(img.size) <= 64
    gone = IMAGE.thumbnail({"path": str(tmp_path / "gone.png")}, 56, lambda: (stored, enc))
    assert gone.size == (56, 56) and gone.getpixel((0, 0)) == 200  # the stored input
    with pytest.raises(SemhashError):
        IMAGE.preview({"path": str(file)}, lambda: (stored, enc))
    assert IMAGE.page_fields({"image_size": 28, "channels": 1}) == {"image_size": 28,
                                                                    "channels": 1}  # fmt: skip
    model = build_model(family_config("conv-dae", bits=8)).eval()
    x = torch.rand(1, 28, 28)
    with torch.no_grad():  # as query.reconstruct runs it
        out = model(x[None])[1][0]
    rec = IMAGE.reconstruction(SimpleNamespace(extra={}), x, x * 2, out, out, 12)
    assert set(rec) == {"input", "corrupted", "reconstruction", "clean_reconstruction"}
    assert rec["corrupted"].max() <= 1 and rec["reconstruction"].shape == (1, 28, 28)
