"""Load-or-compute steps shared by the notebooks: each reads what an earlier notebook saved
in the run directory and recomputes it when missing, so any notebook runs on its own."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from helpers.core import config
from helpers.core.engine import engine_from
from helpers.core.run_dir import RunDir, fingerprint
from helpers.data.fashion_mnist import check_examples_cover_classes, choose_examples
from helpers.data.inputs import resolve_inputs
from helpers.data.pile import SKIPPED, Split, load_split
from helpers.data.pile_settings import default_epochs
from helpers.labelling.cluster import SPECTRAL_UP_TO, cluster_codes, method_for
from helpers.labelling.labels import (
    POISSON_UP_TO,
    Known,
    LabelSettings,
    uses_poisson,
)
from helpers.labelling.scoring import Reconstructions, score_images_on_ray
from helpers.model.autoencoder import (
    FAST_RECIPE,
    build_autoencoder,
    decode,
    encode,
    load_weights,
    save_weights,
    shipped_weights_path,
    train,
)
from helpers.run.labels_csv import label_rows
from helpers.run.session import LabelSession
from helpers.ssim import DEFAULT_MAX_VAL

WEIGHTS = "autoencoder.weights.h5"
WEIGHTS_INFO = "autoencoder.json"
INPUTS = "inputs.json"
TRAINING_SAMPLE = 100_000  # a larger pile trains on a seeded sample of this many images


def setup(
    profile: str | None = None,
    run_dir: str | None = None,
    seed: int = 0,
    follow_run: bool = True,
    engine: str | None = None,
    ray_address: str | None = None,
    **inputs,
) -> tuple[config.Profile, RunDir, Split]:
    """What every notebook starts from: its profile, run directory and images; says which.

    ``inputs`` are ``data``, ``examples``, ``truth``, ``image_size``, ``color``, ``fit``
    (None: from the environment). With ``follow_run`` (notebooks 02-05) what is not given
    follows what the run directory recorded for the same pile (notebook 01 records it);
    notebook 01 passes ``follow_run=False``: its parameters say what the pile is, and it
    checks every file of it; the others trust its listing while no folder changed.
    ``engine`` and ``ray_address``: where a folder's files are read when they must be
    (``helpers.core.engine``).
    """
    profile_settings = config.get_profile(profile)
    run = RunDir(run_dir)
    recorded = run.load_json(INPUTS) if follow_run and run.has(INPUTS) else None
    chosen = resolve_inputs(recorded, **inputs)
    if not follow_run and run.has(INPUTS):
        _keep_another_piles_results(run, chosen)
    split = load_split(profile_settings, seed, chosen, run, engine, ray_address, follow_run)
    run.save_json(INPUTS, asdict(split.inputs))  # 'auto' as it was chosen for this pile
    rows = [{"path": path, "reason": reason} for path, reason in split.skipped]
    run.save_csv(SKIPPED, rows, ["path", "reason"])
    print(
        f"profile {profile_settings.name}: {split.source}: {len(split.x_train)} training "
        f"images, {len(split.x_test)} images to label"
        + (f", {len(split.skipped)} file(s) skipped (see {SKIPPED})" if split.skipped else "")
        + f"; results in {run.path}"
    )
    if split.chosen_from_pile:
        print(split.chosen_from_pile)
    return profile_settings, run, split


def _keep_another_piles_results(run: RunDir, chosen) -> None:
    """Notebook 01 pointed at a run directory that holds another pile's results: set them
    aside inside it (with their reviews), never overwrite or delete them."""
    before = run.load_json(INPUTS).get("data")
    if before == chosen.data:
        return
    moved = run.set_aside(Path(before).name if before else "fashion-mnist")
    if moved is not None:
        print(
            f"{run.path} held the results of another pile ({before or 'Fashion-MNIST'}); "
            f"they are kept in {moved}"
        )


def get_autoencoder(
    run: RunDir,
    profile: config.Profile,
    split: Split,
    train_new: bool | None = None,
    seed: int = 0,
    max_val: float = DEFAULT_MAX_VAL,
    epochs: int | None = None,
    verbose="auto",
):
    """The autoencoder, its encoder and decoder for this run, and where they came from.

    ``train_new=None`` (auto): reuse the run's weights if they were made from these images
    and settings; else, for Fashion-MNIST in the ``full`` profile, the shipped weights;
    else train (what notebooks after 02 do when run alone; ``verbose=0`` hides the progress
    bar). ``True`` always trains (resuming an interrupted run from its checkpoint);
    ``False`` never does. ``epochs`` None: the profile's for Fashion-MNIST, one in
    ``smoke``, else ``default_epochs`` for the pile's size.
    """
    n_train = min(len(split.x_train), TRAINING_SAMPLE)
    if epochs is None:
        fashion_or_smoke = split.inputs.data is None or profile.name == "smoke"
        epochs = profile.epochs if fashion_or_smoke else default_epochs(n_train, split.image_shape)
    recipe = replace(
        FAST_RECIPE,
        epochs=epochs,
        batch_size=profile.batch_size,
        precision=FAST_RECIPE.resolved_precision(),
    )
    made_from = fingerprint(split.made_from, split.image_shape, recipe, seed, max_val, n_train)
    made = run.load_json(WEIGHTS_INFO) if run.has(WEIGHTS_INFO) else {}
    if train_new is not True and run.has(WEIGHTS) and made.get("made_from") == made_from:
        ae, enc, dec = load_weights(run / WEIGHTS, split.image_shape)
        return ae, enc, dec, {**made, "source": f"reused {run / WEIGHTS} ({made['source']})"}
    shipped = shipped_weights_path()
    fashion_full = split.inputs.data is None and profile.name == "full"
    if train_new is not True and fashion_full and shipped.is_file():
        ae, enc, dec = load_weights(shipped)
        save_weights(ae, run / WEIGHTS)
        made = {"source": f"shipped weights {shipped.name}", "history": {}}
    elif train_new is False:
        raise FileNotFoundError(f"{run / WEIGHTS}: no weights for these images and training is off")
    else:
        ae, enc, dec = build_autoencoder(split.image_shape, seed=seed)
        checkpoint = run / f"checkpoint-{made_from}.keras"
        history = train(
            ae,
            split.x_train,
            n_images=n_train,
            seed=seed,
            max_val=max_val,
            verbose=verbose,
            checkpoint=checkpoint,
            **asdict(recipe),
        )
        save_weights(ae, run / WEIGHTS)
        for path in (checkpoint, checkpoint.with_suffix(".json")):
            path.unlink(missing_ok=True)
        made = {
            "history": history,
            "source": f"trained {epochs} epoch(s) ({recipe.schedule} rate, {recipe.precision}) "
            f"on {n_train} images"
            + (
                f" (a seeded sample of {len(split.x_train)})"
                if n_train < len(split.x_train)
                else ""
            ),
        }
    made = {**made, "profile": profile.name, "made_from": made_from}
    run.save_json(WEIGHTS_INFO, made)
    run.invalidate_after(WEIGHTS)
    return ae, enc, dec, made


def get_codes(
    run: RunDir,
    encoder,
    split: Split,
    engine: str | None = None,
    *,
    decoder=None,
    ray_address: str | None = None,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """The code of every image to label (``codes.npz``); reconstructions are decoded from
    them when needed (``helpers.labelling.scoring.Reconstructions``).

    ``engine`` (``helpers.core.engine.engine_from``) ``"ray"``: a folder's images are encoded on
    Ray, and (needing the ``decoder``) each reconstruction is scored there against every
    class example too (``scores.npz``, as notebook 05 makes it with the default
    ``max_val``), so notebook 05 has nothing per image left to do.
    """
    made_from = _codes_made_from(run, split)
    saved = run.load_fresh_arrays("codes.npz", made_from)
    on_ray = engine_from(engine) == "ray" and split.inputs.data is not None
    if on_ray and decoder is not None:  # codes and scores together, or both again
        examples = get_examples(split, encoder, decoder, per_class=1, seed=seed)
        scores_made_from = _scores_made_from(run, examples, DEFAULT_MAX_VAL)
        if not run.load_fresh_arrays("scores.npz", scores_made_from):
            saved = None
    if saved is not None:  # whichever engine made them
        return saved
    if on_ray and decoder is None:
        raise ValueError("the ray engine scores the reconstructions too: pass decoder=")
    if on_ray:
        codes, similarity = score_images_on_ray(
            split.x_test, encoder, decoder, examples.reconstructions, DEFAULT_MAX_VAL, ray_address
        )
    else:
        if engine_from(engine) == "ray":
            print("Fashion-MNIST is held in memory, not in files: encoded here (local engine)")
        codes = encode(encoder, split.x_test)
    run.save_arrays("codes.npz", codes=codes, made_from=np.asarray(made_from))
    run.invalidate_after("codes.npz")
    if on_ray:  # made from the codes just saved
        made = _scores_made_from(run, examples, DEFAULT_MAX_VAL)
        run.save_arrays("scores.npz", similarity=similarity, made_from=np.asarray(made))
        print(f"Ray: {len(codes):,} images encoded and scored")
    return run.load_arrays("codes.npz")


def get_reconstructions(run: RunDir, decoder, encoded: dict[str, np.ndarray]) -> Reconstructions:
    """The pile's reconstructions: held in memory, or (a large pile) decoded once into the
    run directory and read from there (``helpers.labelling.scoring.Reconstructions``)."""
    return Reconstructions(decoder, encoded["codes"], store=(run, str(encoded["made_from"])))


def _codes_made_from(run: RunDir, split: Split) -> str:
    """What the codes are made from: the run's weights and the images, by either engine."""
    weights = run.load_json(WEIGHTS_INFO).get("made_from", "") if run.has(WEIGHTS_INFO) else ""
    return fingerprint(weights, split.made_from)


def get_clusters(
    run: RunDir, codes: np.ndarray, n_clusters: int, seed: int = 0, method: str | None = None
):
    """The cluster of every code, and each cluster's mean code (``clusters.npz``).

    ``method`` is ``"spectral"`` or ``"kmeans"``; None takes whatever notebook 04 saved
    (spectral if nothing is saved yet).
    """
    codes_made_from = _made_from(run, "codes.npz")
    if method is None and run.has("clusters.npz"):
        method = str(run.load_arrays("clusters.npz").get("method", "spectral"))
    method = method or "spectral"
    if method_for(method, len(codes)) != method:
        print(
            f"{len(codes):,} codes: more than spectral clustering handles here "
            f"({SPECTRAL_UP_TO:,}); clustering by {method_for(method, len(codes))} instead"
        )
    made_from = fingerprint(codes_made_from, n_clusters, method, seed)
    saved = run.load_fresh_arrays("clusters.npz", made_from)
    if saved is not None:
        return saved
    clusters = cluster_codes(codes, n_clusters, method=method, seed=seed)
    centers = np.stack([codes[clusters == c].mean(axis=0) for c in range(n_clusters)])
    out = {"clusters": clusters, "centers": centers, "method": np.array(method)}
    run.save_arrays("clusters.npz", **out, made_from=np.asarray(made_from))
    run.invalidate_after("clusters.npz")
    return out


def _made_from(run: RunDir, name: str) -> str:
    """What an artifact of the run was made from ("" if it is not there)."""
    return str(run.load_arrays(name).get("made_from", "")) if run.has(name) else ""


@dataclass
class Examples:
    """The class examples, their codes and reconstructions."""

    labels: np.ndarray
    images: np.ndarray
    codes: np.ndarray
    reconstructions: np.ndarray
    in_pile: np.ndarray  # index of the same image among those labelled, -1 if not there
    made_from: str  # fingerprint of the images and their classes

    def known(self) -> Known:
        """The examples that are in the pile: those images keep the class you gave them."""
        return Known.of(self.in_pile, self.labels, "example")


def get_examples(split: Split, encoder, decoder, per_class: int, seed: int = 0) -> Examples:
    """The user's examples, or (Fashion-MNIST) ``per_class`` seeded training images of each
    class; with their codes and reconstructions."""
    if split.examples is not None:
        images, labels = split.labelled_images()
        in_pile = split.examples.in_pile
    else:
        idx = choose_examples(split.y_train, per_class, seed=seed, n_classes=len(split.class_names))
        images, labels = split.x_train[idx], split.y_train[idx]
        in_pile = np.full(len(idx), -1)
    codes = encode(encoder, images)
    return Examples(
        labels, images, codes, decode(decoder, codes), in_pile, fingerprint(images, labels)
    )


def get_similarity(
    run: RunDir,
    reconstructions: Reconstructions,
    examples: Examples,
    n_classes: int,
    max_val: float = DEFAULT_MAX_VAL,
) -> np.ndarray:
    """(n, n_examples) SSIM of each image's reconstruction with each example's (``scores.npz``).

    New examples or another ``max_val`` recompute it; everything downstream of it
    (how a class's examples are combined, spreading, the threshold) costs nothing.
    """
    made_from = _scores_made_from(run, examples, max_val)
    saved = run.load_fresh_arrays("scores.npz", made_from)
    if saved is not None:
        return saved["similarity"]
    check_examples_cover_classes(examples.labels, n_classes)
    sim = reconstructions.similarity(examples.reconstructions, max_val=max_val)
    run.save_arrays("scores.npz", similarity=sim, made_from=np.asarray(made_from))
    run.invalidate_after("scores.npz")
    return sim


def _scores_made_from(run: RunDir, examples: Examples, max_val: float) -> str:
    return fingerprint(_made_from(run, "codes.npz"), examples.made_from, max_val)


def label_session(
    run: RunDir,
    split: Split,
    encoded: dict[str, np.ndarray],
    reconstructions: Reconstructions,
    clusters: np.ndarray,
    examples: Examples,
    similarity: np.ndarray,
    settings: LabelSettings,
) -> LabelSession:
    """Everything the labels are made from, for ``relabel()`` now and after each review."""
    if settings.poisson > 0 and not uses_poisson(settings, len(encoded["codes"])):
        print(
            f"{len(encoded['codes']):,} images: Poisson learning is used up to "
            f"{POISSON_UP_TO:,} (its walk grows with the pile); labels from SSIM, spread"
        )
    return LabelSession(
        run,
        split.test_ids,
        split.class_names,
        encoded["codes"],
        reconstructions,
        clusters,
        similarity,
        examples.labels,
        examples.codes,
        examples.reconstructions,
        examples.known(),
        settings,
        made_from=str(encoded.get("made_from", "")),
    )


def write_labels(run: RunDir, labels, threshold: float, split: Split):
    """Write ``labels.csv`` (one row per image) atomically and return its path."""
    rows, fields = label_rows(
        labels, threshold, split.class_names, image_ids=split.test_ids, true_labels=split.y_test
    )
    return run.save_csv("labels.csv", rows, fields)


def open_session(
    run_dir: str | None = None, per_class: int = 10, seed: int = 0, profile: str | None = None
) -> tuple[LabelSession, Split]:
    """The label session of a run directory, as notebook 05 makes it with its defaults:
    from what the run saved (weights, codes, clusters, scores), computing what is missing.
    ``profile`` None: the one the run's weights were made in, else the environment's."""
    run = RunDir(run_dir)
    if profile is None and run.has(WEIGHTS_INFO):
        profile = run.load_json(WEIGHTS_INFO).get("profile")
    profile, run, split = setup(profile, run_dir, seed)
    _, encoder, decoder, _ = get_autoencoder(run, profile, split, seed=seed, verbose=0)
    encoded = get_codes(run, encoder, split)
    recon = get_reconstructions(run, decoder, encoded)
    clusters = get_clusters(run, encoded["codes"], len(split.class_names), seed=seed)["clusters"]
    examples = get_examples(split, encoder, decoder, per_class, seed=seed)
    settings = LabelSettings()
    similarity = get_similarity(run, recon, examples, len(split.class_names), settings.max_val)
    session = label_session(run, split, encoded, recon, clusters, examples, similarity, settings)
    return session, split
