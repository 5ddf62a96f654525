"""Every figure the notebooks show. Each function returns its matplotlib Figure."""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np


def _img(ax, image, title=None, color="black"):
    ax.imshow(np.squeeze(image), cmap="gray", vmin=0, vmax=1 if image.dtype != np.uint8 else 255)
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title, fontsize=8, color=color)


def image_grid(
    images,
    titles=None,
    ncols: int = 10,
    size: float = 1.1,
    colors=None,
    suptitle: str | None = None,
):
    """Images in a grid, with optional per-image titles and title colours."""
    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = max(1, -(-n // ncols))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size * ncols, size * nrows * 1.15), squeeze=False
    )
    for i, ax in enumerate(axes.flat):
        if i < n:
            _img(
                ax,
                images[i],
                titles[i] if titles is not None else None,
                colors[i] if colors is not None else "black",
            )
        else:
            ax.axis("off")
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def class_examples(images, labels, class_names: Sequence[str], per_class: int = 8, seed: int = 0):
    """A row of random images for each class, the class name on the left."""
    rng = np.random.default_rng(seed)
    k = len(class_names)
    fig, axes = plt.subplots(k, per_class, figsize=(per_class * 0.9, k * 0.95), squeeze=False)
    for c in range(k):
        members = np.flatnonzero(np.asarray(labels) == c)
        pick = rng.choice(members, size=min(per_class, len(members)), replace=False)
        for j, ax in enumerate(axes[c]):
            if j < len(pick):
                _img(ax, images[pick[j]])
            else:
                ax.axis("off")
        axes[c, 0].set_ylabel(class_names[c], rotation=0, ha="right", va="center", fontsize=9)
    fig.tight_layout()
    return fig


def class_balance(labels, class_names: Sequence[str], title: str = "images per class"):
    counts = np.bincount(np.asarray(labels), minlength=len(class_names))
    fig, ax = plt.subplots(figsize=(8, 2.6))
    ax.bar(range(len(class_names)), counts, color="tab:blue")
    ax.set_xticks(range(len(class_names)), class_names, rotation=30, ha="right", fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def loss_curve(history: dict):
    """Training (and validation) SSIM loss per epoch."""
    fig, ax = plt.subplots(figsize=(5, 3))
    for key, values in history.items():
        ax.plot(range(1, len(values) + 1), values, marker="o", label=key)
    ax.set_xlabel("epoch")
    ax.set_ylabel("SSIM loss (1 - SSIM)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def reconstructions(originals, recon, n: int = 10, scores=None):
    """Originals (top row) above their reconstructions (bottom row), each with its SSIM."""
    n = min(n, len(originals))
    fig, axes = plt.subplots(2, n, figsize=(1.1 * n, 2.8), squeeze=False)
    for i in range(n):
        _img(axes[0, i], originals[i], "input" if i == 0 else None)
        score = f"SSIM {scores[i]:.2f}" if scores is not None else ""
        _img(axes[1, i], recon[i], f"rebuilt\n{score}" if i == 0 else score or None)
    fig.tight_layout()
    return fig


def codes_figure(images, codes, recon=None, n: int = 8):
    """The tutorial's figure: each input above its compressed code (and its reconstruction)."""
    n = min(n, len(images))
    rows = 3 if recon is not None else 2
    fig, axes = plt.subplots(rows, n, figsize=(1.3 * n, 1.4 * rows), squeeze=False)
    lim = float(np.abs(codes[:n]).max()) or 1.0
    for i in range(n):
        _img(axes[0, i], images[i], "input" if i == 0 else None)
        axes[1, i].imshow(codes[i][None, :], cmap="coolwarm", vmin=-lim, vmax=lim, aspect="auto")
        axes[1, i].set_xticks([])
        axes[1, i].set_yticks([])
        if i == 0:
            axes[1, i].set_title(f"{codes.shape[1]}-number code", fontsize=8)
        if recon is not None:
            _img(axes[2, i], recon[i], "from code" if i == 0 else None)
    fig.tight_layout()
    return fig


MAX_POINTS = 20_000  # points a scatter plot draws


def code_map(
    codes,
    labels=None,
    class_names: Sequence[str] | None = None,
    seed: int = 0,
    title: str | None = None,
):
    """All codes projected to 2-D by PCA, coloured by class when known; beyond
    ``MAX_POINTS`` codes a seeded sample of them is drawn (the projection uses all)."""
    from sklearn.decomposition import PCA

    xy = PCA(n_components=2, random_state=seed).fit_transform(codes)
    if len(xy) > MAX_POINTS:
        shown = np.sort(np.random.default_rng(seed).choice(len(xy), MAX_POINTS, replace=False))
        xy = xy[shown]
        labels = None if labels is None else np.asarray(labels)[shown]
        title = title or f"codes, PCA to 2-D ({MAX_POINTS:,} of {len(codes):,} shown)"
    fig, ax = plt.subplots(figsize=(7, 5.5))
    if labels is None:
        ax.scatter(xy[:, 0], xy[:, 1], s=3, alpha=0.5)
    else:
        cmap = plt.get_cmap("tab10")
        for c in np.unique(labels):
            m = np.asarray(labels) == c
            name = class_names[c] if class_names is not None else str(c)
            ax.scatter(xy[m, 0], xy[m, 1], s=3, alpha=0.6, color=cmap(int(c) % 10), label=name)
        ax.legend(markerscale=4, fontsize=8, loc="best")
    ax.set_title(title or "codes, PCA to 2-D")
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    return fig


def nearest_neighbours(
    images,
    by: dict[str, np.ndarray],
    queries: Sequence[int],
    true_labels=None,
    k: int = 6,
):
    """For each query image, a row of its ``k`` nearest images by each way of placing them
    (``by``: a name and the (n, d) points, say codes and description); a neighbour of
    another true class (when known) is framed in red."""
    rows = []
    for q in queries:
        for name, points in by.items():
            distance = ((np.asarray(points) - points[q]) ** 2).sum(axis=1)
            distance[q] = np.inf  # itself left out
            found = np.argpartition(distance, k)[:k]
            rows.append((q, name, found[np.argsort(distance[found])]))
    fig, axes = plt.subplots(
        len(rows), k + 1, figsize=((k + 1) * 0.95, len(rows) * 1.05), squeeze=False
    )
    for (q, name, found), row in zip(rows, axes, strict=True):
        _img(row[0], images[q])
        row[0].set_ylabel(name, fontsize=8, rotation=0, ha="right", va="center")
        for i, ax in zip(found, row[1:], strict=True):
            wrong = true_labels is not None and true_labels[i] != true_labels[q]
            _img(ax, images[i])
            if wrong:
                for spine in ax.spines.values():
                    spine.set_color("red")
                    spine.set_linewidth(2.5)
    axes[0, 0].set_title("image", fontsize=8)
    axes[0, 1].set_title(f"its {k} nearest images", fontsize=8, loc="left")
    fig.tight_layout()
    return fig


def cluster_gallery(
    images,
    clusters,
    n_clusters: int,
    reconstruct,
    per_cluster: int = 8,
    seed: int = 0,
):
    """For each cluster: a row of members and, beneath, their reconstructions
    (``reconstruct`` maps a batch of images to theirs; only the ones shown are made)."""
    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(
        2 * n_clusters, per_cluster, figsize=(per_cluster * 0.85, n_clusters * 1.75), squeeze=False
    )
    for c in range(n_clusters):
        members = np.flatnonzero(np.asarray(clusters) == c)
        pick = (
            rng.choice(members, size=min(per_cluster, len(members)), replace=False)
            if len(members)
            else []
        )
        recon = reconstruct(images[np.sort(pick)]) if len(pick) else []
        for j in range(per_cluster):
            top, bottom = axes[2 * c, j], axes[2 * c + 1, j]
            if j < len(pick):
                _img(top, images[np.sort(pick)[j]])
                _img(bottom, recon[j])
            else:
                top.axis("off")
                bottom.axis("off")
        axes[2 * c, 0].set_ylabel(
            f"cluster {c}\n({len(members)})", rotation=0, ha="right", va="center", fontsize=8
        )
    fig.tight_layout()
    return fig


def contingency_table(table, class_names: Sequence[str], title: str = "clusters vs classes"):
    """Heat map of counts: one row per cluster, one column per true class."""
    table = np.asarray(table)
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(table) + 1.8))
    ax.imshow(table, cmap="Blues")
    for (i, j), v in np.ndenumerate(table):
        ax.text(
            j,
            i,
            str(v),
            ha="center",
            va="center",
            fontsize=7,
            color="white" if v > table.max() / 2 else "black",
        )
    ax.set_xticks(range(len(class_names)), class_names, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(table)), [f"cluster {i}" for i in range(len(table))], fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def precision_coverage(curves: dict, targets=(0.95, 0.90), title: str | None = None):
    """Precision against coverage, one line per method; ``curves`` maps name -> (cov, prec)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    if title:
        ax.set_title(title, fontsize=10)
    for name, (cov, prec) in curves.items():
        ax.plot(cov, prec, label=name)
    for t in targets:
        ax.axhline(t, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("coverage (share of images labelled)")
    ax.set_ylabel("precision of the labels given")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def figure_png(fig, dpi: int = 80) -> bytes:
    """Render a figure to PNG bytes and close it (for widgets)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()
