"""A starting threshold that keeps its promise: the share of accepted labels that are right.

Held-out labels say how often a label of a given confidence is right: each example held
out in turn and labelled from the others, exactly as the images are (leave-one-out), and
every *audit* review (an image drawn at random for review, so a fair sample of the pile),
labelled as it was before its review. A monotone model of right-or-wrong on confidence,
fitted to them and averaged over the labels a threshold accepts, is a prior that the
audits it accepts update (``precision.PrecisionEstimate``); the threshold is the loosest
at which the estimate reaches ``target_precision`` and the lower end of its 90% interval
``precision.PROMISE_FLOOR``. The examples alone are no fair sample (a person picks
typical images): until ``AUDITS_FOR_A_PROMISE`` audits are reviewed there is no promise,
only a guess, whose lower end must reach the target itself, and everything shown says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from helpers.labelling.held_out import (
    PileScores,
    held_out_losses,
    poisson_held_out,
    spread_held_out,
)
from helpers.labelling.labels import Labels, assign_labels, uses_poisson
from helpers.labelling.precision import (
    PROMISE_FLOOR,
    HeldOut,
    PrecisionEstimate,
    precision_model,
    threshold_from_held_out,
)
from helpers.labelling.settings import DEFAULT_SETTINGS, LabelSettings
from helpers.ssim import pairwise_ssim

# Beyond this many images a held-out example is spread through a seeded sample of the
# pile: its own graph is as good a neighbourhood, and spreading a column per example over
# a million images would cost minutes and gigabytes.
CALIBRATION_SAMPLE = 100_000


# The audit reviews a promise rests on: with fewer, the threshold is a guess from the
# examples and the review queue opens with the audit round that completes them.
AUDITS_FOR_A_PROMISE = 30


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
    estimated_precision: float = float("nan")  # of the workbook's own accepted labels
    interval: tuple[float, float] = (float("nan"), float("nan"))  # 90%, around it
    floor: float = float("nan")  # what the interval's lower end had to reach
    n_audit: int = 0  # audit reviews held out
    on_loss: bool = False  # the threshold is on the SSIM loss: lower scores are surer
    # what the explorer needs to estimate any other threshold
    _examples: HeldOut | None = field(default=None, repr=False, compare=False)
    _audit: HeldOut | None = field(default=None, repr=False, compare=False)
    _model: PrecisionEstimate | None = field(default=None, repr=False, compare=False)

    @property
    def promised(self) -> bool:
        """Whether the threshold is a promise: enough fair (audit) labels are in."""
        return self.calibrated and self.n_audit >= AUDITS_FOR_A_PROMISE

    @property
    def basis(self) -> str:
        """What the threshold rests on, in a few words (labels.csv's account of it)."""
        if not self.calibrated:
            return "no estimate: " + self.method
        if self.promised:
            return f"promise: {self.n_audit} audit reviews and the held-out examples"
        return f"guess: {self.n_audit} of the {AUDITS_FOR_A_PROMISE} audit reviews a promise needs"

    @property
    def met_target(self) -> bool:
        """Whether this threshold keeps the promise: the estimate reaches the target and
        its interval's lower end the floor."""
        reached = self.calibrated and self.estimated_precision >= self.target_precision
        return reached and (self.on_loss or self.interval[0] >= self.floor)

    def estimate(self, threshold: float) -> dict:
        """At ``threshold`` (on confidence): the estimated precision of the workbook's own
        accepted labels and its 90% interval, and the held-out labels it accepts: audit
        reviews (a fair sample) and examples, each as right and count."""
        out = {"threshold": float(threshold), "estimated_precision": float("nan")}
        out["interval"] = (float("nan"), float("nan"))
        if self._model is not None:
            e = self._model.at(threshold)
            out["estimated_precision"], out["interval"] = e.precision, (e.low, e.high)
        for name, held in (("audit", self._audit), ("examples", self._examples)):
            if held is None:
                held = HeldOut(np.zeros(0), np.zeros(0, bool))
            ok = held.score < threshold if self.on_loss else held.score >= threshold
            out[name] = {"right": int(held.correct[ok].sum()), "accepted": int(ok.sum())}
            out[name]["of"] = len(held)
        return out

    def describe(self, threshold: float) -> str:
        """One plain sentence on how precise the labels accepted at ``threshold`` are; no
        number its own evidence contradicts, and no promise before the audits are in."""
        if not self.calibrated:
            return f"{self.method}: no estimate of precision"
        e = self.estimate(threshold)
        audit, examples = e["audit"], e["examples"]
        evidence = (
            f"{examples['right']} of the {examples['accepted']} held-out examples it accepts "
            "are right"
        )
        if audit["of"]:
            evidence = (
                f"{audit['right']} of the {audit['accepted']} audit reviews it accepts are "
                f"right; {evidence}"
            )
        if not self.promised:
            return (
                f"no promise yet: {audit['of']} of the {AUDITS_FOR_A_PROMISE} audit reviews "
                "(images drawn at random) it rests on are in, and your examples alone are no "
                "fair sample; review the audit round first "
                f"({evidence})"
            )
        if np.isnan(e["estimated_precision"]):
            return f"accepts none of the open labels ({evidence})"
        low, high = e["interval"]
        return (
            f"estimated precision {e['estimated_precision']:.3f} (90% interval "
            f"{low:.3f}-{high:.3f}; {evidence})"
        )

    def __str__(self) -> str:
        if not self.calibrated:
            return f"threshold {self.threshold:.4f}: {self.method}"
        text = (
            f"threshold {self.threshold:.4f} ({self.method}; target precision "
            f"{self.target_precision}): {self.describe(self.threshold)}"
        )
        if not self.met_target:
            text += (
                f"; no threshold keeps that promise (its estimate at {self.target_precision} "
                f"and the lower end of its interval at {self.floor}), so it accepts none of "
                "the open labels: review (the audit round first), or lower it and look"
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
    loo = held_out_losses(np.asarray(example_similarity), example_labels, n_classes, settings)
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
        loo[usable] = spread_held_out(loo, example_labels, n_classes, settings, sample)[usable]
    second = None
    if poisson and usable.any():
        blended, own = poisson_held_out(
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
    interval, floor = (float("nan"), float("nan")), float("nan")
    if settings.threshold_on == "loss":
        threshold, model = threshold_from_held_out(examples, settings.target_precision), None
        right = examples.correct[examples.score < threshold]
        estimated = float(right.mean()) if len(right) else float("nan")
    else:
        model = PrecisionEstimate(precision_model(examples, audit), pile_score, audit)
        promised = n_audit >= AUDITS_FOR_A_PROMISE
        floor = PROMISE_FLOOR if promised else settings.target_precision  # a guess: stricter
        threshold = model.threshold(settings.target_precision, floor)
        at = model.at(threshold)
        estimated, interval = at.precision, (at.low, at.high)
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
        interval=interval,
        floor=floor,
        n_audit=n_audit,
        on_loss=settings.threshold_on == "loss",
        _examples=examples,
        _audit=audit,
        _model=model,
    )
