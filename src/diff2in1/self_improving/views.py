"""Views of an image: the clean one, its mirror, and a fixed bank of perturbed ones (crop, flip, colour, noise).

The self-improving stage gives the teacher (θC) an ensemble of views of each sample and the student (θE)
one perturbed view. Every view is a deterministic function of (image key, view index, bank settings), so
the frozen backbone's features of a view can be cached like those of the image itself (``ViewBank.spec``
hands a view to the engine's ``FeatureCache``), and a resumed run sees the same views.

- view 0: the image itself;
- view 1: its mirror (normals' x negated);
- views 1000 + k: the image itself with noise draw k (1000: the release's teacher pass), and 2000 + k:
  its mirror with noise draw k (diffusion-native ensembles of several noise draws);
- views 2 … n-1: random resized crop (side fraction in [crop_min_scale, 1]), a coin-flip mirror, colour
  jitter of the given strength, and a noise draw of their own for the perception pass;
- views 3000 + k: the image (k even) or its mirror (k odd) moved diagonally by ``shift`` of its side, in
  direction k // 2 of four: the same camera, the scene on another phase of the UNet's strided grid.

A view maps full-image coordinates u (normalised to [-1, 1]) to view coordinates by x = (u - centre) /
scale: ``warp`` turns full-frame maps into view-frame maps (labels for the student), ``unwarp`` turns a
view's predictions back into the full frame with the part of the frame the view covers (teacher ensemble).
Depth follows the zoom: a crop of side fraction s shows the scene as if s times closer, so its depth is
scaled by s (metric depth unchanged by a zoom would teach the head that apparent size says nothing).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch

from ..perception.identity import CLEAN, MIRROR, noise_seed
from ..tasks import BINARY_TASKS, CLASS_TASKS, DEPTH, NORMAL
from ..training.augment import jitter_colours
from ..training.augment import resample as _resample
from ..training.feature_cache import ViewSpec, image_view

SECOND_NOISE = 1000  # the clean view with a noise draw of its own (the release's second UNet pass)
MIRROR_NOISE = 2000  # 2000 + k: the mirror with noise draw k
SHIFTED = 3000  # 3000 + k: the image (k even) or mirror (k odd), shifted diagonally in direction k // 2
SHIFT_DIRECTIONS = ((1, 1), (-1, -1), (1, -1), (-1, 1))


def is_unperturbed(view: int) -> bool:
    """The image or its mirror, whatever the noise draw: pixels that do not depend on the bank."""
    return view in (CLEAN, MIRROR) or SECOND_NOISE <= view < SHIFTED


def _mirror_image(view: int) -> bool:
    """An unperturbed view that shows the mirror."""
    return view == MIRROR or view >= MIRROR_NOISE


def is_shifted(view: int) -> bool:
    return SHIFTED <= view < SHIFTED + 2 * len(SHIFT_DIRECTIONS)


def shifted_views(count: int) -> list[int]:
    """The first ``count`` shifted views: each direction's image and mirror in turn."""
    if not 0 <= count <= 2 * len(SHIFT_DIRECTIONS):
        raise ValueError(f"shifted views: between 0 and {2 * len(SHIFT_DIRECTIONS)}, got {count}")
    return [SHIFTED + k for k in range(count)]


@dataclass(frozen=True)
class ViewBank:
    """Settings of the perturbed views; ``num_views`` counts the clean view and the mirror too."""

    num_views: int = 2
    crop_min_scale: float = 0.7
    jitter: float = 0.2
    seed: int = 0
    shift: float = 1 / 32  # of the image side, for the shifted views (2 pixels at 64)

    def __post_init__(self) -> None:
        if self.num_views < 1:
            raise ValueError(f"ViewBank: num_views must be >= 1 (1 = the clean view only), got {self.num_views}")
        if not 0.0 < self.crop_min_scale <= 1.0 or self.jitter < 0:
            raise ValueError(f"ViewBank: need 0 < crop_min_scale <= 1 and jitter >= 0, got {self.crop_min_scale}, "
                             f"{self.jitter}")
        if not 0.0 <= self.shift < 0.5:
            raise ValueError(f"ViewBank: need 0 <= shift < 0.5 (a share of the image side), got {self.shift}")

    def tag(self, view: int) -> str:
        """What a view's pixels depend on: the clean view and the mirror do not depend on the bank."""
        if is_unperturbed(view):
            return f"v{view}"
        if is_shifted(view):
            return f"v{view}-shift{self.shift:g}"
        return f"v{view}-{self.crop_min_scale:g}-{self.jitter:g}-{self.seed}"

    def spec(self, view: int) -> ViewSpec:
        """The view as the engine's feature cache knows it. The image and its mirror, whatever the noise draw,
        are exact pixels (not resampled): views 0 and 1 are the entries the warm-up's image and flip use."""
        if is_unperturbed(view):
            return image_view(view, mirror=_mirror_image(view))
        return ViewSpec(self.tag(view), view, partial(_view_pixels, self, view))

    def params(self, keys: list[str], view: int) -> ViewParams:
        """The view ``view`` of the images with cache keys ``keys`` (one draw per image and view)."""
        n = len(keys)
        if is_unperturbed(view):
            return ViewParams(torch.full((n,), _mirror_image(view)), torch.ones(n), torch.zeros(n, 2), torch.ones(n, 3),
                              [noise_seed(k, view) for k in keys])
        if is_shifted(view):
            direction = torch.tensor(SHIFT_DIRECTIONS[(view - SHIFTED) // 2], dtype=torch.float32)
            centre = (2 * self.shift * direction).expand(n, 2).clone()  # [-1, 1] spans the side twice
            return ViewParams(torch.full((n,), (view - SHIFTED) % 2 == 1), torch.ones(n), centre, torch.ones(n, 3),
                              [noise_seed(k, view) for k in keys])
        draws = np.stack([_draws(key, view, self.seed) for key in keys])
        scale = self.crop_min_scale + (1 - self.crop_min_scale) * draws[:, 0]
        centre = (draws[:, 1:3] * 2 - 1) * (1 - scale[:, None])
        colour = 1 + (draws[:, 4:7] * 2 - 1) * self.jitter
        return ViewParams(torch.from_numpy(draws[:, 3] < 0.5), torch.from_numpy(scale).float(),
                          torch.from_numpy(centre).float(), torch.from_numpy(colour).float(),
                          [noise_seed(k, view) for k in keys])


def _view_pixels(bank: ViewBank, view: int, images: torch.Tensor, keys: list[str]) -> torch.Tensor:
    return apply_view(images, bank.params(keys, view))


def view_params(bank: ViewBank, keys: list[str], rows: torch.Tensor, views: torch.Tensor) -> ViewParams:
    """The ViewParams of each (row, view) pair of a sample set whose image keys are ``keys``."""
    return ViewParams.stack([bank.params([keys[i]], v) for i, v in zip(rows.tolist(), views.tolist())])


def _draws(key: str, view: int, seed: int) -> np.ndarray:
    digest = hashlib.sha256(f"{key}:{view}:{seed}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little")).random(7)


@dataclass
class ViewParams:
    """One view per image of a batch: mirror (B bool), crop scale (B), crop centre (Bx2, [-1, 1]), colour
    factors (Bx3: saturation, contrast, brightness) and the perception pass's noise seed per image."""

    flip: torch.Tensor
    scale: torch.Tensor
    centre: torch.Tensor
    colour: torch.Tensor
    noise_seeds: list[int]

    def take(self, rows: torch.Tensor) -> ViewParams:
        index = rows.tolist()
        return ViewParams(self.flip[rows], self.scale[rows], self.centre[rows], self.colour[rows],
                          [self.noise_seeds[i] for i in index])

    @staticmethod
    def stack(parts: list[ViewParams]) -> ViewParams:
        return ViewParams(torch.cat([p.flip for p in parts]), torch.cat([p.scale for p in parts]),
                          torch.cat([p.centre for p in parts]), torch.cat([p.colour for p in parts]),
                          [s for p in parts for s in p.noise_seeds])

    def _theta(self, device: torch.device, inverse: bool = False) -> torch.Tensor:
        """Affine grid matrices: view → full frame (warp), or full → view (unwarp), mirror included."""
        b = len(self.scale)
        sign = torch.where(self.flip, -1.0, 1.0)
        theta = torch.zeros(b, 2, 3)
        if not inverse:  # sample the full frame at u = scale * (sign * x) + centre
            theta[:, 0, 0], theta[:, 1, 1] = self.scale * sign, self.scale
            theta[:, :, 2] = self.centre
        else:  # sample the view at x = sign * (u - centre) / scale
            theta[:, 0, 0], theta[:, 1, 1] = sign / self.scale, 1 / self.scale
            theta[:, 0, 2] = -sign * self.centre[:, 0] / self.scale
            theta[:, 1, 2] = -self.centre[:, 1] / self.scale
        return theta.to(device)


def _mirror_normals(normal: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
    sign = torch.where(flip.to(normal.device), -1.0, 1.0).to(normal.dtype).view(-1, 1, 1, 1)
    return torch.cat([normal[:, :1] * sign, normal[:, 1:]], dim=1)


def apply_view(images: torch.Tensor, view: ViewParams) -> torch.Tensor:
    """Bx3xHxW images in [0, 1] as seen in ``view`` (bilinear crop, mirror, colour jitter)."""
    out = _resample(images, view._theta(images.device), "bilinear", "border")
    return jitter_colours(out, view.colour).to(images.dtype)


def warp_targets(targets: dict, view: ViewParams) -> dict:
    """Full-frame labels or soft targets into the view's frame.

    Keys: ``normal`` Bx3xHxW (x negated where mirrored), ``depth`` Bx1xHxW, ``semseg`` BxHxW int (nearest),
    ``probs`` BxCxHxW, ``weight`` {task: BxHxW float}, ``mask`` {task: BxHxW bool} (nearest, so valid and
    invalid pixels never mix). Missing keys are skipped.
    """
    out: dict = {}
    device = next(v for v in targets.values() if torch.is_tensor(v)).device
    theta = view._theta(device)
    for key, value in targets.items():
        if key in ("mask", "weight"):
            mode = "nearest" if key == "mask" else "bilinear"
            out[key] = {t: _resample(m, theta, mode, "border").to(m.dtype) for t, m in value.items()}
        elif key == NORMAL:
            out[key] = _mirror_normals(_resample(value, theta, "nearest", "border"), view.flip).to(value.dtype)
        elif key == DEPTH:
            out[key] = (_resample(value, theta, "nearest", "border") * _zoom(view, value)).to(value.dtype)
        elif key in CLASS_TASKS:
            out[key] = _resample(value, theta, "nearest", "border").to(value.dtype)
        elif key in BINARY_TASKS or key.endswith("probs"):  # probabilities, soft
            out[key] = _resample(value, theta, "bilinear", "border")
    return out


def unwarp_predictions(preds: dict, view: ViewParams) -> tuple[dict, torch.Tensor]:
    """A view's soft predictions back in the full frame, and the BxHxW share of each pixel the view covers.

    ``preds``: {``normal`` Bx3xHxW unit, ``kappa`` Bx1xHxW, ``depth`` Bx1xHxW, ``probs`` BxCxHxW}.
    """
    some = next(iter(preds.values()))
    theta = view._theta(some.device, inverse=True)
    ones = torch.ones(some.shape[0], 1, *some.shape[-2:], device=some.device)
    coverage = _resample(ones, theta, "bilinear", "zeros")[:, 0]
    out = {}
    for key, value in preds.items():
        back = _resample(value, theta, "bilinear", "border")
        if key == NORMAL:
            back = _mirror_normals(back, view.flip)
        elif key == DEPTH:
            back = back / _zoom(view, back)
        out[key] = back
    return out, coverage


def _zoom(view: ViewParams, like: torch.Tensor) -> torch.Tensor:
    """Depth factor of a crop: a crop of side fraction s, shown at full size, looks like the scene seen s
    times closer, so its depth labels are scaled by s (keeping apparent size and depth consistent)."""
    return view.scale.to(like.device, like.dtype).view(-1, *([1] * (like.ndim - 1)))
