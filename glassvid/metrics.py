"""Metric functions for measuring glassvid against ground truth (issue 3).

Pure functions on numpy arrays; numpy and OpenCV only (no scipy, no skimage).

Convention (every function here):

- Images are ``HxW`` or ``HxWxC``, RGB channel order, either ``uint8`` in [0, 255]
  or floating point in [0, 1]. Functions that mix images convert ``uint8`` to float
  by dividing by 255.
- Masks are ``HxW`` (``HxWx1`` accepted), ``bool`` or integer; True / non-zero
  (e.g. 255) marks the **object**.
- Flow is ``HxWx2`` ``float32`` in pixels, channel 0 = dx (x right), channel 1 = dy
  (y down). A flow "from A to B" lives on A's pixel grid: pixel ``x`` of A shows the
  same point as position ``x + flow(x)`` of B, so ``warp(B, flow_A_to_B) ≈ A``.
  ``compute_flow(a, b)`` returns the flow from ``a`` to ``b`` in this sense.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from itertools import zip_longest

import cv2
import numpy as np
from numpy.typing import NDArray

from glassvid.errors import InputError
from glassvid.flow import ops as flow_ops

__all__ = [
    "psnr",
    "ssim",
    "dilate_mask",
    "fb_consistency",
    "warp",
    "warping_error",
    "compute_flow",
    "clip_warping_error",
    "iou",
    "boundary_f",
    "spearman",
]

# SSIM constants of Wang et al. 2004, "Image quality assessment: from error
# visibility to structural similarity", IEEE TIP 13(4), section III-C.
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03
# ITU-R BT.601 luma weights, as MATLAB's rgb2gray used by Wang's reference code.
_LUMA_BT601 = np.array([0.299, 0.587, 0.114])

# Forward-backward thresholds of Sundaram et al. 2010 (ECCV, "Dense point
# trajectories by GPU-accelerated large displacement optical flow"), also used by
# Ruder et al. 2016 and Lai et al. 2018.
FB_ALPHA1 = 0.01
FB_ALPHA2 = 0.5

# DAVIS boundary tolerance: a fraction of the image diagonal (Perazzi et al. 2016).
DAVIS_BOUND_TH = 0.008


# --------------------------------------------------------------------------- helpers


def _check_image(name: str, img: NDArray) -> NDArray:
    img = np.asarray(img)
    if img.ndim not in (2, 3) or img.size == 0:
        raise InputError(f"{name}: expected an HxW or HxWxC image, got shape {img.shape}.")
    if not (img.dtype == np.uint8 or np.issubdtype(img.dtype, np.floating)):
        raise InputError(
            f"{name}: expected uint8 in [0, 255] or float in [0, 1], got dtype {img.dtype}; "
            "convert with img.astype(np.float32) / 255 or keep uint8."
        )
    return img


def _check_pair(a: NDArray, b: NDArray) -> tuple[NDArray, NDArray]:
    a = _check_image("a", a)
    b = _check_image("b", b)
    if a.shape != b.shape:
        raise InputError(f"images differ in shape: {a.shape} vs {b.shape}; they must match.")
    return a, b


def _to_unit_float(img: NDArray) -> NDArray[np.float64]:
    """uint8 -> [0, 1] float64; float stays as is (as float64)."""
    if img.dtype == np.uint8:
        return img.astype(np.float64) / 255.0
    return img.astype(np.float64, copy=False)


def _mask_hw(mask: NDArray | None, hw: tuple[int, int], name: str = "mask") -> NDArray[np.bool_] | None:
    """Validate a mask against an image's HxW and return it as bool HxW (True = object)."""
    if mask is None:
        return None
    m = np.asarray(mask)
    if m.ndim == 3 and m.shape[2] == 1:
        m = m[:, :, 0]
    if m.shape != tuple(hw):
        raise InputError(f"{name}: expected shape {tuple(hw)} (HxW), got {m.shape}.")
    return m.astype(bool, copy=False)


def _infer_range(a: NDArray, b: NDArray) -> float:
    a_int, b_int = a.dtype == np.uint8, b.dtype == np.uint8
    if a_int != b_int:
        raise InputError(
            f"images mix dtypes {a.dtype} and {b.dtype}: the data range is ambiguous; "
            "convert both to uint8 or both to float in [0, 1], or pass data_range."
        )
    return 255.0 if a_int else 1.0


def _flow_check(name: str, flow: NDArray, hw: tuple[int, int] | None = None) -> NDArray[np.float32]:
    f = np.asarray(flow)
    if f.ndim != 3 or f.shape[2] != 2:
        raise InputError(f"{name}: expected an HxWx2 flow (dx, dy in pixels), got shape {f.shape}.")
    if hw is not None and f.shape[:2] != tuple(hw):
        raise InputError(f"{name}: flow is {f.shape[:2]} but the image is {tuple(hw)} (HxW).")
    return np.ascontiguousarray(f, dtype=np.float32)


# ----------------------------------------------------------------------- image quality


def psnr(
    a: NDArray,
    b: NDArray,
    mask: NDArray | None = None,
    *,
    data_range: float | None = None,
) -> float:
    """Peak signal-to-noise ratio in dB, ``10 log10(data_range^2 / MSE)``.

    Args:
        a, b: images of the same shape, ``HxW`` or ``HxWxC`` (RGB), both ``uint8`` in
            [0, 255] or both float in [0, 1].
        mask: optional ``HxW`` bool/uint8 mask, True/non-zero = pixels to measure
            (e.g. the object region). The MSE is taken over those pixels, all channels.
        data_range: the peak value; by default 255 for ``uint8`` and 1.0 for float.

    Returns:
        PSNR in dB; ``math.inf`` when the measured pixels are identical;
        ``math.nan`` when the mask selects no pixel.
    """
    a, b = _check_pair(a, b)
    peak = _infer_range(a, b) if data_range is None else float(data_range)
    m = _mask_hw(mask, a.shape[:2])
    diff = a.astype(np.float64) - b.astype(np.float64)
    if m is not None:
        diff = diff[m]  # (N,) or (N, C)
    if diff.size == 0:
        return math.nan
    mse = float(np.mean(diff * diff))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(peak * peak / mse)


def _luminance(img: NDArray[np.float64]) -> NDArray[np.float64]:
    if img.ndim == 2:
        return img
    if img.shape[2] == 1:
        return img[:, :, 0]
    if img.shape[2] in (3, 4):  # RGB or RGBA: alpha ignored
        return img[:, :, :3] @ _LUMA_BT601
    raise InputError(f"ssim: expected 1, 3 (RGB) or 4 (RGBA) channels, got {img.shape[2]}.")


def _gauss_filter(x: NDArray[np.float64]) -> NDArray[np.float64]:
    k = cv2.getGaussianKernel(SSIM_WINDOW, SSIM_SIGMA, cv2.CV_64F)
    return cv2.sepFilter2D(x, cv2.CV_64F, k, k, borderType=cv2.BORDER_REFLECT)


def ssim(a: NDArray, b: NDArray, mask: NDArray | None = None) -> float:
    """Structural similarity of Wang et al. 2004 (IEEE TIP 13(4)) on luminance.

    Gaussian window 11x11, sigma 1.5, K1 = 0.01, K2 = 0.03, L = 255 for ``uint8``
    and 1.0 for float, biased (Gaussian-weighted) local statistics as in Wang's
    reference ``ssim_index.m``. Colour images are reduced to BT.601 luma
    (0.299 R + 0.587 G + 0.114 B, like MATLAB's ``rgb2gray``) before measuring, so the
    result is one number for the image, not a per-channel mean.

    Unlike the reference (which keeps only the 'valid' part of the SSIM map), the map
    is computed for every pixel with mirrored borders, so regions touching the frame
    edge can be measured; the map is averaged over ``mask`` pixels (all pixels when
    no mask). Wang's later ``ssim.m`` downsampling of large images is not applied.

    Args:
        a, b: images of the same shape, ``HxW``, ``HxWx1``, ``HxWx3`` (RGB) or
            ``HxWx4`` (RGBA, alpha ignored); both ``uint8`` or both float in [0, 1].
        mask: optional ``HxW`` mask, True/non-zero = pixels to average over.

    Returns:
        Mean SSIM in [-1, 1]; 1.0 for identical images; ``math.nan`` for an empty mask.
    """
    a, b = _check_pair(a, b)
    peak = _infer_range(a, b)
    m = _mask_hw(mask, a.shape[:2])
    x = _luminance(a.astype(np.float64))
    y = _luminance(b.astype(np.float64))
    c1 = (SSIM_K1 * peak) ** 2
    c2 = (SSIM_K2 * peak) ** 2
    mu_x, mu_y = _gauss_filter(x), _gauss_filter(y)
    var_x = _gauss_filter(x * x) - mu_x * mu_x
    var_y = _gauss_filter(y * y) - mu_y * mu_y
    cov = _gauss_filter(x * y) - mu_x * mu_y
    smap = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
        (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)
    )
    vals = smap if m is None else smap[m]
    if vals.size == 0:
        return math.nan
    return float(np.mean(vals))


def dilate_mask(mask: NDArray, radius_px: int) -> NDArray[np.bool_]:
    """The object region for in/out measurements: ``mask`` dilated by ``radius_px``.

    Args:
        mask: ``HxW`` bool/uint8, True/non-zero = object.
        radius_px: dilation radius in pixels (>= 0); the structuring element is
            OpenCV's ellipse of size ``(2 r + 1) x (2 r + 1)``.

    Returns:
        ``HxW`` bool, True = object region. ``~result`` is the "outside" region.
    """
    m = np.asarray(mask)
    if m.ndim == 3 and m.shape[2] == 1:
        m = m[:, :, 0]
    if m.ndim != 2:
        raise InputError(f"dilate_mask: expected an HxW mask, got shape {m.shape}.")
    r = int(radius_px)
    if r < 0 or r != radius_px:
        raise InputError(f"dilate_mask: radius_px must be an integer >= 0, got {radius_px!r}.")
    m8 = (m != 0).astype(np.uint8)
    if r == 0:
        return m8.astype(bool)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    return cv2.dilate(m8, kernel).astype(bool)


# ----------------------------------------------------------------- flow and warping


def warp(image: NDArray, flow: NDArray) -> NDArray:
    """Backward warp: ``out(x) = image(x + flow(x))``, bilinear, border replicated.

    With ``flow`` the flow from frame A to frame B (on A's grid) and ``image`` frame
    B, the result is B brought onto A's grid. Sampling uses ``cv2.remap``
    (``INTER_LINEAR``, ``BORDER_REPLICATE``), whose bilinear weights are quantised
    to 1/32 pixel.

    Args:
        image: ``HxW`` or ``HxWxC`` (any C), ``uint8`` or float (any range; a flow
            field can be warped too).
        flow: ``HxWx2`` float, (dx, dy) in pixels, x right, y down.

    Returns:
        The warped image, same shape and dtype as ``image``.
    """
    img = np.asarray(image)
    if img.ndim not in (2, 3):
        raise InputError(f"warp: expected an HxW or HxWxC image, got shape {img.shape}.")
    f = _flow_check("warp flow", flow, img.shape[:2])
    return flow_ops.warp(img, f).reshape(img.shape)  # remap drops a trailing channel of size 1


def fb_consistency(
    flow_fwd: NDArray,
    flow_bwd: NDArray,
    *,
    alpha1: float = FB_ALPHA1,
    alpha2: float = FB_ALPHA2,
) -> NDArray[np.bool_]:
    """Forward-backward consistency check (Sundaram et al. 2010; Ruder et al. 2016;
    Lai et al. 2018): which pixels of frame A are seen again in frame B.

    ``flow_fwd`` is the flow from A to B (on A's grid), ``flow_bwd`` the flow from B
    to A (on B's grid). With ``wb~(x) = flow_bwd(x + flow_fwd(x))`` sampled bilinearly,
    pixel ``x`` of A is valid when::

        |flow_fwd + wb~|^2 <= alpha1 (|flow_fwd|^2 + |wb~|^2) + alpha2

    (the sources flag occlusion on ``>``). Pixels whose target ``x + flow_fwd(x)``
    leaves frame B are invalid, as in Ruder et al.'s checker, since ``flow_bwd``
    is not defined there. The motion-boundary test that Ruder et al. and Lai et al.'s
    code add is not applied.

    For the warping error of frame t against frame t-1, call
    ``fb_consistency(flow_t_to_prev, flow_prev_to_t)``: validity on frame t's grid.

    Args:
        flow_fwd, flow_bwd: ``HxWx2`` float32, (dx, dy) in pixels, x right, y down.

    Returns:
        ``HxW`` bool on A's grid, True = consistent (not occluded).
    """
    ff = _flow_check("flow_fwd", flow_fwd)
    fb = _flow_check("flow_bwd", flow_bwd, ff.shape[:2])
    return flow_ops.fb_consistency(ff, fb, alpha1=alpha1, alpha2=alpha2)


def warping_error(
    prev_out: NDArray,
    cur_out: NDArray,
    flow_cur_to_prev: NDArray,
    valid: NDArray | None = None,
    mask: NDArray | None = None,
) -> float:
    """Temporal warping error of Lai et al., ECCV 2018 ("Learning blind video temporal
    consistency"), for one pair of frames.

    ``prev_out`` is warped onto the current frame, ``warp(prev_out, flow_cur_to_prev)``,
    and the error is the mean of the squared difference to ``cur_out`` over the
    pixels that are both ``valid`` and inside ``mask``, all channels, images in
    [0, 1]. (Lai et al.'s code warps t onto t-1 with the forward flow instead; the
    measure is the same with the roles of the frames exchanged.)

    Args:
        prev_out, cur_out: frames t-1 and t, same shape ``HxW`` or ``HxWxC`` (RGB),
            ``uint8`` (divided by 255) or float in [0, 1].
        flow_cur_to_prev: ``HxWx2`` flow from frame t to frame t-1, on frame t's grid.
        valid: optional ``HxW`` bool, True = flow trusted (e.g. ``fb_consistency``).
        mask: optional ``HxW`` bool/uint8, True/non-zero = region to measure (e.g. the
            object region from ``dilate_mask``).

    Returns:
        The mean squared error (0.0 for identical static frames); ``math.nan`` when
        no pixel is both valid and inside the mask.
    """
    prev, cur = _check_pair(prev_out, cur_out)
    hw = cur.shape[:2]
    flow = _flow_check("flow_cur_to_prev", flow_cur_to_prev, hw)
    sel = np.ones(hw, dtype=bool)
    v = _mask_hw(valid, hw, "valid")
    m = _mask_hw(mask, hw, "mask")
    if v is not None:
        sel &= v
    if m is not None:
        sel &= m
    if not sel.any():
        return math.nan
    warped = warp(_to_unit_float(prev), flow)
    diff = (warped - _to_unit_float(cur))[sel]
    return float(np.mean(diff * diff))


def _flow_gray(img: NDArray) -> NDArray[np.uint8]:
    """8-bit single-channel image for DIS (RGB -> gray with OpenCV's BT.601 weights)."""
    img = _check_image("compute_flow image", img)
    if img.dtype != np.uint8:
        img = np.clip(np.rint(img.astype(np.float32) * 255.0), 0, 255).astype(np.uint8)
    if img.ndim == 3:
        c = img.shape[2]
        if c == 1:
            img = img[:, :, 0]
        elif c in (3, 4):
            img = cv2.cvtColor(np.ascontiguousarray(img[:, :, :3]), cv2.COLOR_RGB2GRAY)
        else:
            raise InputError(f"compute_flow: expected 1, 3 (RGB) or 4 channels, got {c}.")
    return np.ascontiguousarray(img)


def _dis(gray_a: NDArray[np.uint8], gray_b: NDArray[np.uint8]) -> NDArray[np.float32]:
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    flow = dis.calc(gray_a, gray_b, None)
    return np.ascontiguousarray(flow, dtype=np.float32)


def compute_flow(a: NDArray, b: NDArray) -> NDArray[np.float32]:
    """Dense optical flow from ``a`` to ``b`` for the metrics (OpenCV DIS, preset
    MEDIUM, on grayscale). The pipeline has its own flow stage; this one only makes
    the measurements independent of it.

    Args:
        a, b: frames of the same shape, ``HxW`` or ``HxWxC`` (RGB), ``uint8`` or float
            in [0, 1].

    Returns:
        ``HxWx2`` float32 on ``a``'s grid, (dx, dy) in pixels, x right, y down, such
        that ``a(x) ≈ b(x + flow(x))``, i.e. ``warp(b, flow) ≈ a``.
    """
    a, b = _check_pair(a, b)
    return _dis(_flow_gray(a), _flow_gray(b))


_MISSING = object()


def clip_warping_error(
    frames: Iterable[NDArray],
    flow_frames: Iterable[NDArray] | None = None,
    masks: Iterable[NDArray] | None = None,
) -> tuple[float, list[float]]:
    """Warping error of Lai et al. 2018 over a clip, streaming (at most two frames held).

    For each t >= 1: the flows t -> t-1 and t-1 -> t are computed with
    :func:`compute_flow` on ``flow_frames`` (frames t and t-1), the pixels of frame t
    that pass :func:`fb_consistency` are kept, and :func:`warping_error` compares
    ``frames[t]`` with ``frames[t-1]`` warped to t, inside ``masks[t]``.

    Passing the input clip as ``flow_frames`` measures the result against the input's
    motion; leaving it ``None`` uses the frames' own flow, which measures flicker
    that no motion explains.

    Args:
        frames: the clip, each ``HxW`` or ``HxWxC`` RGB, ``uint8`` or float in [0, 1].
        flow_frames: frames to compute flow on, same count and HxW as ``frames``;
            default: ``frames`` themselves.
        masks: optional ``HxW`` masks per frame, True/non-zero = region to measure.

    Returns:
        ``(mean, per_frame)``: ``per_frame[i]`` is the error of frame ``i + 1``
        (``math.nan`` where no pixel is valid inside the mask); ``mean`` is the
        mean over frames that have a value (``math.nan`` if none), as Lai et al.
        average per frame.
    """
    fit: Iterator = iter(frames)
    ffit: Iterator = iter(flow_frames) if flow_frames is not None else None  # type: ignore[assignment]
    mit: Iterator = iter(masks) if masks is not None else None  # type: ignore[assignment]
    streams = [fit] + [s for s in (ffit, mit) if s is not None]
    names = ["frames"] + [n for n, s in (("flow_frames", ffit), ("masks", mit)) if s is not None]

    per_frame: list[float] = []
    prev = prev_gray = None
    for t, items in enumerate(zip_longest(*streams, fillvalue=_MISSING)):
        missing = [n for n, x in zip(names, items) if x is _MISSING]
        if missing:
            raise InputError(
                f"clip_warping_error: {', '.join(missing)} ended at frame {t} before the "
                "other inputs; frames, flow_frames and masks must have the same length."
            )
        frame = _check_image(f"frame {t}", items[0])
        k = 1
        if ffit is not None:
            fframe = _check_image(f"flow frame {t}", items[k])
            k += 1
            if fframe.shape[:2] != frame.shape[:2]:
                raise InputError(
                    f"flow frame {t} is {fframe.shape[:2]} but frame {t} is {frame.shape[:2]} (HxW)."
                )
        else:
            fframe = frame
        mask = items[k] if mit is not None else None
        gray = _flow_gray(fframe)
        if prev is not None:
            if prev_gray.shape != gray.shape:
                raise InputError(f"frame {t} changes size from {prev_gray.shape} to {gray.shape}.")
            f_cur_prev = _dis(gray, prev_gray)
            f_prev_cur = _dis(prev_gray, gray)
            valid = fb_consistency(f_cur_prev, f_prev_cur)
            per_frame.append(warping_error(prev, frame, f_cur_prev, valid, mask))
        prev, prev_gray = frame, gray

    vals = [e for e in per_frame if not math.isnan(e)]
    mean = float(np.mean(vals)) if vals else math.nan
    return mean, per_frame


# ------------------------------------------------------------------------ mask quality


def iou(a: NDArray, b: NDArray) -> float:
    """Region similarity J (Jaccard index) of two masks, as DAVIS ``db_eval_iou``.

    Args:
        a, b: ``HxW`` bool/uint8 masks of the same shape, True/non-zero = object.

    Returns:
        ``|a & b| / |a | b|`` in [0, 1]; 1.0 when both are empty.
    """
    ma = _mask_hw(a, np.asarray(a).shape[:2], "a")
    mb = _mask_hw(b, ma.shape, "b")
    union = int(np.count_nonzero(ma | mb))
    if union == 0:
        return 1.0
    return int(np.count_nonzero(ma & mb)) / union


def _seg2bmap(seg: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """One-pixel-wide boundary map of a binary mask, as DAVIS ``seg2bmap`` (after
    D. Martin's BSDS code): boundaries offset by half a pixel towards the origin."""
    e = np.zeros_like(seg)
    s = np.zeros_like(seg)
    se = np.zeros_like(seg)
    e[:, :-1] = seg[:, 1:]
    s[:-1, :] = seg[1:, :]
    se[:-1, :-1] = seg[1:, 1:]
    b = (seg ^ e) | (seg ^ s) | (seg ^ se)
    b[-1, :] = seg[-1, :] ^ e[-1, :]
    b[:, -1] = seg[:, -1] ^ s[:, -1]
    b[-1, -1] = False
    return b


def _disk(radius: float) -> NDArray[np.uint8]:
    """skimage.morphology.disk: ``x^2 + y^2 <= r^2`` on a ``(2 floor(r) + 1)^2`` grid."""
    n = int(math.floor(radius))
    g = np.arange(-n, n + 1)
    xx, yy = np.meshgrid(g, g)
    return (xx * xx + yy * yy <= radius * radius).astype(np.uint8)


def boundary_f(pred: NDArray, gt: NDArray, *, bound_th: float = DAVIS_BOUND_TH) -> float:
    """Contour accuracy F of DAVIS (Perazzi et al., CVPR 2016), following the DAVIS
    benchmark code ``db_eval_boundary`` (``davis/measures/f_boundary.py``).

    Boundaries of both masks come from ``seg2bmap``; the tolerance is
    ``bound_pix = bound_th if bound_th >= 1 else ceil(bound_th * ||(H, W)||)`` pixels
    (8 px at 480x854); each boundary is dilated by a disk of that radius; precision =
    fraction of ``pred``'s boundary pixels within the dilated ``gt`` boundary, recall
    the converse, F = 2PR / (P + R).

    Args:
        pred: ``HxW`` bool/uint8 predicted mask, True/non-zero = object.
        gt: ``HxW`` bool/uint8 ground-truth mask.
        bound_th: tolerance as a fraction of the image diagonal (< 1) or in pixels (>= 1).

    Returns:
        F in [0, 1]; 1.0 when both masks have no boundary, 0.0 when only one has.
    """
    fg = _mask_hw(pred, np.asarray(pred).shape[:2], "pred")
    gtm = _mask_hw(gt, fg.shape, "gt")
    h, w = fg.shape
    bound_pix = bound_th if bound_th >= 1 else math.ceil(bound_th * math.hypot(h, w))

    fg_b = _seg2bmap(fg)
    gt_b = _seg2bmap(gtm)
    disk = _disk(bound_pix)
    # cv2.dilate ignores pixels outside the image, as skimage's binary_dilation does.
    fg_dil = cv2.dilate(fg_b.astype(np.uint8), disk).astype(bool)
    gt_dil = cv2.dilate(gt_b.astype(np.uint8), disk).astype(bool)

    n_fg = int(np.count_nonzero(fg_b))
    n_gt = int(np.count_nonzero(gt_b))
    if n_fg == 0 and n_gt > 0:
        precision, recall = 1.0, 0.0
    elif n_fg > 0 and n_gt == 0:
        precision, recall = 0.0, 1.0
    elif n_fg == 0 and n_gt == 0:
        precision, recall = 1.0, 1.0
    else:
        precision = np.count_nonzero(fg_b & gt_dil) / n_fg
        recall = np.count_nonzero(gt_b & fg_dil) / n_gt
    if precision + recall == 0:
        return 0.0
    return float(2 * precision * recall / (precision + recall))


# ----------------------------------------------------------------------------- ranking


def _average_ranks(v: NDArray[np.float64]) -> NDArray[np.float64]:
    """1-based ranks, ties get the mean of the ranks they span."""
    _, inv, counts = np.unique(v, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    starts = ends - counts
    return ((starts + 1 + ends) / 2.0)[inv.reshape(-1)]


def spearman(x: Iterable[float], y: Iterable[float]) -> float:
    """Spearman rank correlation: Pearson correlation of the average ranks (ties
    share the mean rank, as ``scipy.stats.spearmanr``).

    Args:
        x, y: 1-D sequences of finite numbers of the same length.

    Returns:
        rho in [-1, 1]; ``math.nan`` when fewer than two values or when either
        sequence is constant.
    """
    xa = np.asarray(list(x) if not isinstance(x, np.ndarray) else x, dtype=np.float64).reshape(-1)
    ya = np.asarray(list(y) if not isinstance(y, np.ndarray) else y, dtype=np.float64).reshape(-1)
    if xa.shape != ya.shape:
        raise InputError(f"spearman: x and y differ in length: {xa.size} vs {ya.size}.")
    if not (np.all(np.isfinite(xa)) and np.all(np.isfinite(ya))):
        raise InputError("spearman: x and y must be finite; drop NaN/inf pairs first.")
    if xa.size < 2:
        return math.nan
    rx = _average_ranks(xa)
    ry = _average_ranks(ya)
    dx = rx - rx.mean()
    dy = ry - ry.mean()
    denom = math.sqrt(float(np.sum(dx * dx)) * float(np.sum(dy * dy)))
    if denom == 0.0:
        return math.nan
    return float(np.clip(np.sum(dx * dy) / denom, -1.0, 1.0))
