"""From SSIM scores to labels: combine each class's examples, spread, assign.

Every image's reconstruction has been compared with the reconstruction of every example
(``pairwise_ssim``: an images x examples similarity matrix). ``label_images`` turns that
matrix into a class for every image in three steps, each set by one ``LabelSettings``:

1. a class's *loss* for an image: ``1 - SSIM``, combined over that class's examples
   (``aggregate``: the 3 most alike by default);
2. those losses *spread* along the codes' nearest-neighbour graph, so an image borrows
   evidence from the images that look like it (``spread``: how much), and, with
   ``poisson`` > 0, blended with Poisson learning: the examples' classes walked through
   the graph from where the examples sit in it;
3. each image takes its closest class (or its cluster's class, ``rule``), with a *margin*:
   how much worse the runner-up class scores, and a *confidence*: the margin in units of
   its typical size over the pile; once reviews are Poisson sources too, the smaller of
   that and the same with the person's examples alone as sources, so that no label is
   sure only because a review sits next to it. The threshold applies to the confidence
   (the default), the margin or the loss (``threshold_on``).

The settings, their defaults and the tutorial's (``TUTORIAL``) are in
``helpers.labelling.settings``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from helpers.core.graph import DEFAULT_NEIGHBOURS, knn_graph, spread
from helpers.data.fashion_mnist import check_examples_cover_classes
from helpers.labelling.poisson import blend_poisson, poisson_scores
from helpers.labelling.settings import (
    AGGREGATES,
    DEFAULT_SETTINGS,
    THRESHOLD_ON,
    Aggregate,
    LabelRule,
    LabelSettings,
    ThresholdOn,
)


@dataclass(frozen=True)
class Known:
    """Images whose class a person gave: examples that are in the pile, and reviews."""

    index: np.ndarray  # (m,) image index
    classes: np.ndarray  # (m,) class index
    source: tuple[str, ...]  # (m,) "example" or "reviewed"

    @staticmethod
    def of(index, classes, source: str) -> Known:
        """``index`` -> ``classes``, all from one ``source``; index -1 (not in the pile) dropped."""
        index, classes = np.asarray(index, np.int64), np.asarray(classes, np.int64)
        keep = index >= 0
        return Known(index[keep], classes[keep], (source,) * int(keep.sum()))

    def __add__(self, other: Known) -> Known:
        """Both; where an image is in both, ``other`` wins (a review over an example)."""
        index = np.concatenate([self.index, other.index])
        classes = np.concatenate([self.classes, other.classes])
        source = self.source + other.source
        last = {int(i): j for j, i in enumerate(index)}  # the last entry per image
        pick = np.asarray(sorted(last.values()), np.int64)
        return Known(index[pick], classes[pick], tuple(source[j] for j in pick))

    def __len__(self) -> int:
        return len(self.index)


@dataclass
class Labels:
    """What the workbook decided for each image; ``accepted(t)`` applies a threshold."""

    label: np.ndarray  # (n,) class index given to every image
    ssim_loss: np.ndarray  # (n,) loss against that class (lower is more alike)
    margin: np.ndarray  # (n,) loss of the runner-up class minus the given class's loss
    cluster: np.ndarray  # (n,) cluster of each image
    class_losses: np.ndarray  # (n, k) loss against every class
    cluster_to_class: np.ndarray  # (n_clusters,) class each cluster was mapped to
    rule: LabelRule = "image"
    threshold_on: ThresholdOn = "loss"  # "loss": accept ssim_loss < t; "margin": margin >= t
    known: np.ndarray | None = None  # (n,) class a person gave, -1 where none
    source: np.ndarray | None = None  # (n,) "example", "reviewed" or "auto"
    confidence: np.ndarray | None = None  # (n,) see ``confidence_of``; None: the margin's
    # (n, k) the losses with the person's examples alone as Poisson sources (None: the
    # same as class_losses, when no review is a source)
    second_opinion: np.ndarray | None = None
    scales: tuple[float, float] = (1.0, 1.0)  # typical margins: class_losses, second opinion

    def __post_init__(self):
        if self.confidence is None:
            self.confidence = confidence_of(self.class_losses, None, self.label, self.scales)

    def accepted(self, threshold: float) -> np.ndarray:
        """Which labels a threshold accepts; a class a person gave is always accepted."""
        if self.threshold_on == "loss":
            ok = self.ssim_loss < threshold
        else:
            ok = self.score >= threshold
        return ok if self.known is None else ok | (self.known >= 0)

    def with_known(self, known: Known) -> Labels:
        """These labels with the classes a person gave: those images keep that class,
        whatever the scores say, and are always accepted."""
        known_class = np.full(len(self), -1, np.int64) if self.known is None else self.known.copy()
        source = np.full(len(self), "auto", object) if self.source is None else self.source.copy()
        known_class[known.index] = known.classes
        source[known.index] = known.source
        label, loss, margin = self.label.copy(), self.ssim_loss.copy(), self.margin.copy()
        label[known.index] = known.classes
        loss[known.index], margin[known.index] = _loss_and_margin(
            self.class_losses[known.index], known.classes
        )
        confidence = self.confidence.copy()
        second = None if self.second_opinion is None else self.second_opinion[known.index]
        confidence[known.index] = confidence_of(
            self.class_losses[known.index], second, known.classes, self.scales
        )
        return replace(
            self,
            label=label,
            ssim_loss=loss,
            margin=margin,
            known=known_class,
            source=source,
            confidence=confidence,
        )

    @property
    def score(self) -> np.ndarray:
        """The number the threshold applies to."""
        return {"loss": self.ssim_loss, "margin": self.margin}.get(
            self.threshold_on, self.confidence
        )

    @property
    def doubt(self) -> np.ndarray:
        """Larger for less certain labels, whichever score is thresholded."""
        return self.ssim_loss if self.threshold_on == "loss" else -self.score

    def threshold_for_doubt(self, doubt: float) -> float:
        """The threshold that accepts exactly the images with ``self.doubt <= doubt``."""
        return doubt + 1e-6 if self.threshold_on == "loss" else -doubt

    def __len__(self) -> int:
        return len(self.label)


def label_images(
    similarity: np.ndarray,
    example_labels: np.ndarray,
    n_classes: int,
    codes: np.ndarray,
    clusters: np.ndarray,
    settings: LabelSettings = DEFAULT_SETTINGS,
    known: Known | None = None,
    example_codes: np.ndarray | None = None,
    poisson_steps: int | None = None,
    person_examples: int | None = None,
) -> Labels:
    """Labels for every image from its (n, n_examples) SSIM against the examples.

    ``similarity`` is computed with ``settings.max_val`` (``pairwise_ssim``); ``codes``
    (n, latent_dim) give the graph the losses spread along; ``clusters`` (n,) the cluster
    of each image; ``known``: images whose class a person gave, which keep it;
    ``example_codes`` (n_examples, latent_dim), needed with ``settings.poisson``, place the
    examples in the graph; ``poisson_steps``: how long Poisson learning walks (None: until
    a walk from all the examples mixes; a session passes what its person's examples alone
    need, so that reviews, which mix the walk sooner, never shorten it: see
    ``poisson_walk_steps``); ``person_examples``: the first so many examples are the
    person's, the rest reviews (None: all are the person's), for the confidence's second
    opinion. Notebook 05, the explorer, the benchmarks and the headless run all label
    through here.
    """
    losses = class_losses(similarity, example_labels, n_classes, settings.aggregate)
    clamp = None
    if known is not None and settings.clamp_known and settings.spread > 0:
        losses = losses.copy()
        losses[known.index] = 1.0  # as unlike every other class as SSIM allows
        losses[known.index, known.classes] = 0.0  # and exactly like its own
        clamp = known.index
    ssim = spread_losses(losses, codes, settings.spread, settings.n_neighbors, clamp)
    losses, second = ssim, None
    if uses_poisson(settings, len(codes)):
        if example_codes is None:
            raise ValueError("labelling with settings.poisson > 0 needs the examples' codes")
        k = settings.n_neighbors
        scores = poisson_scores(codes, example_codes, example_labels, n_classes, k, poisson_steps)
        losses = blend_poisson(ssim, scores, settings.poisson)
        p = len(example_labels) if person_examples is None else person_examples
        if p < len(example_labels):  # reviews are sources too: the examples' own opinion
            own = poisson_scores(
                codes, example_codes[:p], example_labels[:p], n_classes, k, poisson_steps
            )
            second = blend_poisson(ssim, own, settings.poisson)
    n_clusters = int(np.max(clusters)) + 1 if len(clusters) else 0
    labels = assign_labels(
        losses,
        clusters,
        n_clusters,
        settings.rule_for(example_labels),
        settings.threshold_on,
        second,
    )
    return labels if known is None else labels.with_known(known)


def class_losses(
    similarity: np.ndarray, example_labels, n_classes: int, aggregate: Aggregate
) -> np.ndarray:
    """Combine a (n, n_examples) SSIM matrix over each class's examples: (n, n_classes) loss.

    ``aggregate`` says how: ``"mean"`` over all of a class's examples, ``"top3"`` over the
    three most alike (a class with several looks, say sandals, is not penalised for the
    looks an image does not have), or ``"max"`` (the single nearest).
    """
    example_labels = np.asarray(example_labels)
    check_examples_cover_classes(example_labels, n_classes)
    if aggregate == "mean":
        one_hot = np.eye(n_classes, dtype=np.float32)[example_labels]
        return (1.0 - (similarity @ one_hot) / one_hot.sum(axis=0)).astype(np.float32)
    top = {"top3": 3, "max": 1}.get(aggregate)
    if top is None:
        raise ValueError(f"aggregate must be one of {AGGREGATES}, not {aggregate!r}")
    out = np.empty((len(similarity), n_classes), np.float32)
    for c in range(n_classes):
        cls = similarity[:, example_labels == c]
        k = min(top, cls.shape[1])
        out[:, c] = 1.0 - np.partition(cls, cls.shape[1] - k, axis=1)[:, -k:].mean(axis=1)
    return out


def spread_losses(
    losses: np.ndarray,
    codes: np.ndarray,
    alpha: float,
    n_neighbors: int = DEFAULT_NEIGHBOURS,
    clamp: np.ndarray | None = None,
) -> np.ndarray:
    """Class losses averaged along the codes' nearest-neighbour graph (label spreading).

    A single SSIM comparison is noisy; the images whose codes surround an image usually
    show the same kind of thing, so each image's losses are blended with theirs. ``alpha``
    is how much comes from the neighbourhood (0: none, each image on its own); rows
    ``clamp`` keep their losses. In float32: within 1e-5 of float64 and about twice as fast
    (a relabel at a million images spends most of its time here).
    """
    losses = np.asarray(losses, np.float32)
    if alpha == 0:
        return losses
    graph = knn_graph(codes, n_neighbors)
    return spread(losses, graph, alpha, clamp=clamp, dtype=np.float32)


# Beyond this many images labels come from the spread SSIM losses alone: Poisson
# learning's walk grows with the graph (several minutes over a million real codes on 2
# cores, timed once, outside any results file), where spreading takes 50 steps.
POISSON_UP_TO = 200_000


def uses_poisson(settings: LabelSettings, n_images: int) -> bool:
    """Whether labelling ``n_images`` with ``settings`` blends in Poisson learning."""
    return settings.poisson > 0 and n_images <= POISSON_UP_TO


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
    rule: LabelRule,
    threshold_on: ThresholdOn,
    second_opinion: np.ndarray | None = None,
    scales: tuple[float, float] | None = None,
) -> Labels:
    """Give every image a class, a loss, a margin and a confidence.

    ``rule="image"``: each image takes the class it is closest to. ``rule="cluster"``: each
    image takes its cluster's class (the tutorial's idea), scored against that class.
    ``threshold_on`` picks what the threshold applies to: the SSIM loss, the margin by
    which the runner-up class is worse, or the confidence (``confidence_of``), for which
    ``second_opinion`` are the losses with the person's examples alone as Poisson sources
    (None: ``losses``) and ``scales`` the pile's typical margins (None: measured on these
    rows).
    """
    if threshold_on not in THRESHOLD_ON:
        raise ValueError(f"threshold_on must be one of {THRESHOLD_ON}, not {threshold_on!r}")
    losses = np.asarray(losses, np.float32)
    clusters = np.asarray(clusters)
    mapping = map_clusters_to_classes(losses, clusters, n_clusters)
    if rule == "image":
        label = np.argmin(losses, axis=1)
    elif rule == "cluster":
        label = mapping[clusters]
    else:
        raise ValueError(f"rule must be 'image' or 'cluster', not {rule!r}")
    given, margin = _loss_and_margin(losses, label)
    if scales is None:
        scales = confidence_scales(losses, second_opinion)
    return Labels(
        label,
        given,
        margin,
        clusters,
        losses,
        mapping,
        rule,
        threshold_on,
        confidence=confidence_of(losses, second_opinion, label, scales),
        second_opinion=second_opinion,
        scales=scales,
    )


def confidence_scales(
    losses: np.ndarray, second_opinion: np.ndarray | None = None
) -> tuple[float, float]:
    """The typical margin (standard deviation over the rows) of each image's closest class,
    by ``losses`` and by the ``second_opinion`` (None: the same losses)."""
    second_opinion = losses if second_opinion is None else second_opinion

    def typical(x):
        if len(x) == 0:
            return 1.0
        return max(float(np.std(_loss_and_margin(x, np.argmin(x, axis=1))[1])), 1e-12)

    return typical(losses), typical(second_opinion)


def confidence_of(
    losses: np.ndarray,
    second_opinion: np.ndarray | None,
    label: np.ndarray,
    scales: tuple[float, float],
) -> np.ndarray:
    """How sure each label is: how far ``label`` is ahead of the best other class, divided
    by the typical margin (``scales``); with a ``second_opinion`` (the losses with the
    person's examples alone as Poisson sources), the smaller of the two. Negative when
    another class is first.

    Why two: a review is one more Poisson source, and next to a source its class scores
    high whether or not an image belongs there; reviews sit at class boundaries, so with
    the blended margin alone the images beside them took the highest margins, many wrong,
    and the margin stopped ranking. A label is sure only if it is sure without that pull.
    """
    _, lead = _loss_and_margin(losses, label)
    confidence = lead / scales[0]
    if second_opinion is not None:
        second = _loss_and_margin(second_opinion, label)[1] / scales[1]
        confidence = np.minimum(confidence, second)
    return confidence.astype(np.float32)


def _loss_and_margin(losses: np.ndarray, label: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's loss against its class, and how much worse the runner-up class is."""
    rows = np.arange(len(losses))
    given = losses[rows, label]
    if losses.shape[1] < 2:
        return given, np.zeros_like(given)
    others = losses.copy()
    others[rows, label] = np.inf
    return given, (others.min(axis=1) - given).astype(np.float32)
