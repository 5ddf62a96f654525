"""SSIM labeling: score images against each class's examples, map clusters, threshold, export.

Every image's reconstruction is compared with the reconstructions of all examples of every
class (``pairwise_ssim``); a class's loss for an image is ``1 - mean SSIM`` over that
class's examples. Those losses can then be *spread* along the codes' nearest-neighbour
graph, so an image borrows evidence from the images that look like it. Clusters are mapped
to the class their members are closest to. An image is *accepted* when its loss against
the class it is given is under the threshold, or, with ``threshold_on="margin"``, when the
runner-up class is at least the threshold worse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from helpers.graph import DEFAULT_NEIGHBOURS, knn_graph, nearest_in, spread
from helpers.ssim import DEFAULT_MAX_VAL, TUTORIAL_MAX_VAL, pairwise_ssim, ssim

LabelRule = Literal["image", "cluster"]
Aggregate = Literal["mean", "top3", "max"]
ThresholdOn = Literal["loss", "margin"]
TUTORIAL_THRESHOLDS = (0.3, 0.8)
DEFAULT_SPREAD = 0.8  # Fashion-MNIST: 0.8 and 0.9 measure alike, 0.5 worse (README quality table)


@dataclass
class Labels:
    """What the matcher decided for each image; ``accepted(t)`` applies a threshold."""

    label: np.ndarray  # (n,) class index given to every image
    ssim_loss: np.ndarray  # (n,) loss against that class (lower is more alike)
    margin: np.ndarray  # (n,) loss of the runner-up class minus the given class's loss
    cluster: np.ndarray  # (n,) cluster of each image
    class_losses: np.ndarray  # (n, k) loss against every class
    cluster_to_class: np.ndarray  # (n_clusters,) class each cluster was mapped to
    rule: str = "image"
    threshold_on: str = "loss"  # "loss": accept ssim_loss < t; "margin": accept margin >= t
    extras: dict = field(default_factory=dict)

    def accepted(self, threshold: float) -> np.ndarray:
        if self.threshold_on == "margin":
            return self.margin >= threshold
        return self.ssim_loss < threshold

    @property
    def score(self) -> np.ndarray:
        """The number the threshold applies to."""
        return self.margin if self.threshold_on == "margin" else self.ssim_loss

    @property
    def doubt(self) -> np.ndarray:
        """Larger for less certain labels, whichever score is thresholded."""
        return -self.margin if self.threshold_on == "margin" else self.ssim_loss

    def threshold_for_doubt(self, doubt: float) -> float:
        """The threshold that accepts exactly the images with ``self.doubt <= doubt``."""
        return -doubt if self.threshold_on == "margin" else doubt + 1e-6

    def __len__(self) -> int:
        return len(self.label)


def class_losses(
    recon_images: np.ndarray,
    recon_examples: np.ndarray,
    example_labels: np.ndarray,
    n_classes: int,
    max_val: float = DEFAULT_MAX_VAL,
    aggregate: Aggregate = "mean",
) -> np.ndarray:
    """(n, n_classes): ``1 - SSIM`` of each image against each class's examples.

    ``aggregate`` says how a class's examples are combined: ``"mean"`` over all of them,
    ``"top3"`` over the three most alike (a class with several looks, say sandals, is not
    penalised for the looks an image does not have), or ``"max"`` (the single nearest).
    """
    check_examples_cover_classes(example_labels, n_classes)
    sim = pairwise_ssim(recon_images, recon_examples, max_val=max_val)
    return class_losses_from_similarity(sim, example_labels, n_classes, aggregate)


def check_examples_cover_classes(example_labels, n_classes: int) -> None:
    """Every class needs at least one example image."""
    missing = sorted(set(range(n_classes)) - set(np.asarray(example_labels).tolist()))
    if missing:
        raise ValueError(f"no example images for class(es) {missing}")


def class_losses_from_similarity(
    sim: np.ndarray, example_labels, n_classes: int, aggregate: Aggregate = "mean"
) -> np.ndarray:
    """Combine a (n, n_examples) SSIM matrix over each class's examples: (n, n_classes) loss."""
    example_labels = np.asarray(example_labels)
    if aggregate == "mean":
        one_hot = np.eye(n_classes, dtype=np.float32)[example_labels]
        return (1.0 - (sim @ one_hot) / one_hot.sum(axis=0)).astype(np.float32)
    top = {"top3": 3, "max": 1}.get(aggregate)
    if top is None:
        raise ValueError(f"aggregate must be 'mean', 'top3' or 'max', not {aggregate!r}")
    out = np.empty((len(sim), n_classes), np.float32)
    for c in range(n_classes):
        cls = sim[:, example_labels == c]
        k = min(top, cls.shape[1])
        out[:, c] = 1.0 - np.partition(cls, cls.shape[1] - k, axis=1)[:, -k:].mean(axis=1)
    return out


def spread_losses(
    losses: np.ndarray,
    codes: np.ndarray,
    alpha: float = DEFAULT_SPREAD,
    n_neighbors: int = DEFAULT_NEIGHBOURS,
) -> np.ndarray:
    """Class losses averaged along the codes' nearest-neighbour graph (label spreading).

    A single SSIM comparison is noisy; the images whose codes surround an image usually
    show the same kind of thing, so each image's losses are blended with theirs. ``alpha``
    is how much comes from the neighbourhood (0: none, each image on its own).
    """
    losses = np.asarray(losses, np.float32)
    if alpha == 0:
        return losses
    return spread(losses, knn_graph(codes, n_neighbors), alpha)


@dataclass
class Pile:
    """The images being labelled, as leave-one-out calibration needs them to spread losses."""

    similarity: np.ndarray  # (n, n_examples) SSIM of each image against each example
    codes: np.ndarray  # (n, latent_dim) the images' codes
    example_codes: np.ndarray  # (n_examples, latent_dim) the examples' codes
    alpha: float = DEFAULT_SPREAD
    n_neighbors: int = DEFAULT_NEIGHBOURS


def default_rule(examples_per_class: int) -> LabelRule:
    """``"cluster"`` when each class has a single example, else ``"image"``.

    One example says little about a class, and a cluster's members together say more
    (README, quality table: accuracy 0.533 against 0.498 with one example on Fashion-MNIST;
    with 5 or 10 examples each image's own closest class is better).
    """
    return "cluster" if examples_per_class <= 1 else "image"


def map_clusters_to_classes(
    losses: np.ndarray, clusters: np.ndarray, n_clusters: int
) -> np.ndarray:
    """Each cluster's class: the one its members are, on average, closest to."""
    mapping = np.zeros(n_clusters, np.int64)
    for c in range(n_clusters):
        members = losses[clusters == c]
        mapping[c] = int(np.argmin(members.mean(axis=0))) if len(members) else -1
    return mapping


def assign_labels(
    losses: np.ndarray,
    clusters: np.ndarray,
    n_clusters: int,
    rule: LabelRule = "image",
    threshold_on: ThresholdOn = "loss",
) -> Labels:
    """Give every image a class, a loss and a margin.

    ``rule="image"``: each image takes the class it is closest to. ``rule="cluster"``: each
    image takes its cluster's class (the tutorial's idea), scored against that class.
    ``threshold_on`` picks what the threshold applies to: the SSIM loss, or the margin by
    which the runner-up class is worse (on Fashion-MNIST the margin ranks right and wrong
    labels better; see the README's quality table).
    """
    if threshold_on not in ("loss", "margin"):
        raise ValueError(f"threshold_on must be 'loss' or 'margin', not {threshold_on!r}")
    losses = np.asarray(losses, np.float32)
    clusters = np.asarray(clusters)
    mapping = map_clusters_to_classes(losses, clusters, n_clusters)
    if rule == "image":
        label = np.argmin(losses, axis=1)
    elif rule == "cluster":
        label = mapping[clusters]
    else:
        raise ValueError(f"rule must be 'image' or 'cluster', not {rule!r}")
    rows = np.arange(len(losses))
    given = losses[rows, label]
    others = losses.copy()
    others[rows, label] = np.inf
    margin = others.min(axis=1) - given if losses.shape[1] > 1 else np.zeros_like(given)
    return Labels(
        label, given, margin.astype(np.float32), clusters, losses, mapping, rule, threshold_on
    )


def evaluate(labels: Labels, true_labels: np.ndarray, threshold: float) -> dict[str, float]:
    """Accepted count, coverage, precision of the accepted labels, accuracy of all labels."""
    true_labels = np.asarray(true_labels)
    ok = labels.accepted(threshold)
    correct = labels.label == true_labels
    n_ok = int(ok.sum())
    return {
        "threshold": float(threshold),
        "accepted": n_ok,
        "coverage": n_ok / len(labels) if len(labels) else 0.0,
        "precision": float(correct[ok].mean()) if n_ok else float("nan"),
        "accuracy_all": float(correct.mean()) if len(labels) else float("nan"),
    }


def threshold_table(
    labels: Labels, true_labels: np.ndarray, thresholds=None, coverages=(0.1, 0.25, 0.5, 0.75, 1.0)
) -> list[dict[str, float]]:
    """``evaluate`` at the given thresholds, or at those that accept the given coverages."""
    if thresholds is None:
        doubts = np.quantile(labels.doubt, coverages)
        thresholds = [labels.threshold_for_doubt(d) for d in doubts]
    rows = [evaluate(labels, true_labels, float(t)) for t in thresholds]
    return sorted(rows, key=lambda r: r["coverage"])


def precision_coverage_curve(scores: np.ndarray, correct: np.ndarray):
    """Coverage and precision when accepting images in order of ``scores`` (low first)."""
    order = np.argsort(scores, kind="stable")
    hits = np.cumsum(np.asarray(correct)[order])
    n = np.arange(1, len(order) + 1)
    return n / len(order), hits / n, np.asarray(scores)[order]


def coverage_at_precision(scores: np.ndarray, correct: np.ndarray, target: float) -> float:
    """The largest coverage whose accepted labels still have precision >= ``target``."""
    coverage, precision, _ = precision_coverage_curve(scores, correct)
    ok = np.flatnonzero(precision >= target)
    return float(coverage[ok[-1]]) if len(ok) else 0.0


def calibrate_threshold(
    recon_examples: np.ndarray,
    example_labels: np.ndarray,
    n_classes: int,
    target_precision: float = 0.95,
    max_val: float = DEFAULT_MAX_VAL,
    aggregate: Aggregate = "mean",
    threshold_on: ThresholdOn = "loss",
    pile: Pile | None = None,
) -> dict:
    """A default threshold from the examples alone (no test labels).

    Leave-one-out: each example is scored against every class's *other* examples and given
    its closest class (scored as the labels will be: same ``aggregate``, same
    ``threshold_on``); the threshold is the loosest at which those held-out labels are
    still ``target_precision`` precise. A class with a single example cannot be held out,
    so with one example per class there is nothing to calibrate on: the result is NaN.

    When the labels spread losses along the graph (``pile`` given, ``pile.alpha > 0``), a
    held-out example is spread the same way: joined to its nearest images, whose losses are
    recomputed and spread without it, so it never vouches for itself.
    """
    example_labels = np.asarray(example_labels)
    sim = pairwise_ssim(recon_examples, recon_examples, max_val=max_val)
    rows = np.arange(len(example_labels))
    loo = np.empty((len(rows), n_classes), np.float32)
    for i in rows:  # a few dozen examples: a loop over them is cheap
        keep = rows != i
        present = np.isin(np.arange(n_classes), example_labels[keep])
        loo[i] = np.inf
        if present.all():
            loo[i] = class_losses_from_similarity(
                sim[i : i + 1, keep], example_labels[keep], n_classes, aggregate
            )[0]
    usable = np.isfinite(loo).all(axis=1)
    if pile is not None and pile.alpha > 0 and usable.any():
        loo[usable] = _spread_held_out(loo, example_labels, n_classes, aggregate, pile)[usable]
    if usable.sum() < 2:
        return {
            "threshold": float("nan"),
            "method": "none (a class has a single example)",
            "n_examples": int(len(rows)),
        }
    held_out = assign_labels(
        loo[usable], np.zeros(int(usable.sum()), np.int64), 1, threshold_on=threshold_on
    )
    correct = held_out.label == example_labels[usable]
    scores = held_out.doubt
    coverage, precision, sorted_scores = precision_coverage_curve(scores, correct)
    ok = np.flatnonzero(precision >= target_precision)
    if len(ok) and ok[-1] < len(sorted_scores) - 1:
        # halfway to the first held-out example that would break the target
        doubt = float((sorted_scores[ok[-1]] + sorted_scores[ok[-1] + 1]) / 2)
    elif len(ok):
        doubt = float(sorted_scores[-1])
    else:
        doubt = float(sorted_scores[0])
    threshold = held_out.threshold_for_doubt(doubt)
    accepted = held_out.accepted(threshold)
    return {
        "threshold": threshold,
        "threshold_on": threshold_on,
        "method": "leave-one-out on the examples"
        + (f", spread (alpha {pile.alpha})" if pile is not None and pile.alpha > 0 else ""),
        "target_precision": target_precision,
        "n_examples": int(usable.sum()),
        "held_out_accepted": int(accepted.sum()),
        "held_out_precision_at_threshold": float(correct[accepted].mean())
        if accepted.any()
        else float("nan"),
    }


def _spread_held_out(
    loo: np.ndarray, example_labels: np.ndarray, n_classes: int, aggregate: Aggregate, pile: Pile
) -> np.ndarray:
    """Each held-out example's losses spread as an image's would be, without itself.

    An example joins the graph through its nearest images: its spread losses are
    ``(1 - alpha) * own + alpha * mean over those images``. The images' losses for the
    example's class are recomputed without it (the other classes do not change).
    """
    graph = knn_graph(pile.codes, pile.n_neighbors)
    neighbours = nearest_in(pile.example_codes, pile.codes, pile.n_neighbors)
    losses = class_losses_from_similarity(pile.similarity, example_labels, n_classes, aggregate)
    spread_pile = spread(losses, graph, pile.alpha)
    out = np.full_like(loo, np.inf)
    rows = np.arange(len(example_labels))
    for i in np.flatnonzero(np.isfinite(loo).all(axis=1)):
        c = example_labels[i]
        others = (example_labels == c) & (rows != i)
        column = class_losses_from_similarity(
            pile.similarity[:, others], np.zeros(int(others.sum()), np.int64), 1, aggregate
        )
        around = spread_pile[neighbours[i]].mean(axis=0)
        around[c] = spread(column, graph, pile.alpha)[neighbours[i], 0].mean()
        out[i] = (1 - pile.alpha) * loo[i] + pile.alpha * around
    return out


def tutorial_rule(
    recon_cluster_images: np.ndarray,
    recon_class_examples: np.ndarray,
    threshold: float,
    max_val: float = TUTORIAL_MAX_VAL,
) -> dict[str, np.ndarray]:
    """The tutorial's rule, kept to reproduce its numbers.

    Within one cluster, the i-th image is compared with the i-th example of one class only
    (index-aligned pairs; only ``min(len)`` images are ever looked at), and labelled with
    that class when their SSIM loss (``max_val`` 2.0, as the tutorial had it) is under
    ``threshold``.
    """
    n = min(len(recon_cluster_images), len(recon_class_examples))
    sim = np.asarray(ssim(recon_cluster_images[:n], recon_class_examples[:n], max_val))
    loss = 1.0 - sim
    return {"index": np.arange(n), "ssim_loss": loss, "accepted": loss < threshold}


def tutorial_report(
    recon_images: np.ndarray,
    clusters: np.ndarray,
    cluster_id: int,
    recon_class_examples: np.ndarray,
    class_id: int,
    true_labels: np.ndarray | None = None,
    thresholds=TUTORIAL_THRESHOLDS,
) -> list[dict]:
    """The tutorial's rule on one cluster and one class, at each of its thresholds."""
    members = np.flatnonzero(np.asarray(clusters) == cluster_id)
    report = []
    for t in thresholds:
        out = tutorial_rule(recon_images[members], recon_class_examples, t)
        chosen = members[out["index"][out["accepted"]]]
        row = {
            "threshold": t,
            "cluster": cluster_id,
            "compared": len(out["index"]),
            "accepted": len(chosen),
            "coverage": len(chosen) / len(recon_images),
        }
        if true_labels is not None:
            row["precision"] = (
                float(np.mean(true_labels[chosen] == class_id)) if len(chosen) else float("nan")
            )
        report.append(row)
    return report


def tutorial_on_class(
    recon_images: np.ndarray,
    clusters: np.ndarray,
    losses: np.ndarray,
    recon_examples: np.ndarray,
    example_labels: np.ndarray,
    class_id: int,
    true_labels: np.ndarray | None = None,
) -> list[dict]:
    """The tutorial's rule as it was shown: on the cluster mapped to ``class_id``, against
    that class's examples, at each of its thresholds."""
    clusters, example_labels = np.asarray(clusters), np.asarray(example_labels)
    mapping = map_clusters_to_classes(losses, clusters, int(clusters.max()) + 1)
    cluster_id = int(np.argmax(mapping == class_id))
    examples = recon_examples[example_labels == class_id]
    return tutorial_report(recon_images, clusters, cluster_id, examples, class_id, true_labels)


def label_rows(
    labels: Labels,
    threshold: float,
    class_names,
    image_ids=None,
    true_labels: np.ndarray | None = None,
) -> tuple[list[dict], list[str]]:
    """Rows and columns of ``labels.csv`` (see the design's labels-export contract)."""
    n = len(labels)
    ids = list(range(n)) if image_ids is None else list(image_ids)
    accepted = labels.accepted(threshold)
    fields = ["image", "cluster", "label", "ssim_loss", "accepted"]
    if true_labels is not None:
        fields.append("true_label")
    fields += ["label_index", "margin"]
    rows = []
    for i in range(n):
        row = {
            "image": ids[i],
            "cluster": int(labels.cluster[i]),
            "label": class_names[int(labels.label[i])],
            "ssim_loss": f"{labels.ssim_loss[i]:.6f}",
            "accepted": int(accepted[i]),
            "label_index": int(labels.label[i]),
            "margin": f"{labels.margin[i]:.6f}",
        }
        if true_labels is not None:
            row["true_label"] = class_names[int(true_labels[i])]
        rows.append(row)
    return rows, fields
