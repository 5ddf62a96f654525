"""The tutorial's labelling rule, kept to reproduce its numbers beside the workbook's.

Within one cluster, the i-th image is compared with the i-th example of one class only
(index-aligned pairs), and labelled with that class when their SSIM loss is under a
threshold (0.3 and 0.8 in the tutorial, SSIM ``max_val`` 2.0).
"""

from __future__ import annotations

import numpy as np

from helpers.labelling.labels import class_losses, map_clusters_to_classes
from helpers.labelling.settings import TUTORIAL
from helpers.ssim import ssim

TUTORIAL_THRESHOLDS = (0.3, 0.8)


def tutorial_rule(
    recon_cluster_images: np.ndarray,
    recon_class_examples: np.ndarray,
    threshold: float,
    max_val: float = TUTORIAL.max_val,
) -> dict[str, np.ndarray]:
    """The tutorial's rule on one cluster's images and one class's examples (only
    ``min(len)`` images are ever looked at)."""
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
    similarity: np.ndarray,
    recon_examples: np.ndarray,
    example_labels: np.ndarray,
    class_id: int,
    true_labels: np.ndarray | None = None,
) -> list[dict]:
    """The tutorial's rule as it was shown: on the cluster mapped to ``class_id`` (by the
    mean SSIM loss of its members, from ``similarity``, images x examples), against that
    class's examples, at each of its thresholds."""
    clusters, example_labels = np.asarray(clusters), np.asarray(example_labels)
    n_classes = int(example_labels.max()) + 1
    losses = class_losses(similarity, example_labels, n_classes, TUTORIAL.aggregate)
    mapping = map_clusters_to_classes(losses, clusters, int(clusters.max()) + 1)
    cluster_id = int(np.argmax(mapping == class_id))
    examples = recon_examples[example_labels == class_id]
    return tutorial_report(recon_images, clusters, cluster_id, examples, class_id, true_labels)
