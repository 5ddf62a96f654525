"""Load-or-compute steps shared by the notebooks: each reads what an earlier notebook saved
in the run directory and recomputes it when missing, so any notebook runs on its own."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from helpers.core import config
from helpers.core.engine import engine_from
from helpers.core.run_dir import (
    CLUSTERS,
    CODES,
    DESCRIPTION,
    INPUTS,
    SCORES,
    SKIPPED,
    WEIGHTS_INFO,
    RunDir,
    fingerprint,
)
from helpers.data.description import Description, fit_description
from helpers.data.description import recipe as description_recipe
from helpers.data.fashion_mnist import check_examples_cover_classes, choose_examples
from helpers.data.inputs import resolve_inputs
from helpers.data.pile import Pile, load_pile
from helpers.labelling.calibration import Calibration
from helpers.labelling.cluster import SPECTRAL_UP_TO, cluster_codes, method_for
from helpers.labelling.labels import POISSON_UP_TO, Known, uses_poisson
from helpers.labelling.scoring import Reconstructions, score_images_on_ray
from helpers.labelling.settings import LabelSettings
from helpers.model.autoencoder import decode, encode
from helpers.run.labels_csv import LabelsFile
from helpers.run.session import LabelSession
from helpers.run.weights import get_autoencoder
from helpers.ssim import DEFAULT_MAX_VAL


def setup(
    profile: str | None = None,
    run_dir: str | None = None,
    seed: int = 0,
    follow_run: bool = True,
    engine: str | None = None,
    ray_address: str | None = None,
    **inputs,
) -> tuple[config.Profile, RunDir, Pile]:
    """What every notebook starts from: its profile, run directory and images; says which.

    ``inputs`` are ``data``, ``examples``, ``truth``, ``image_size``, ``color``, ``fit``
    (None: from the environment). With ``follow_run`` (notebooks 02-05) what is not given
    follows what the run directory recorded for the same pile (notebook 01 records it);
    notebook 01 passes ``follow_run=False``: its parameters say what the pile is, and it
    checks every file of it; the others trust its listing while no folder changed.
    ``engine`` and ``ray_address``: where a folder's files are read when they must be
    (``helpers.core.engine``). ``run_dir`` None: ``$WORKBOOK_RUN_DIR``, else (notebooks
    02-05) the run notebook 01 set up last, else ``runs/default`` (``config.run_dir``).
    """
    profile_settings = config.get_profile(profile)
    path, why = config.run_dir_and_why(run_dir)
    run = RunDir(path)
    if not follow_run and why in ("parameter", "default"):
        config.remember_run(run.path)  # the run notebooks 02-05 follow
    recorded = run.load_json(INPUTS) if follow_run and run.has(INPUTS) else None
    chosen = resolve_inputs(recorded, **inputs)
    if not follow_run and run.has(INPUTS):
        _keep_another_piles_results(run, chosen)
    pile = load_pile(profile_settings, seed, chosen, run, engine, ray_address, follow_run)
    run.save_json(INPUTS, asdict(pile.inputs))  # 'auto' as it was chosen for this pile
    rows = [{"path": path, "reason": reason} for path, reason in pile.skipped]
    run.save_csv(SKIPPED, rows, ["path", "reason"])
    print(
        f"profile {profile_settings.name}: {pile.source}: {len(pile.x_train)} training "
        f"images, {len(pile.x_test)} images to label"
        + (f", {len(pile.skipped)} file(s) skipped (see {SKIPPED})" if pile.skipped else "")
        + f"; results in {run.path}"
        + (
            " (the run notebook 01 set up last; RUN_DIR chooses another)"
            if why == "notebook 01"
            else ""
        )
    )
    if pile.chosen_from_pile:
        print(pile.chosen_from_pile)
    return profile_settings, run, pile


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


def get_codes(
    run: RunDir,
    encoder,
    pile: Pile,
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
    made_from = _codes_made_from(run, pile)
    if engine_from(engine) != "ray" or pile.inputs.data is None:
        return run.arrays_made_from(CODES, made_from, lambda: _encode_here(encoder, pile, engine))
    examples = None if decoder is None else get_examples(pile, encoder, decoder, 1, seed=seed)
    codes = run.load_fresh_arrays(CODES, made_from)
    described = run.load_fresh_arrays(DESCRIPTION, _description_made_from(pile, seed))
    if codes is not None and (
        examples is None  # codes alone were asked for
        or (
            described is not None
            and run.load_fresh_arrays(SCORES, _scores_made_from(run, examples, DEFAULT_MAX_VAL))
        )
    ):
        return codes
    if examples is None:
        raise ValueError("the ray engine scores the reconstructions too: pass decoder=")
    description = fit_description(pile.x_test, seed)  # on a sample, here; then on Ray
    codes, similarity, points = score_images_on_ray(
        pile.x_test,
        encoder,
        decoder,
        examples.reconstructions,
        DEFAULT_MAX_VAL,
        ray_address,
        description=description,
    )  # codes, scores and descriptions together, or all again
    run.save_arrays(CODES, codes=codes, made_from=np.asarray(made_from))
    run.invalidate_after(CODES)
    made = _scores_made_from(run, examples, DEFAULT_MAX_VAL)  # from the codes just saved
    run.save_arrays(SCORES, similarity=similarity, made_from=np.asarray(made))
    run.save_arrays(
        DESCRIPTION,
        points=points,
        **description.arrays(),
        made_from=np.asarray(_description_made_from(pile, seed)),
    )
    print(f"Ray: {len(codes):,} images encoded, scored and described")
    return run.load_arrays(CODES)


def _encode_here(encoder, pile: Pile, engine: str | None) -> dict[str, np.ndarray]:
    if engine_from(engine) == "ray":
        print("Fashion-MNIST is held in memory, not in files: encoded here (local engine)")
    return {"codes": encode(encoder, pile.x_test)}


def get_reconstructions(run: RunDir, decoder, encoded: dict[str, np.ndarray]) -> Reconstructions:
    """The pile's reconstructions: held in memory, or (a large pile) decoded once into the
    run directory and read from there (``helpers.labelling.scoring.Reconstructions``)."""
    return Reconstructions(decoder, encoded["codes"], store=(run, str(encoded["made_from"])))


def _codes_made_from(run: RunDir, pile: Pile) -> str:
    """What the codes are made from: the run's weights and the images, by either engine."""
    weights = run.load_json(WEIGHTS_INFO).get("made_from", "") if run.has(WEIGHTS_INFO) else ""
    return fingerprint(weights, pile.made_from)


@dataclass(frozen=True)
class Described:
    """Every image to label described for the neighbour graph, and the projection that
    describes more images (the examples, say) the same way."""

    points: np.ndarray  # (n, DIMENSIONS) unit vectors
    description: Description
    made_from: str


def get_description(run: RunDir, pile: Pile, seed: int = 0) -> Described:
    """Every image to label described by what it shows (``description.npz``;
    ``helpers.data.description``): the points of the neighbour graph that spreading,
    Poisson learning, calibration and the clusters walk. Made from the images alone: new
    weights leave it as it is."""
    made_from = _description_made_from(pile, seed)

    def make() -> dict[str, np.ndarray]:
        description = fit_description(pile.x_test, seed)
        return {"points": description(pile.x_test), **description.arrays()}

    arrays = run.arrays_made_from(DESCRIPTION, made_from, make)
    return Described(arrays["points"], Description.from_arrays(arrays), made_from)


def _description_made_from(pile: Pile, seed: int) -> str:
    return fingerprint(pile.made_from, seed, DESCRIPTION, description_recipe())


def get_clusters(
    run: RunDir,
    points: np.ndarray,
    n_clusters: int,
    seed: int = 0,
    method: str | None = None,
    of: str = DESCRIPTION,
):
    """The cluster of every point, and each cluster's mean point (``clusters.npz``).

    ``points`` are the pile's description (``of=DESCRIPTION``, the default) or its codes
    (``of=CODES``): the artifact they were saved in, whose ``made_from`` the clusters'
    includes. ``method`` is ``"spectral"`` or ``"kmeans"``; None takes whatever notebook
    04 saved (spectral if nothing is saved yet).
    """
    codes_made_from = fingerprint(of, _made_from(run, of))
    if method is None and run.has(CLUSTERS):
        method = str(run.load_arrays(CLUSTERS).get("method", "spectral"))
    method = method or "spectral"
    if method_for(method, len(points)) != method:
        print(
            f"{len(points):,} images: more than spectral clustering handles here "
            f"({SPECTRAL_UP_TO:,}); clustering by {method_for(method, len(points))} instead"
        )
    made_from = fingerprint(codes_made_from, n_clusters, method, seed)

    def make() -> dict[str, np.ndarray]:
        clusters = cluster_codes(points, n_clusters, method=method, seed=seed)
        centers = np.stack([points[clusters == c].mean(axis=0) for c in range(n_clusters)])
        return {"clusters": clusters, "centers": centers, "method": np.array(method)}

    return run.arrays_made_from(CLUSTERS, made_from, make)


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
    points: np.ndarray | None = None  # described as the pile is (None: not described)

    def graph_points(self, settings: LabelSettings) -> np.ndarray:
        """Where the examples join the neighbour graph that ``settings.graph`` names."""
        return settings.graph_points(self.codes, self.points)

    def known(self) -> Known:
        """The examples that are in the pile: those images keep the class you gave them."""
        return Known.of(self.in_pile, self.labels, "example")


def get_examples(
    pile: Pile,
    encoder,
    decoder,
    per_class: int,
    seed: int = 0,
    described: Described | None = None,
) -> Examples:
    """The user's examples, or (Fashion-MNIST) ``per_class`` seeded training images of each
    class; with their codes and reconstructions, and (given the pile ``described``) their
    description."""
    if pile.examples is not None:
        images, labels = pile.labelled_images()
        in_pile = pile.examples.in_pile
    else:
        idx = choose_examples(pile.y_train, per_class, seed=seed, n_classes=len(pile.class_names))
        images, labels = pile.x_train[idx], pile.y_train[idx]
        in_pile = np.full(len(idx), -1)
    codes = encode(encoder, images)
    points = None if described is None else described.description(images)
    made_from = fingerprint(images, labels)
    return Examples(labels, images, codes, decode(decoder, codes), in_pile, made_from, points)


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

    def make() -> dict[str, np.ndarray]:
        check_examples_cover_classes(examples.labels, n_classes)
        return {"similarity": reconstructions.similarity(examples.reconstructions, max_val=max_val)}

    made_from = _scores_made_from(run, examples, max_val)
    return run.arrays_made_from(SCORES, made_from, make)["similarity"]


def _scores_made_from(run: RunDir, examples: Examples, max_val: float) -> str:
    return fingerprint(_made_from(run, CODES), examples.made_from, max_val)


def label_session(
    run: RunDir,
    pile: Pile,
    encoded: dict[str, np.ndarray],
    reconstructions: Reconstructions,
    clusters: np.ndarray,
    examples: Examples,
    similarity: np.ndarray,
    settings: LabelSettings,
    described: Described | None = None,
) -> LabelSession:
    """Everything the labels are made from, for ``relabel()`` now and after each review.
    The neighbour graph is built on the points ``settings.graph`` names: the pile
    ``described`` (the default), or its codes."""
    if settings.poisson > 0 and not uses_poisson(settings, len(encoded["codes"])):
        print(
            f"{len(encoded['codes']):,} images: Poisson learning is used up to "
            f"{POISSON_UP_TO:,} (its walk grows with the pile); labels from SSIM, spread"
        )
    return LabelSession(
        run,
        pile.test_ids,
        pile.class_names,
        settings.graph_points(encoded["codes"], described and described.points),
        reconstructions,
        clusters,
        similarity,
        examples.labels,
        examples.graph_points(settings),
        examples.reconstructions,
        examples.known(),
        settings,
        made_from=str(encoded.get("made_from", "")),
    )


def labels_file(run: RunDir, pile: Pile) -> LabelsFile:
    """The run's ``labels.csv`` (and its record), for the explorer's save bar."""
    return LabelsFile(run, pile.class_names, pile.test_ids, pile.y_test)


def starting_threshold(
    calibration: Calibration, saved: LabelsFile, threshold: float | None = None
) -> tuple[float, str]:
    """Where the explorer's slider starts, and why: ``threshold`` when given; else the
    threshold a person saved labels.csv at (theirs, kept across restarts); else the
    calibrated one."""
    if threshold is not None:
        return float(threshold), "THRESHOLD, as given"
    yours = saved.saved_by_person()
    if yours is not None:
        return float(yours["threshold"]), (
            f"the threshold you saved labels.csv at on {yours['time']} (the calibrated one, "
            f"{calibration.threshold:.4f}, is a press of *calibrated threshold* away)"
        )
    return float(calibration.threshold), f"calibrated ({calibration.basis})"


def open_session(
    run_dir: str | None = None, per_class: int = 10, seed: int = 0, profile: str | None = None
) -> tuple[LabelSession, Pile]:
    """The label session of a run directory, as notebook 05 makes it with its defaults:
    from what the run saved (weights, codes, clusters, scores), computing what is missing.
    ``profile`` None: the one the run's weights were made in, else the environment's."""
    run = RunDir(run_dir)
    if profile is None and run.has(WEIGHTS_INFO):
        profile = run.load_json(WEIGHTS_INFO).get("profile")
    profile, run, pile = setup(profile, run_dir, seed)
    _, encoder, decoder, _ = get_autoencoder(run, profile, pile, seed=seed, verbose=0)
    encoded = get_codes(run, encoder, pile)
    recon = get_reconstructions(run, decoder, encoded)
    described = get_description(run, pile, seed)
    clusters = get_clusters(run, described.points, len(pile.class_names), seed=seed)["clusters"]
    examples = get_examples(pile, encoder, decoder, per_class, seed, described)
    settings = LabelSettings()
    similarity = get_similarity(run, recon, examples, len(pile.class_names), settings.max_val)
    session = label_session(
        run, pile, encoded, recon, clusters, examples, similarity, settings, described
    )
    return session, pile
