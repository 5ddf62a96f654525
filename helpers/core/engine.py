"""Where the per-image work runs: in this process (``local``) or on a Ray cluster (``ray``).

Reading, decoding, encoding, reconstructing an image and scoring it against every class
example needs nothing but that image, the model and the examples' reconstructions: on
``ray`` it is two Ray Data maps, in actors. Notebook 01's reads and decodes the files
(``helpers.data.read_on_ray``; their pixels stream back into the run directory's
memory-mapped ``pile-images.npy``, a batch at a time); notebook 03's encodes the decoded
images, reconstructs them and scores them against every class example
(``helpers.labelling.scoring.ScoreImages``, which loads the model once per actor). Each
file is decoded once. What needs every image at once (the neighbour graph, clusters,
spreading, calibration, the threshold) works on the 10-number codes and the scores, on
this machine, whichever engine made them.

The engine is chosen in one place (``engine_from``): an argument (the notebooks'
``ENGINE``, ``python -m helpers run --engine``), else ``$WORKBOOK_ENGINE``, else local.
With ``ray`` and no address (``RAY_ADDRESS``, ``--ray-address``) a Ray starts here with
this machine's cores and is shut down afterwards, even on error.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

ENGINES = ("local", "ray")
BATCH = 1024  # files per batch sent to an actor


def engine_from(engine: str | None = None) -> str:
    """The engine to use: ``engine``, else ``$WORKBOOK_ENGINE``, else ``"local"``."""
    chosen = engine or os.environ.get("WORKBOOK_ENGINE") or "local"
    if chosen not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, not {chosen!r}")
    return chosen


@dataclass(frozen=True)
class ActorPlan:
    """How many scoring actors may run, and the CPUs each reserves."""

    actors: int  # at most this many; as few as one keeps going (a node lost, say)
    cpus_per_actor: float

    @staticmethod
    def for_cluster(cpus: float) -> ActorPlan:
        """One actor per CPU, each reserving one (a single CPU: one actor reserving none).

        The actors read their files themselves (``read_on_ray.ReadFiles``) or get their
        images from the object store (``scoring.ScoreImages``), so no other task needs a CPU: the
        plan can take them all, and whatever the cluster loses on the way, the
        actors left still have every input they need.
        """
        whole = int(cpus)
        if whole < 2:
            return ActorPlan(1, 0.0)
        return ActorPlan(whole, 1.0)


@contextmanager
def ray_cluster(address: str | None = None) -> Iterator[ActorPlan]:
    """Ray, joined at ``address`` (or ``$RAY_ADDRESS``) or started here with this machine's
    cores, and the actor plan for its CPUs. A Ray started here is shut down at the end,
    also on error; one already running (a caller's) is left as it is."""
    import ray

    address = address or os.environ.get("RAY_ADDRESS") or None
    started = not ray.is_initialized()
    if started:
        ray.init(
            address=address,
            num_cpus=None if address else os.cpu_count(),
            include_dashboard=False,
            log_to_driver=False,
        )
    try:
        cpus = ray.cluster_resources().get("CPU", 1.0)
        plan = ActorPlan.for_cluster(cpus)
        nodes = _alive_nodes()
        print(
            f"Ray: {nodes} node(s), {cpus:g} CPUs; {plan.actors} actor(s) reserving "
            f"{plan.cpus_per_actor:g} CPU each"
        )
        yield plan
        if (lost := nodes - _alive_nodes()) > 0:
            print(
                f"Ray: {lost} node(s) lost on the way; their actors were made again on the "
                "nodes left and their batches redone"
            )
    finally:
        if started:
            ray.shutdown()


def _alive_nodes() -> int:
    import ray

    return sum(node["Alive"] for node in ray.nodes())


def map_blocks(blocks: Iterable, actor: type, settings: dict, plan: ActorPlan) -> Iterator[dict]:
    """``actor(**settings)`` mapped over ``blocks`` (Arrow tables, each put in the object
    store from here: no read task, so nothing waits for a CPU the actors hold); the results'
    batches as they arrive, in any order (each carries its rows' ``index``)."""
    import ray

    dataset = ray.data.from_arrow_refs([ray.put(block) for block in blocks])
    mapped = dataset.map_batches(
        actor,
        fn_constructor_kwargs=settings,
        batch_size=BATCH,
        batch_format="numpy",
        concurrency=plan.actors,  # one left (a node lost) still finishes the map
        num_cpus=plan.cpus_per_actor,
    )  # Ray Data's defaults: an actor lost with its node is made again, its batches redone
    yield from mapped.iter_batches(batch_format="numpy", batch_size=None)
