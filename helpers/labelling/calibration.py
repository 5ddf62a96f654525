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

import numpy as np

from helpers.labelling.held_out import (
    PileScores,
    held_out_losses,
    poisson_held_out,
    spread_held_out,
)
from helpers.labelling.labels import Labels, assign_labels, uses_poisson
from helpers.labelling.precision import (
    HeldOut,
    PrecisionEstimate,
    precision_model,
    threshold_from_held_out,
    wilson_interval,
)
from helpers.labelling.settings import DEFAULT_SETTINGS, LabelSettings
from helpers.ssim import pairwise_ssim

# Beyond this many images a held-out example is spread through a seeded sample of the
# pile: its own graph is as good a neighbourhood, and spreading a column per example over
# a million images would cost minutes and gigabytes.
CALIBRATION_SAMPLE = 100_000


# Fewer fair (audit) labels than this accepted at a threshold, and its precision is only
# an estimate from the model fitted mostly to the examples: the explorer says so.
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
    estimated_precision: float = float("nan")  # of the pile's accepted labels, by the model
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
        elif audit["accepted"] < AUDITS_FOR_A_PROMISE:
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
    if settings.threshold_on == "loss":
        threshold, model = threshold_from_held_out(examples, settings.target_precision), None
        right = examples.correct[examples.score < threshold]
        estimated = float(right.mean()) if len(right) else float("nan")
    else:
        n_known = 0 if labels.known is None else int((labels.known >= 0).sum())
        model = PrecisionEstimate(precision_model(examples, audit), pile_score, n_known)
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
