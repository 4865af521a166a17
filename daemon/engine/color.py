"""Colour control (Gatys et al. 2017, §4 "Colour control").

Luminance-only transfer:
    Y = 0.299 R + 0.587 G + 0.114 B;  I, Q the YIQ chroma.
    The style's luminance is first matched to the content's (the paper's equation):
        Y_s' = (σ_c / σ_s) (Y_s − μ_s) + μ_c
    The transfer runs on luminance images (Y replicated to three channels); the output's Y is then
    combined with the CONTENT's I and Q, so the output's colours are exactly the content's.

Colour histogram matching: every style pixel x (RGB) becomes x' = A (x − μ_s) + μ_c so that the
style's colour mean and 3×3 covariance equal the content's (covariances regularised with eps·I),
then is brought into the RGB cube by moving it toward its own luminance (``into_gamut``):
    chol: A = L_c L_s⁻¹                          (Cholesky factors)
    pca:  A = C_c^{1/2} C_s^{-1/2}                (image analogies; the authors' notebooks)
    ot:   A = C_s^{-1/2} (C_s^{1/2} C_c C_s^{1/2})^{1/2} C_s^{-1/2}   (Monge–Kantorovich, Pitié & Kokaram)
A linear map cannot follow a palette's shape: the style's few bright lights (The Starry Night's
yellow stars) land far outside the cube (a sixth of the recoloured pixels on the paper's fig. 3
pair), and the network, shown them unclamped, paints neon yellow-green streaks the photo never had;
clamping each channel keeps their shifted hue. Desaturating toward the pixel's luminance,
    x'' = Y + t (x' − Y),  t ∈ [0, 1] the largest that puts x'' in [0, 1]³,  Y = clamp(lum(x'), 0, 1),
keeps the light where it was and its hue, only paler: on that pair the share of the result's pixels
in colours the photo has almost none of fell from 9.7 % (pca as it is; chol 13.3 %, ot 9.7 %) to
6.1 % (the photo itself: 3.1 %), BENCHMARKS.md, "Histogram mode". ``pca`` stays the default: the
authors' choice, and no worse than the others here.

"""
from __future__ import annotations

import torch

RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114],
                           [0.595716, -0.274453, -0.321263],
                           [0.211456, -0.522591, 0.311135]], dtype=torch.float64)
YIQ_TO_RGB = torch.linalg.inv(RGB_TO_YIQ)
EPS = 1e-5


def _apply(matrix: torch.Tensor, img: torch.Tensor) -> torch.Tensor:
    """Apply a 3×3 colour matrix to an N×3×H×W image."""
    return torch.einsum("ij,njhw->nihw", matrix.to(img), img)


def rgb_to_yiq(img: torch.Tensor) -> torch.Tensor:
    return _apply(RGB_TO_YIQ, img)


def yiq_to_rgb(img: torch.Tensor) -> torch.Tensor:
    return _apply(YIQ_TO_RGB, img)


def luminance(img: torch.Tensor) -> torch.Tensor:
    """N×3×H×W RGB -> N×1×H×W luminance Y."""
    return rgb_to_yiq(img)[:, :1]


def match_luminance(style_y: torch.Tensor, content_y: torch.Tensor) -> torch.Tensor:
    """Y_s' = (σ_c / σ_s)(Y_s − μ_s) + μ_c."""
    mu_s, sd_s = style_y.mean(), style_y.std()
    mu_c, sd_c = content_y.mean(), content_y.std()
    return (sd_c / sd_s.clamp_min(1e-6)) * (style_y - mu_s) + mu_c


def gray3(y: torch.Tensor) -> torch.Tensor:
    """Replicate a luminance image to three channels, to feed VGG."""
    return y.expand(-1, 3, -1, -1).contiguous()


def combine_luminance(output_y: torch.Tensor, content_rgb: torch.Tensor) -> torch.Tensor:
    """Output luminance + the content's chroma (I, Q) -> RGB."""
    yiq = rgb_to_yiq(content_rgb)
    return yiq_to_rgb(torch.cat([output_y, yiq[:, 1:]], dim=1))


# ---- colour histogram matching ---------------------------------------------------------------
def _mean_cov(img: torch.Tensor):
    x = img.reshape(3, -1).double()
    mu = x.mean(dim=1, keepdim=True)
    d = x - mu
    cov = d @ d.t() / x.shape[1] + EPS * torch.eye(3, dtype=torch.float64, device=img.device)
    return mu, cov


def _sqrtm(c: torch.Tensor, inverse: bool = False) -> torch.Tensor:
    vals, vecs = torch.linalg.eigh(c)
    vals = vals.clamp_min(1e-12)
    p = -0.5 if inverse else 0.5
    return vecs @ torch.diag(vals ** p) @ vecs.t()


def histogram_transform(style: torch.Tensor, content: torch.Tensor, method: str = "pca"):
    """The affine map (A, b) taking the style's colour mean/covariance to the content's."""
    mu_s, c_s = _mean_cov(style)
    mu_c, c_c = _mean_cov(content)
    if method == "chol":
        a = torch.linalg.cholesky(c_c) @ torch.linalg.inv(torch.linalg.cholesky(c_s))
    elif method == "pca":
        a = _sqrtm(c_c) @ _sqrtm(c_s, inverse=True)
    elif method == "ot":
        s_half, s_inv_half = _sqrtm(c_s), _sqrtm(c_s, inverse=True)
        a = s_inv_half @ _sqrtm(s_half @ c_c @ s_half) @ s_inv_half
    else:
        raise ValueError(f"unknown histogram method {method!r}")
    return a, mu_c - a @ mu_s


def match_histogram(style: torch.Tensor, content: torch.Tensor, method: str = "pca") -> torch.Tensor:
    """Recolour the style (1×3×H×W, RGB in [0,1]) so its colour mean and covariance are the content's,
    brought into the RGB cube without changing hues (``into_gamut``, the module docstring)."""
    a, b = histogram_transform(style, content, method)
    x = style.reshape(3, -1).double()
    return into_gamut((a @ x + b).reshape(style.shape)).to(style.dtype)


def into_gamut(x: torch.Tensor) -> torch.Tensor:
    """N×3×H×W RGB -> the same colours inside [0,1]³, each moved toward its own luminance (clamped to
    [0,1]) just as far as it must be: hue kept, saturation lowered, in-gamut pixels untouched."""
    y = luminance(x).clamp(0, 1)
    d = x - y
    big = torch.full_like(d, float("inf"))
    room = torch.minimum(torch.where(d > 0, (1 - y) / d.clamp_min(1e-12), big),
                         torch.where(d < 0, y / (-d).clamp_min(1e-12), big))
    return (y + room.amin(dim=1, keepdim=True).clamp(0, 1) * d).clamp(0, 1)
