"""Modality analysis of infrared-visible pairs: the study behind Figure 1 of the PoMAI paper.

For every pair the study measures four per-image features on the infrared (IR) and the visible
(VIS) image, how the two histograms differ, and then

- (a) the P statistic per feature: the share of pairs with F(IR) - F(VIS) > 0 and < 0;
- (b) a K-means clustering (k = 3) of the pairs by how the modalities relate.

The paper names the features (gradient change rate, Laplacian variance, entropy, L1 norm), JS
divergence and K-means, but defines none of them. The choices made here (see the docstrings and
``docs/analysis.md``) are this library's.

All images are read as 8-bit grey (:func:`pomai.metrics.read_grey`: RGB through MATLAB
``rgb2gray``) and measured on the grey levels as float64 in [0, 255], except where noted.
"""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError
from .folders import IMAGE_SUFFIXES, pair_folders
from .metrics.grey import as_grey_uint8, read_grey
from .metrics.information import entropy

__all__ = [
    "CLUSTER_FEATURES",
    "FEATURE_NAMES",
    "analyze_folder",
    "analyze_images",
    "format_summary",
    "image_features",
    "js_divergence",
    "kmeans",
    "plot_analysis",
]

#: Per-image features, in the order of the paper's bar chart.
FEATURE_NAMES: tuple[str, ...] = ("GCR", "Lap", "H", "L1")
#: Per-pair quantities K-means clusters on (each standardised to zero mean, unit variance).
CLUSTER_FEATURES: tuple[str, ...] = ("js_divergence", "mean_diff")


# --- per-image and per-pair measures --------------------------------------------------------


def image_features(img: np.ndarray) -> dict[str, float]:
    """The four per-image features of the Figure 1 study, for a uint8 grey or RGB image.

    With I the grey levels as float64 in [0, 255] and (gx, gy) = MATLAB ``gradient`` of I
    (central differences inside, one-sided at the borders, as for the AG metric):

    - ``GCR`` (gradient change rate): ``mean(sqrt(gx^2 + gy^2)) / mean(I)``, the mean gradient
      magnitude relative to the mean intensity (per pixel; 0 for an all-black image). It is the
      relative rate at which intensity changes from pixel to pixel, independent of exposure.
    - ``Lap`` (Laplacian variance): population variance of the 4-neighbour Laplacian
      ``[[0, 1, 0], [1, -4, 1], [0, 1, 0]]`` over the interior ('valid') pixels.
    - ``H`` (entropy): 256-bin Shannon entropy in bits (the EN metric).
    - ``L1`` (L1 norm): ``sum |I| / (255 H W)``, the per-pixel L1 norm on the [0, 1] scale, i.e.
      the mean intensity / 255, so that images of different sizes compare.

    Needs an image of at least 3x3 pixels.
    """
    u8 = as_grey_uint8(img, "img")
    if min(u8.shape) < 3:
        raise InputError(f"image_features needs at least 3x3 pixels, got {u8.shape}: study "
                         "larger images.")
    x = u8.astype(np.float64)
    gy, gx = np.gradient(x)
    mean = float(x.mean())
    grad = float(np.sqrt(gx * gx + gy * gy).mean())
    lap = x[:-2, 1:-1] + x[2:, 1:-1] + x[1:-1, :-2] + x[1:-1, 2:] - 4.0 * x[1:-1, 1:-1]
    return {
        "GCR": grad / mean if mean > 0 else 0.0,
        "Lap": float(lap.var()),
        "H": entropy(u8),
        "L1": mean / 255.0,
    }


def _histogram(u8: np.ndarray) -> np.ndarray:
    return np.bincount(u8.ravel(), minlength=256) / u8.size


def js_divergence(a: np.ndarray, b: np.ndarray) -> float:
    """Jensen-Shannon divergence (bits, in [0, 1]) between the 256-bin grey-level histograms.

    ``JS(p, q) = KL(p || m) / 2 + KL(q || m) / 2`` with ``m = (p + q) / 2`` and
    ``KL(p || m) = sum_{p_k > 0} p_k log2(p_k / m_k)``. 0 for identical histograms, 1 for
    histograms with disjoint support. The images may differ in size.
    """
    p = _histogram(as_grey_uint8(a, "a"))
    q = _histogram(as_grey_uint8(b, "b"))
    return _js(p, q)


def _js(p: np.ndarray, q: np.ndarray) -> float:
    m = (p + q) / 2.0

    def kl(x: np.ndarray) -> float:
        nz = x > 0
        return float(np.sum(x[nz] * np.log2(x[nz] / m[nz])))

    return min(max(0.5 * kl(p) + 0.5 * kl(q), 0.0), 1.0)


# --- K-means ------------------------------------------------------------------------------


def _kmeans_pp(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    centres = [x[rng.integers(len(x))]]
    d2 = np.sum((x - centres[0]) ** 2, axis=1)
    for _ in range(1, k):
        total = d2.sum()
        idx = rng.choice(len(x), p=d2 / total) if total > 0 else rng.integers(len(x))
        centres.append(x[idx])
        d2 = np.minimum(d2, np.sum((x - x[idx]) ** 2, axis=1))
    return np.array(centres)


def _lloyd(x: np.ndarray, centres: np.ndarray, max_iter: int) -> tuple[np.ndarray, np.ndarray]:
    labels = np.full(len(x), -1)
    for _ in range(max_iter):
        d2 = np.sum((x[:, None, :] - centres[None, :, :]) ** 2, axis=2)
        new = d2.argmin(axis=1)
        for j in range(len(centres)):  # an empty cluster takes the worst-served point
            if not np.any(new == j):  # ... among those not alone in their cluster
                dist = d2[np.arange(len(x)), new]
                dist[np.bincount(new, minlength=len(centres))[new] <= 1] = -1.0
                new[int(dist.argmax())] = j
        if np.array_equal(new, labels):
            break
        labels = new
        centres = np.array([x[labels == j].mean(axis=0) for j in range(len(centres))])
    return labels, centres


def kmeans(
    x: np.ndarray, k: int = 3, *, seed: int = 0, n_init: int = 10, max_iter: int = 300
) -> tuple[np.ndarray, np.ndarray, float]:
    """K-means (Lloyd) with k-means++ initialisation; the best of ``n_init`` seeded runs.

    ``x`` is (n, d). Returns ``(labels, centres, inertia)``: labels in 0..k-1, centres (k, d),
    inertia = sum of squared distances to the assigned centres. Deterministic for a given
    ``seed``. Clusters are numbered by ascending first coordinate of their centre.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) < k or k < 1:
        raise ValueError(f"kmeans needs an (n, d) array with n >= k = {k}, got shape {x.shape}.")
    rng = np.random.default_rng(seed)
    best: tuple[np.ndarray, np.ndarray, float] | None = None
    for _ in range(n_init):
        labels, centres = _lloyd(x, _kmeans_pp(x, k, rng), max_iter)
        inertia = float(np.sum((x - centres[labels]) ** 2))
        if best is None or inertia < best[2] - 1e-12:
            best = (labels, centres, inertia)
    assert best is not None
    labels, centres, inertia = best
    order = np.lexsort(centres.T[::-1])  # by first coordinate, ties by the next
    rank = np.empty(k, dtype=np.intp)
    rank[order] = np.arange(k)
    return rank[labels], centres[order], inertia


# --- the study ---------------------------------------------------------------------------


def analyze_images(
    ir_images: Sequence[np.ndarray],
    vis_images: Sequence[np.ndarray],
    names: Sequence[str] | None = None,
    *,
    k: int = 3,
    seed: int = 0,
) -> dict[str, Any]:
    """Run the Figure 1 study on in-memory pairs (uint8 grey or RGB arrays).

    Per pair: :func:`image_features` of IR and VIS, ``js_divergence`` (:func:`js_divergence`)
    and ``mean_diff`` = (mean IR - mean VIS) / 255. Then:

    - ``p_statistic[feature]``: shares of pairs with IR - VIS > 0 (``ir_greater``), < 0
      (``vis_greater``) and = 0 (``equal``);
    - ``kmeans``: k clusters of the pairs over :data:`CLUSTER_FEATURES`, each standardised
      (z-score) over the pairs; centres are reported in the original units; cluster 0 has the
      lowest JS divergence.

    Returns a JSON-serialisable dict (see ``docs/analysis.md`` for the layout).
    """
    if len(ir_images) != len(vis_images):
        raise ValueError(f"{len(ir_images)} IR images but {len(vis_images)} visible images.")
    names = [str(i) for i in range(len(ir_images))] if names is None else list(names)
    if len(names) != len(ir_images):
        raise ValueError(f"{len(names)} names for {len(ir_images)} pairs.")
    pairs: list[dict[str, Any]] = []
    for name, ir, vis in zip(names, ir_images, vis_images, strict=True):
        a = as_grey_uint8(ir, f"ir {name}")
        b = as_grey_uint8(vis, f"vis {name}")
        if a.shape != b.shape:
            raise InputError(f"pair {name}: IR is {a.shape} but visible is {b.shape}; the study "
                             "needs pixel-aligned pairs of one size.")
        pairs.append(
            {
                "name": name,
                "ir": image_features(a),
                "vis": image_features(b),
                "js_divergence": _js(_histogram(a), _histogram(b)),
                "mean_diff": (float(a.mean()) - float(b.mean())) / 255.0,
            }
        )
    n = len(pairs)
    if n < k:
        raise InputError(f"the study needs at least k = {k} pairs, got {n}: add pairs or lower "
                         "--k.")

    p_stat = {}
    means = {}
    for feat in FEATURE_NAMES:
        d = np.array([p["ir"][feat] - p["vis"][feat] for p in pairs])
        p_stat[feat] = {
            "ir_greater": float(np.mean(d > 0)),
            "vis_greater": float(np.mean(d < 0)),
            "equal": float(np.mean(d == 0)),
        }
        means[feat] = {
            "ir": float(np.mean([p["ir"][feat] for p in pairs])),
            "vis": float(np.mean([p["vis"][feat] for p in pairs])),
        }

    z = np.array([[p[c] for c in CLUSTER_FEATURES] for p in pairs])
    mu, sd = z.mean(axis=0), z.std(axis=0)
    sd[sd == 0] = 1.0
    labels, centres, inertia = kmeans((z - mu) / sd, k, seed=seed)
    for p, lab in zip(pairs, labels, strict=True):
        p["cluster"] = int(lab)
    clusters = []
    for j in range(k):
        members = z[labels == j]
        clusters.append(
            {
                "size": int(len(members)),
                "centre": dict(
                    zip(CLUSTER_FEATURES, map(float, centres[j] * sd + mu), strict=True)
                ),
                "js_divergence_range": [float(members[:, 0].min()), float(members[:, 0].max())],
            }
        )
    js = z[:, 0]
    return {
        "n_pairs": n,
        "features": list(FEATURE_NAMES),
        "p_statistic": p_stat,
        "feature_means": means,
        "js_divergence": {
            "mean": float(js.mean()),
            "median": float(np.median(js)),
            "min": float(js.min()),
            "max": float(js.max()),
        },
        "kmeans": {
            "k": k,
            "seed": seed,
            "features": list(CLUSTER_FEATURES),
            "standardisation": {
                c: {"mean": float(m), "std": float(s)}
                for c, m, s in zip(CLUSTER_FEATURES, mu, sd, strict=True)
            },
            "inertia_standardised": inertia,
            "clusters": clusters,
        },
        "pairs": pairs,
    }


def _read(path: Path) -> np.ndarray:
    try:
        return read_grey(path)
    except (OSError, ValueError) as err:
        raise InputError(f"cannot read {path} as an 8-bit image: {err}") from None


def analyze_folder(
    ir_dir: str | PathLike[str], vis_dir: str | PathLike[str], *, k: int = 3, seed: int = 0
) -> dict[str, Any]:
    """Run the Figure 1 study on the pairs of two folders, matched by file stem
    (:func:`pomai.folders.pair_folders`); each pair is named by its infrared file's name.

    Every image must have a partner in the other folder, and every pair one size. See
    :func:`analyze_images` for what is computed.
    """
    for folder in (ir_dir, vis_dir):
        if not Path(folder).is_dir():
            raise InputError(f"{folder} is not a folder: it must hold the images of one "
                             "modality.")
    found = pair_folders(ir_dir, vis_dir)
    if found.problems:
        raise InputError(f"{found.problems[0]}" + (f" (and {len(found.problems) - 1} more)"
                                                  if len(found.problems) > 1 else ""))
    only_ir = [p.name for p in found.unpaired if p.parent == Path(ir_dir)]
    only_vis = [p.name for p in found.unpaired if p.parent == Path(vis_dir)]
    if found.unpaired:
        raise InputError(
            f"the folders must hold the same file names: {len(only_ir)} only in {ir_dir} "
            f"(e.g. {only_ir[:3]}), {len(only_vis)} only in {vis_dir} (e.g. {only_vis[:3]})."
        )
    if not found.pairs:
        raise InputError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {ir_dir}: add the pairs to "
                         "study.")
    result = analyze_images(
        [_read(ir) for _, ir, _ in found.pairs], [_read(vis) for _, _, vis in found.pairs],
        [ir.name for _, ir, _ in found.pairs], k=k, seed=seed,
    )
    return {"ir_dir": str(ir_dir), "vis_dir": str(vis_dir), **result}


# --- reporting ---------------------------------------------------------------------------


def plot_analysis(result: dict[str, Any], path: str | PathLike[str]) -> None:
    """Save the Figure 1 panels of an :func:`analyze_folder` result to ``path``.

    (a) bar chart of the P statistic per feature (IR > VIS and IR < VIS); (b) scatter of the
    pairs' JS divergence against the mean intensity difference, coloured by K-means cluster,
    centres marked. Needs matplotlib (the ``viz`` extra); imported here only.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("plot_analysis needs matplotlib: pip install 'pomai[viz]'") from exc

    fig = Figure(figsize=(10, 4), layout="constrained")
    ax_p, ax_s = fig.subplots(1, 2, width_ratios=(1, 1.3))

    feats = result["features"]
    xs = np.arange(len(feats))
    pos = [result["p_statistic"][f]["ir_greater"] for f in feats]
    neg = [result["p_statistic"][f]["vis_greater"] for f in feats]
    ax_p.bar(xs - 0.2, pos, 0.4, label="IR > VIS", color="tab:red")
    ax_p.bar(xs + 0.2, neg, 0.4, label="IR < VIS", color="tab:blue")
    for x, v in zip(xs, pos, strict=True):
        ax_p.text(x - 0.2, v + 0.01, f"{v:.2f}", ha="center", fontsize=8)
    for x, v in zip(xs, neg, strict=True):
        ax_p.text(x + 0.2, v + 0.01, f"{v:.2f}", ha="center", fontsize=8)
    ax_p.set_xticks(xs, feats)
    ax_p.set_ylim(0, 1.1)
    ax_p.set_ylabel("P (share of pairs)")
    ax_p.set_title(f"(a) P statistic, {result['n_pairs']} pairs")
    ax_p.legend(loc="upper right", fontsize=8)

    pairs = result["pairs"]
    js = np.array([p["js_divergence"] for p in pairs])
    md = np.array([p["mean_diff"] for p in pairs])
    lab = np.array([p["cluster"] for p in pairs])
    colours = ("tab:green", "tab:orange", "tab:purple", "tab:brown", "tab:pink", "tab:gray")
    for j, c in enumerate(result["kmeans"]["clusters"]):
        sel = lab == j
        ax_s.scatter(
            js[sel],
            md[sel],
            s=10,
            alpha=0.7,
            color=colours[j % len(colours)],
            label=f"cluster {j} (n={c['size']})",
        )
        ax_s.scatter(
            [c["centre"]["js_divergence"]],
            [c["centre"]["mean_diff"]],
            marker="X",
            s=90,
            color=colours[j % len(colours)],
            edgecolors="black",
        )
    ax_s.axhline(0.0, color="0.6", lw=0.8)
    ax_s.set_xlabel("JS divergence of the IR and VIS histograms (bits)")
    ax_s.set_ylabel("mean(IR) - mean(VIS), [0, 1] scale")
    ax_s.set_title("(b) K-means (k = 3) on standardised [JS, mean difference]")
    ax_s.legend(fontsize=8)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=150)


def format_summary(result: dict[str, Any]) -> str:
    """A short Markdown summary (P statistic, feature means, clusters) of a study result."""
    lines = [
        f"pairs: {result['n_pairs']}",
        "",
        "| feature | P(IR > VIS) | P(IR < VIS) | P(equal) | mean IR | mean VIS |",
        "|---|---|---|---|---|---|",
    ]
    for f in result["features"]:
        p, m = result["p_statistic"][f], result["feature_means"][f]
        lines.append(
            f"| {f} | {p['ir_greater']:.3f} | {p['vis_greater']:.3f} | {p['equal']:.3f} "
            f"| {m['ir']:.4g} | {m['vis']:.4g} |"
        )
    js = result["js_divergence"]
    lines += [
        "",
        f"JS divergence (bits): mean {js['mean']:.4f}, median {js['median']:.4f}, "
        f"min {js['min']:.4f}, max {js['max']:.4f}",
        "",
        "| cluster | pairs | centre JS | centre mean diff | JS range |",
        "|---|---|---|---|---|",
    ]
    for j, c in enumerate(result["kmeans"]["clusters"]):
        lo, hi = c["js_divergence_range"]
        lines.append(
            f"| {j} | {c['size']} | {c['centre']['js_divergence']:.4f} "
            f"| {c['centre']['mean_diff']:+.4f} | {lo:.4f}-{hi:.4f} |"
        )
    return "\n".join(lines)
