"""A starting threshold that keeps its promise: the share of accepted labels that are right.

Held-out labels say how often a label of a given confidence is right: each example held
out in turn and labelled from the others, exactly as the images are (leave-one-out), and
every *audit* review (an image drawn at random for review, so a fair sample of the pile),
labelled as it was before its review. A monotone model of right-or-wrong on confidence,
fitted to them, is applied to the whole pile: the threshold is the loosest at which the
pile's accepted labels are, by that model, still ``target_precision`` precise. Examples
alone are not a fair sample (a person picks typical images), so every number says what
it rests on, with a 90% interval from the fair labels it accepts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from sklearn.isotonic import IsotonicRegression

from helpers.evaluation import precision_coverage_curve
from helpers.graph import knn_graph, nearest_in, poisson, spread
from helpers.labels import (
    DEFAULT_SETTINGS,
    Labels,
    LabelSettings,
    assign_labels,
    blend_poisson,
    class_losses,
    example_places,
    poisson_walk_steps,
    spread_losses,
    uses_poisson,
)
from helpers.ssim import pairwise_ssim

# Beyond this many images a held-out example is spread through a seeded sample of the
# pile: its own graph is as good a neighbourhood, and spreading a column per example over
# a million images would cost minutes and gigabytes.
CALIBRATION_SAMPLE = 100_000


@dataclass(frozen=True)
class PileScores:
    """The pile being labelled, as spreading a held-out example needs it."""

    similarity: np.ndarray  # (n, n_examples) SSIM of each image against each example
    codes: np.ndarray  # (n, latent_dim) the images' codes
    example_codes: np.ndarray  # (n_examples, latent_dim) the examples' codes
    poisson_steps: int | None = None  # as labelling walked (None: the examples' mixing)

    def sample(self, n: int, seed: int = 0) -> PileScores:
        """A seeded sample of ``n`` of the images (all of them if there are no more)."""
        if len(self.codes) <= n:
            return self
        idx = np.sort(np.random.default_rng(seed).choice(len(self.codes), n, replace=False))
        return PileScores(
            self.similarity[idx], self.codes[idx], self.example_codes, self.poisson_steps
        )


@dataclass(frozen=True)
class HeldOut:
    """Labels made without their own class known (held-out examples, audit reviews): the
    score the threshold applies to (``Labels.score``) and whether each was right."""

    score: np.ndarray
    correct: np.ndarray

    def __len__(self) -> int:
        return len(self.correct)


def wilson_interval(right: int, n: int, level: float = 0.90) -> tuple[float, float]:
    """The Wilson score interval for a share ``right / n`` (``(nan, nan)`` when n is 0)."""
    if n == 0:
        return float("nan"), float("nan")
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + level / 2))
    p = right / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


# Fewer fair (audit) labels than this accepted at a threshold, and its precision is only
# an estimate from the model fitted mostly to the examples: the explorer says so.
FEW_AUDITS = 30


@dataclass(frozen=True)
class Calibration:
    """Where the threshold starts, and why."""

    threshold: float  # calibrated, or the median score when nothing can be held out
    calibrated: bool  # False: too few examples to hold one out
    method: str  # in words
    target_precision: float
    n_held_out: int  # examples that could be held out
    held_out_accepted: int  # of those, how many the threshold accepts
    held_out_precision: float  # and how many of them were right (NaN when none)
    estimated_precision: float = float("nan")  # of the pile's accepted labels, by the model
    n_audit: int = 0  # audit reviews held out
    on_loss: bool = False  # the threshold is on the SSIM loss: lower scores are surer
    # what the explorer needs to estimate any other threshold
    _examples: HeldOut | None = field(default=None, repr=False, compare=False)
    _audit: HeldOut | None = field(default=None, repr=False, compare=False)
    _model: PrecisionEstimate | None = field(default=None, repr=False, compare=False)

    @property
    def met_target(self) -> bool:
        """Whether the estimated precision at this threshold reaches the target."""
        return self.calibrated and self.estimated_precision >= self.target_precision

    def estimate(self, threshold: float) -> dict:
        """At ``threshold`` (on confidence): the model's precision over the pile's accepted
        labels, and the held-out labels it accepts: audit reviews (a fair sample) and
        examples, each as right and count with a 90% Wilson interval."""
        out = {"threshold": float(threshold), "estimated_precision": float("nan")}
        if self._model is not None:
            out["estimated_precision"] = self._model.at(threshold)
        for name, held in (("audit", self._audit), ("examples", self._examples)):
            if held is None:
                held = HeldOut(np.zeros(0), np.zeros(0, bool))
            ok = held.score < threshold if self.on_loss else held.score >= threshold
            right, n = int(held.correct[ok].sum()), int(ok.sum())
            out[name] = {"right": right, "accepted": n, "of": len(held)}
            out[name]["interval"] = wilson_interval(right, n)
        return out

    def describe(self, threshold: float) -> str:
        """One plain sentence on how precise the labels accepted at ``threshold`` are."""
        if not self.calibrated:
            return f"{self.method}: no estimate of precision"
        e = self.estimate(threshold)
        audit, examples = e["audit"], e["examples"]
        text = f"estimated precision {e['estimated_precision']:.3f}"
        fair = audit if audit["accepted"] else examples
        kind = "audit reviews" if audit["accepted"] else "held-out examples"
        if fair["accepted"]:
            low, high = fair["interval"]
            text += (
                f"; {fair['right']} of the {fair['accepted']} {kind} it accepts are right "
                f"(90% interval {low:.2f}-{high:.2f})"
            )
        if audit["of"] == 0:
            text += (
                "; no audit reviews yet, so this rests on your examples alone, which are no "
                "fair sample: treat it as a guess until audit reviews (every fifth) are in"
            )
        elif audit["accepted"] < FEW_AUDITS:
            text += (
                f"; only {audit['accepted']} audit review(s) accepted here, so this rests "
                "mostly on your examples, which are no fair sample: a rough guess"
            )
        return text

    def __str__(self) -> str:
        if not self.calibrated:
            return f"threshold {self.threshold:.4f}: {self.method}"
        text = (
            f"threshold {self.threshold:.4f} ({self.method}; target precision "
            f"{self.target_precision}): {self.describe(self.threshold)}"
        )
        if self.estimated_precision < self.target_precision:
            text += (
                "; no threshold reaches the target by the estimate, so this is the "
                "strictest one: do not trust these labels without looking"
            )
        return text


def calibrate_threshold(
    labels: Labels,
    example_reconstructions: np.ndarray,
    example_labels: np.ndarray,
    settings: LabelSettings = DEFAULT_SETTINGS,
    pile: PileScores | None = None,
    example_similarity: np.ndarray | None = None,
    audit: HeldOut | None = None,
    n_person_examples: int | None = None,
) -> Calibration:
    """The threshold for ``labels`` (made with ``settings``) that the held-out labels support.

    The examples are held out one at a time. A class with a single example cannot be; when
    fewer than two examples can and there are no ``audit`` labels, the threshold falls back
    to the median score (half the images accepted) and ``calibrated`` is False. With
    spreading (``settings.spread > 0``) a held-out example is spread as an image would be,
    which needs ``pile``: it joins the graph through its nearest images, whose losses are
    recomputed without it, so it never vouches for itself. With Poisson learning
    (``settings.poisson > 0``) its Poisson scores likewise come from the other examples only.
    ``audit``: audit reviews, labelled without their own reviews (``LabelSession`` makes
    them). ``n_person_examples``: only the first so many examples are held out (the
    person's; the reviews after them are sources, never held out: the least certain
    images are the pile's hardest, no sample of it). ``example_similarity`` (examples x
    examples SSIM) saves computing it.
    """
    if labels.threshold_on != settings.threshold_on:
        raise ValueError(
            f"labels are thresholded on {labels.threshold_on!r}, settings on "
            f"{settings.threshold_on!r}: calibrate with the settings that made the labels"
        )
    poisson = pile is not None and uses_poisson(settings, len(pile.codes))
    if (settings.spread > 0 or settings.poisson > 0) and pile is None:
        raise ValueError("calibrating spread or Poisson labels needs the pile (PileScores)")
    example_labels = np.asarray(example_labels)
    n_classes = labels.class_losses.shape[1]
    if example_similarity is None:
        example_similarity = pairwise_ssim(
            example_reconstructions, example_reconstructions, max_val=settings.max_val
        )
    loo = _held_out_losses(np.asarray(example_similarity), example_labels, n_classes, settings)
    usable = np.isfinite(loo).all(axis=1)
    if n_person_examples is not None:
        usable[n_person_examples:] = False
        loo[~usable] = np.inf  # not held out: nothing below computes them
    n_audit = 0 if audit is None else len(audit)
    if usable.sum() < 2 and n_audit == 0:
        return Calibration(
            threshold=float(np.median(labels.score)),
            calibrated=False,
            method="median score: too few examples to hold one out (a class has one)",
            target_precision=settings.target_precision,
            n_held_out=int(usable.sum()),
            held_out_accepted=0,
            held_out_precision=float("nan"),
        )
    through = ""
    if settings.spread > 0 or poisson:
        sample = pile.sample(CALIBRATION_SAMPLE)
        if sample is not pile:
            through = (
                f" through a sample of {len(sample.codes):,} of the {len(pile.codes):,} images"
            )
    if settings.spread > 0 and usable.any():
        loo[usable] = _spread_held_out(loo, example_labels, n_classes, settings, sample)[usable]
    second = None
    if poisson and usable.any():
        blended, own = _poisson_held_out(
            loo, example_labels, n_classes, settings, sample, n_person_examples
        )
        loo[usable] = blended[usable]
        if own is not None and labels.second_opinion is not None:
            second = own[usable]
    held_out = assign_labels(
        loo[usable],
        np.zeros(int(usable.sum()), np.int64),
        1,
        "image",
        settings.threshold_on,
        second,
        labels.scales,
    )
    examples = HeldOut(held_out.score, held_out.label == example_labels[usable])
    pile_score = labels.score if labels.known is None else labels.score[labels.known < 0]
    if settings.threshold_on == "loss":
        threshold, model = _threshold_from_held_out(examples, settings.target_precision), None
        right = examples.correct[examples.score < threshold]
        estimated = float(right.mean()) if len(right) else float("nan")
    else:
        n_known = 0 if labels.known is None else int((labels.known >= 0).sum())
        model = PrecisionEstimate(_precision_model(examples, audit), pile_score, n_known)
        threshold = model.threshold(settings.target_precision)
        estimated = model.at(threshold)
    accepted = held_out.accepted(threshold)
    return Calibration(
        threshold=threshold,
        calibrated=True,
        method="held-out examples"
        + (f" and {n_audit} audit review(s)" if n_audit else "")
        + (f", spread (alpha {settings.spread})" if settings.spread > 0 else "")
        + (f", Poisson learning (weight {settings.poisson})" if poisson else "")
        + through,
        target_precision=settings.target_precision,
        n_held_out=int(usable.sum()),
        held_out_accepted=int(accepted.sum()),
        held_out_precision=float(examples.correct[accepted].mean())
        if accepted.any()
        else float("nan"),
        estimated_precision=estimated,
        n_audit=n_audit,
        on_loss=settings.threshold_on == "loss",
        _examples=examples,
        _audit=audit,
        _model=model,
    )


# With audit reviews among the held-out labels, each step of the fitted P(right |
# confidence) is shrunk towards their overall share right by this many pseudo-labels (a
# Beta prior): a step resting on a few audits, all right, says 1.0, and plain isotonic
# regression then promised too much (Fashion-MNIST after 100-500 reviews: down to 0.92
# delivered for 0.95 promised). The examples alone need none: a held-out example has lost
# one of its class's few examples, which makes them err on the safe side, and shrinking
# them too made the start too strict (USPS, one draw: 2% of the pile accepted where 72%
# could be at 0.95). Measured on Fashion-MNIST and USPS, 3 draws x 6 review rounds each.
PRIOR_LABELS = 2.0


def _precision_model(examples: HeldOut, audit: HeldOut | None) -> _StepModel:
    """P(right | score): isotonic regression (the more sure, never the less often right)
    on the held-out labels, the examples and the audit reviews alike; with audits, each
    step shrunk by ``PRIOR_LABELS`` towards their overall share right.

    Non-parametric, since right-or-wrong against confidence is no logistic curve: flat
    where another class is close, then steep (USPS: 85% right below the median confidence,
    98% just above it); a logistic fitted to both ends was several points pessimistic at
    the top. The audits, a fair sample, outweigh the examples as they grow in number."""
    score = np.r_[examples.score, [] if audit is None else audit.score].astype(np.float64)
    correct = np.r_[examples.correct, [] if audit is None else audit.correct].astype(np.float64)
    steps = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(score, correct)
    level, step = np.unique(steps.predict(score), return_inverse=True)
    n, right = np.bincount(step), np.bincount(step, weights=correct)
    prior = PRIOR_LABELS if audit is not None and len(audit) else 0.0
    shrunk = (right + prior * correct.mean()) / (n + prior)
    smoothed = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    return _StepModel(steps, smoothed.fit(level, shrunk, sample_weight=n))


@dataclass(frozen=True)
class _StepModel:
    """A score's step of the isotonic fit, then that step's shrunk share right."""

    steps: IsotonicRegression
    shrunk: IsotonicRegression

    def predict(self, score: np.ndarray) -> np.ndarray:
        return self.shrunk.predict(self.steps.predict(np.asarray(score, np.float64)))


@dataclass(frozen=True)
class PrecisionEstimate:
    """The precision of the labels a threshold accepts, estimated without truth: ``model``
    (P(right | score), fitted to the held-out labels) averaged over the pile's open labels
    the threshold accepts, and the ``n_known`` labels a person gave (always accepted, and
    right)."""

    model: _StepModel
    pile_score: np.ndarray  # the pile's open labels' scores
    n_known: int = 0

    @cached_property
    def curve(self) -> tuple[np.ndarray, np.ndarray]:
        """Every threshold the pile's scores offer (strictest first) and its estimate."""
        ranked = np.sort(np.asarray(self.pile_score, np.float64))[::-1]
        right = np.cumsum(self.model.predict(ranked))
        taken = np.arange(1, len(ranked) + 1)
        return ranked, (self.n_known + right) / (self.n_known + taken)

    def at(self, threshold: float) -> float:
        """The estimate at ``threshold`` (NaN when it accepts none of the pile)."""
        ranked, estimate = self.curve
        n = int(np.searchsorted(-ranked, -threshold, side="right"))
        return float(estimate[n - 1]) if n else float("nan")

    def threshold(self, target: float) -> float:
        """The loosest threshold whose estimate reaches ``target`` (the strictest when
        none does)."""
        ranked, estimate = self.curve
        if len(ranked) == 0:
            return 0.0
        ok = np.flatnonzero(estimate >= target)
        return float(ranked[ok[-1]] if len(ok) else ranked[0])


def _threshold_from_held_out(held: HeldOut, target: float) -> float:
    """Thresholds on the SSIM loss (lower is surer): the loosest at which the held-out
    labels, in order, are still ``target`` precise, halfway to the first that breaks it."""
    _, precision, sorted_doubts = precision_coverage_curve(held.score, held.correct)
    ok = np.flatnonzero(precision >= target)
    if len(ok) and ok[-1] < len(sorted_doubts) - 1:
        return float((sorted_doubts[ok[-1]] + sorted_doubts[ok[-1] + 1]) / 2)
    return float(sorted_doubts[-1] if len(ok) else sorted_doubts[0])


def _held_out_losses(
    sim: np.ndarray, example_labels: np.ndarray, n_classes: int, settings
) -> np.ndarray:
    """(n_examples, n_classes): each example's losses against the *other* examples, from
    ``sim`` (examples x examples); inf where holding it out leaves its class empty."""
    loo = class_losses(sim, example_labels, n_classes, settings.aggregate)  # self included
    for c in range(n_classes):  # against its own class, leave itself out
        members = np.flatnonzero(example_labels == c)
        if len(members) < 2:
            loo[members] = np.inf
            continue
        without = _losses_without_each(sim[np.ix_(members, members)], settings.aggregate)
        loo[members, c] = np.diagonal(without)
    return loo


def _spread_held_out(
    loo: np.ndarray,
    example_labels: np.ndarray,
    n_classes: int,
    settings: LabelSettings,
    pile: PileScores,
) -> np.ndarray:
    """Each held-out example's losses spread as an image's would be, without itself.

    An example joins the graph through its nearest images: its spread losses are
    ``(1 - alpha) * own + alpha * mean over those images``. The images' losses for the
    example's class are recomputed without it (the other classes do not change); all
    those columns are spread together, in one pass over the graph.
    """
    alpha, k, aggregate = settings.spread, settings.n_neighbors, settings.aggregate
    graph = knn_graph(pile.codes, k)
    neighbours = nearest_in(pile.example_codes, pile.codes, k)
    spread_pile = spread(
        class_losses(pile.similarity, example_labels, n_classes, aggregate), graph, alpha
    )
    held = np.flatnonzero(np.isfinite(loo).all(axis=1))
    without = np.empty((len(pile.similarity), len(held)), np.float32)
    for c in np.unique(example_labels[held]):
        members = np.flatnonzero(example_labels == c)
        columns = _losses_without_each(pile.similarity[:, members], aggregate)
        for j, i in enumerate(held):
            if example_labels[i] == c:
                without[:, j] = columns[:, int(np.flatnonzero(members == i)[0])]
    spread_without = spread(without, graph, alpha, dtype=np.float32)  # many columns
    out = np.full_like(loo, np.inf)
    for j, i in enumerate(held):
        around = spread_pile[neighbours[i]].mean(axis=0)
        around[example_labels[i]] = spread_without[neighbours[i], j].mean()
        out[i] = (1 - alpha) * loo[i] + alpha * around
    return out


def _poisson_held_out(
    loo: np.ndarray,
    example_labels: np.ndarray,
    n_classes: int,
    settings: LabelSettings,
    pile: PileScores,
    n_person: int | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Each held-out example's losses blended with its Poisson scores from the other
    examples, as ``label_images`` blends an image's; and, when reviews follow the first
    ``n_person`` examples (the person's), the same from the other person's examples alone
    (the confidence's second opinion; else None).

    Poisson learning is linear in its sources, so an example's scores without itself are
    the walk from all the sources of each class, and from all sources together, less its
    own walk, weighted by one-hot classes minus the others' mean and read where it joins
    the graph: one walk of a few columns per group of sources plus one per held-out
    example, however many reviews are sources too. The blend's scale is the pile's, as
    when labelling it.
    """
    k = settings.n_neighbors
    graph = knn_graph(pile.codes, k)
    places = example_places(pile.codes, pile.example_codes, k).tocsc()
    steps = pile.poisson_steps or poisson_walk_steps(pile.codes, pile.example_codes, k)
    held = np.flatnonzero(np.isfinite(loo).all(axis=1))  # the person's examples only
    one_hot = np.eye(n_classes)[example_labels]
    m = len(example_labels)
    person = m if n_person is None else n_person
    groups = [np.arange(m)] + ([np.arange(person)] if person < m else [])
    columns = []
    for group in groups:
        columns += [places[:, group] @ one_hot[group], np.asarray(places[:, group].sum(axis=1))]
    columns.append(places[:, held].toarray())
    walks = poisson(graph, np.hstack(columns), steps, dtype=np.float64)  # sums less a part
    own = walks[:, walks.shape[1] - len(held) :]
    pile_losses = spread_losses(
        class_losses(pile.similarity, example_labels, n_classes, settings.aggregate),
        pile.codes,
        settings.spread,
        k,
    )
    outs = []
    for g, group in enumerate(groups):
        by_class = walks[:, g * (n_classes + 1) : g * (n_classes + 1) + n_classes]
        total = walks[:, g * (n_classes + 1) + n_classes]
        pile_scores = by_class - total[:, None] * one_hot[group].mean(axis=0)
        scale = float(np.std(pile_losses)) / max(float(np.std(pile_scores)), 1e-30)
        out = np.full_like(loo, np.inf)
        for j, i in enumerate(held):
            rows = places.indices[places.indptr[i] : places.indptr[i + 1]]
            others_mean = (one_hot[group].sum(axis=0) - one_hot[i]) / (len(group) - 1)
            of_class = by_class[rows] - own[rows, j : j + 1] * one_hot[i]
            of_all = total[rows] - own[rows, j]
            scores = (of_class - of_all[:, None] * others_mean).mean(axis=0)
            out[i] = blend_poisson(loo[i], scores, settings.poisson, scale)
        outs.append(out)
    return outs[0], (outs[1] if len(outs) > 1 else None)


def _losses_without_each(similarity: np.ndarray, aggregate: str) -> np.ndarray:
    """(n, m): column j is one class's loss for every image with its example j left out
    (``similarity`` (n, m) against that class's m >= 2 examples), as ``class_losses``
    combines them, without recombining m times."""
    n, m = similarity.shape
    sim = np.asarray(similarity, np.float64)
    top = {"mean": m - 1, "top3": 3, "max": 1}[aggregate]
    k = min(top, m - 1)
    if aggregate == "mean" or k == m - 1:  # every other example counts
        return (1.0 - (sim.sum(axis=1, keepdims=True) - sim) / (m - 1)).astype(np.float32)
    # the k + 1 largest per image: leaving out one of the top k brings in the (k+1)-th
    order = np.argpartition(-sim, k, axis=1)[:, : k + 1]
    values = np.take_along_axis(sim, order, axis=1)
    rank = np.argsort(-values, axis=1, kind="stable")
    order, values = np.take_along_axis(order, rank, 1), np.take_along_axis(values, rank, 1)
    best_k, best_k1 = values[:, :k].sum(axis=1), values.sum(axis=1)
    out = np.empty((n, m), np.float64)
    for j in range(m):
        in_top = (order[:, :k] == j).any(axis=1)
        out[:, j] = np.where(in_top, best_k1 - sim[:, j], best_k) / k
    return (1.0 - out).astype(np.float32)
