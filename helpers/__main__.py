"""Command line: ``python -m helpers run`` (the whole workbook), ``python -m helpers queue``
(the next images to review, as CSV), ``python -m helpers export`` (sort the labelled images
into class folders) and ``python -m helpers train``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from helpers.data.images import COLORS, FITS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="execute the five notebooks in order, headless")
    run.add_argument(
        "--profile",
        choices=["smoke", "full"],
        default=None,
        help="smoke: small subset, 1 epoch; full: everything (default: $WORKBOOK_PROFILE or full)",
    )
    run.add_argument("--run-dir", default=None, help="where results go (default runs/default)")
    run.add_argument("--timeout", type=int, default=3600, help="seconds allowed per cell")
    run.add_argument(
        "--data", default=None, help="a folder of images to label (default: Fashion-MNIST)"
    )
    run.add_argument(
        "--examples",
        default=None,
        help="a folder with one sub-folder per class, or a path,label CSV",
    )
    run.add_argument("--truth", default=None, help="a path,label CSV of known classes, to measure")
    run.add_argument(
        "--image-size",
        type=_size_or_auto,
        default=None,
        help="pixels per side, or auto (a folder's default: from the images; Fashion-MNIST 28)",
    )
    run.add_argument(
        "--color",
        choices=(*COLORS, "auto"),
        default=None,
        help="grey, rgb, or auto (a folder's default: from the images; Fashion-MNIST grey)",
    )
    run.add_argument("--fit", choices=FITS, default=None, help="pad (default), crop or stretch")
    run.add_argument(
        "--engine",
        choices=["local", "ray"],
        default=None,
        help="where the per-image work runs (default: $WORKBOOK_ENGINE or local)",
    )
    run.add_argument(
        "--ray-address",
        default=None,
        help="a Ray cluster to join (default: $RAY_ADDRESS, else a Ray started here)",
    )

    export = sub.add_parser(
        "export", help="sort the labelled images into one folder per class (copies or links)"
    )
    export.add_argument("--to", required=True, help="a folder; existing files are never replaced")
    export.add_argument("--run-dir", default=None, help="the run to export (default runs/default)")
    how = export.add_mutually_exclusive_group()
    how.add_argument("--copy", dest="how", action="store_const", const="copy", help="(default)")
    how.add_argument(
        "--link", dest="how", action="store_const", const="link", help="symbolic links"
    )

    train = sub.add_parser("train", help="train the autoencoder on Fashion-MNIST's 60,000 images")
    train.add_argument(
        "--recipe",
        choices=["tutorial", "fast"],
        default="tutorial",
        help="tutorial: 20 epochs, constant rate, float32; fast: the workbook's (docs/speed.md)",
    )
    train.add_argument("--epochs", type=int, default=None, help="(default: the recipe's)")
    train.add_argument("--batch-size", type=int, default=None)
    train.add_argument("--learning-rate", type=float, default=None)
    train.add_argument("--schedule", choices=["constant", "cosine"], default=None)
    train.add_argument(
        "--precision",
        default=None,
        help="float32, mixed_bfloat16, or auto (bfloat16 where the CPU has it)",
    )
    train.add_argument("--max-val", type=float, default=1.0)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--augment", action="store_true", help="shift and mirror the images")
    train.add_argument(
        "--invariance",
        type=float,
        default=None,
        help="weight of the agreement of two random views' codes (0: none, the tutorial's)",
    )
    train.add_argument("--invariance-kind", choices=["ntxent", "vicreg"], default=None)
    train.add_argument(
        "--mirror",
        action="store_true",
        default=None,
        help="views may be mirrored (only where a mirrored image keeps its class)",
    )
    train.add_argument(
        "--checkpoint",
        default="runs/train/checkpoint.keras",
        help="saved after every epoch; an interrupted run resumes from it",
    )
    train.add_argument("--out", default="helpers/model/weights/fashion_mnist.weights.h5")

    queue = sub.add_parser(
        "queue",
        help="print the next images to review (CSV: image,label,time,audit,confidence); "
        "append the rows, with the right label, to reviews.csv",
    )
    queue.add_argument("--run-dir", default=None, help="the run (default runs/default)")
    queue.add_argument("-n", type=int, default=100, help="how many images (default 100)")
    queue.add_argument(
        "--examples-per-class", type=int, default=10, help="Fashion-MNIST: as notebook 05 drew"
    )

    args = parser.parse_args(argv)
    options = {k: v for k, v in vars(args).items() if k not in ("command", "how")}
    if args.command == "run":
        from helpers.run.headless import NotebookFailed, run_workbook

        for key in ("data", "examples", "truth"):  # the notebooks run in notebooks/
            if options[key] is not None:
                options[key] = str(Path(options[key]).expanduser().resolve())
        try:
            run_workbook(**options)
        except NotebookFailed as err:
            print(f"stopped: {err}", file=sys.stderr)
            return 1
    elif args.command == "queue":
        from helpers.run.queue import print_queue

        return print_queue(args.run_dir, args.n, args.examples_per_class)
    elif args.command == "export":
        from helpers.run.export import sort_into_folders

        return sort_into_folders(args.run_dir, args.to, args.how or "copy")
    else:
        from dataclasses import replace

        from helpers.model.shipped import train_fashion_mnist
        from helpers.model.training import FAST_RECIPE, TUTORIAL_RECIPE

        recipe = FAST_RECIPE if options.pop("recipe") == "fast" else TUTORIAL_RECIPE
        fields = ("epochs", "batch_size", "learning_rate", "schedule", "precision")
        fields += ("invariance", "invariance_kind", "mirror")
        changes = {k: options.pop(k) for k in fields}
        recipe = replace(recipe, **{k: v for k, v in changes.items() if v is not None})
        train_fashion_mnist(recipe, **options)
    return 0


def _size_or_auto(text: str) -> int | str:
    return "auto" if text.strip().lower() == "auto" else int(text)


if __name__ == "__main__":
    sys.exit(main())
