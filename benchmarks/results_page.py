"""``docs/results.md``: every figure the benchmarks measured, written from
``benchmarks/results/*.json`` and never typed by hand.

    python -m benchmarks.results_page          # write docs/results.md
    python -m benchmarks.results_page --check  # exit 1 if docs/results.md is not current

Each section names the results file it comes from, with the commit and the command that
made it; a file this page has no section for is still listed, so nothing measured hides.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from benchmarks.reports import ROOT, markdown_table

RESULTS = ROOT / "benchmarks" / "results"
PAGE = ROOT / "docs" / "results.md"
# the library's default label settings, as quality.py names its rows (with Poisson
# learning on, the rule is 'image' whatever the number of examples)
DEFAULT_ROWS = dict.fromkeys(("1", "5", "10"), "top3, image, confidence, spread 0.8, poisson 0.9")


def pct(x) -> str:
    return "-" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{100 * x:.1f}%"


def num(x, digits: int = 3) -> str:
    return "-" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.{digits}f}"


def spread(stats: dict, fmt=pct) -> str:
    """mean (min-max) of a {mean, min, max} summary; a dash where no draw has it."""
    if not np.isfinite(stats["mean"]):
        return "—"
    return f"{fmt(stats['mean'])} ({fmt(stats['min'])}-{fmt(stats['max'])})"


def made_by(name: str, report: dict) -> list[str]:
    """Where a section's figures come from."""
    commit = report.get("commit", "not recorded")
    command = report.get("command", "not recorded").strip()
    return ["", f"*From `benchmarks/results/{name}` (commit {commit}): `{command}`.*"]


def scoreboard(name: str, r: dict) -> list[str]:
    """Every pile with truth, the defaults and what each part adds (benchmarks/piles.py)."""
    lines = [f"## The scoreboard: every pile with truth, defaults: `{name}`", *made_by(name, r)]
    lines += [
        "",
        f"Means over the example draws {r['draws']} (examples per class: "
        + ", ".join(f"{p} {n}" for p, n in r["examples_per_class"].items())
        + "). *best share at 0.95*: the largest share of the pile any threshold accepts with "
        "precision >= 0.95, ranked by the workbook's confidence (chosen with the truth); "
        "*calibrated*: the share the starting threshold accepts, and the precision it "
        "delivers (its promise: 0.95). Each row below the defaults changes one thing.",
    ]
    rows = []
    for pile, result in r["piles"].items():
        for label, m in result["labellings"].items():
            rows.append(
                [
                    pile if label == "defaults" else "",
                    f"**{label}**" if label == "defaults" else label,
                    num(m["accuracy"]),
                    pct(m["best_share_at_95"]),
                    pct(m["calibrated_share"]),
                    num(m["delivered_precision"]),
                ]
            )
    header = ["pile", "labelling", "accuracy", "best share at 0.95", "calibrated", "precision"]
    lines += markdown_table(header, rows)
    lines += ["", "The headless run (`python -m helpers run`, full profile, draw 0's examples):"]
    runs = [
        [
            pile,
            f"`{x['headless']['command']}`",
            f"{x['headless']['seconds']:.0f}",
            f"{x['headless']['peak_rss_gib']}",
            num(x["headless"]["labels_csv"]["accuracy"]),
        ]
        for pile, x in r["piles"].items()
    ]
    header = ["pile", "command", "seconds", "peak memory, GiB", "labels.csv accuracy"]
    return lines + markdown_table(header, runs)


def description(name: str, r: dict) -> list[str]:
    """Ways of describing the images for the graph (benchmarks/description.py)."""
    lines = [f"## Describing the images for the neighbour graph: `{name}`", *made_by(name, r)]
    lines += [
        "",
        f"Labelled by {r['labelling']}; means over the draws {r['draws']}. *agreement*: the "
        "share of an image's 10 nearest images of its class (the first 5,000 images); "
        "*ms/image*: describing, fit included, on a shared 2-core machine.",
    ]
    rows = []
    for pile, reads in r["piles"].items():
        for read, variants in reads.items():
            for variant, m in variants.items():
                rows.append(
                    [
                        pile,
                        read,
                        f"**{variant}**" if "default" in variant else variant,
                        num(m["accuracy"]),
                        pct(m["best_share_at_95"]),
                        num(m["neighbour_agreement"]),
                        num(m["ms_per_image"], 1),
                    ]
                )
    header = [
        "pile",
        "read at",
        "description",
        "accuracy",
        "best share at 0.95",
        "agreement",
        "ms/image",
    ]
    return lines + markdown_table(header, rows)


def quality(name: str, r: dict) -> list[str]:
    lines = [f"## Labels on Fashion-MNIST: `{name}`", *made_by(name, r)]
    lines += [
        "",
        f"Weights `{r['weights']}`; the 10,000 test images labelled; examples drawn from "
        f"the training split with seeds {r['example_draw_seeds']}, figures their mean; "
        "*coverage at 0.95*: the largest share of the pile accepted with precision >= 0.95 "
        "(the best threshold, chosen with the truth); in bold, the library's defaults.",
    ]
    c = r["clusters"]
    lines += [
        "",
        f"Clusters of the codes: spectral ACC {num(c['spectral']['acc'])} / NMI "
        f"{num(c['spectral']['nmi'])}, KMeans ACC {num(c['kmeans']['acc'])} / NMI "
        f"{num(c['kmeans']['nmi'])}; 10-NN class agreement of the codes "
        f"{num(r['neighbour_agreement'])}.",
    ]
    if "clusters_of_the_description" in r:
        d = r["clusters_of_the_description"]
        lines[-1] += (
            f" Of the description: spectral ACC {num(d['spectral']['acc'])} / NMI "
            f"{num(d['spectral']['nmi'])}, KMeans ACC {num(d['kmeans']['acc'])} / NMI "
            f"{num(d['kmeans']['nmi'])}; 10-NN class agreement "
            f"{num(r['neighbour_agreement_of_the_description'])}."
        )
    per = sorted(r["labels"], key=int)
    header = ["settings"] + [f"{k}/class accuracy, coverage at 0.95" for k in per]
    rows = []
    for variant in r["labels"][per[-1]]:
        cells = []
        for k in per:
            v = r["labels"][k].get(variant)
            cell = f"{pct(v['accuracy_all'])}, {pct(v['coverage_at_p95'])}" if v else "-"
            cells.append(f"**{cell}**" if DEFAULT_ROWS.get(k) == variant else cell)
        rows.append([variant, *cells])
    lines += markdown_table(header, rows)
    if "calibrated_default" in r:
        rows = [
            [f"{k}/class", variant, num(v["threshold"]), pct(v["coverage"]), pct(v["precision"])]
            for k, variants in sorted(r["calibrated_default"].items(), key=lambda kv: int(kv[0]))
            for variant, v in variants.items()
        ]
        lines += ["", "The calibrated threshold (promise: precision 0.95):"]
        lines += markdown_table(
            ["examples", "settings", "threshold", "accepted", "precision"], rows
        )
    if "tutorial_rule" in r:
        rows = [
            [f"{k}/class", t, num(v["accepted"], 1), pct(v["coverage"]), pct(v["precision"])]
            for k, rules in sorted(r["tutorial_rule"].items(), key=lambda kv: int(kv[0]))
            for t, v in rules.items()
        ]
        lines += ["", "The tutorial's rule (one cluster, index-aligned pairs):"]
        lines += markdown_table(
            ["examples", "threshold", "accepted", "coverage", "precision"], rows
        )
    return lines


def review(name: str, r: dict) -> list[str]:
    lines = [f"## Reviews: `{name}`", *made_by(name, r)]
    round_of = r.get("settings", {}).get("audits_for_a_promise", "?")
    lines += [
        "",
        "A simulated person reviews what the explorer's queue offers (the audit round of "
        f"{round_of} random picks first, then the least "
        "certain with one in five an audit pick), with the truth, in rounds ending with a "
        "relabel; figures are mean (min-max) over the draws of examples. *promise*: draws "
        "whose threshold rests on the audit round (else a guess); *accepted*: share of the "
        "pile accepted at the calibrated threshold, reviewed images included; *precision*: "
        "of the workbook's own accepted labels (— where it accepts none); *kept at 0.93*: "
        "the accepted share while that precision is at least 0.93 (else 0); *best at 0.95*: "
        "the largest share any threshold keeps at precision 0.95; *efficiency*: accepted / "
        "best at 0.95.",
    ]
    for pile, steps in r["summary"].items():
        rows = [
            [
                str(s["reviews"]),
                f"{s.get('audit_reviews', '?')}",
                f"{s.get('promised', '?')}",
                spread(s["accuracy_all"]),
                spread(s["accepted_at_calibrated"]),
                spread(s["precision_of_accepted_auto"]),
                spread(s["kept_at_p93_calibrated"]) if "kept_at_p93_calibrated" in s else "",
                spread(s["kept_at_p95_best"]),
                spread(s["efficiency"], num) if "efficiency" in s else "",
                spread(s["relabel_seconds"], lambda x: f"{x:.1f}"),
            ]
            for s in (steps[k] for k in sorted(steps, key=int))
        ]
        lines += ["", f"**{pile}**"]
        lines += markdown_table(
            [
                "reviews",
                "audits",
                "promise",
                "accuracy",
                "accepted",
                "precision",
                "kept at 0.93",
                "best at 0.95",
                "efficiency",
                "relabel s",
            ],
            rows,
        )
    return lines


def promise(name: str, r: dict) -> list[str]:
    """Where the threshold goes by its two settings, on the review states."""
    lines = [f"## The threshold's promise, by its settings: `{name}`", *made_by(name, r)]
    defaults = r["defaults"]
    lines += [
        "",
        f"On the states of `{r['states']}`. Defaults: model worth "
        f"{defaults['model_labels']:g} labels, floor {defaults['promise_floor']:g}. Per pile: "
        "*before*: the precision the workbook's own accepted labels deliver before any review "
        "(mean over the draws; — where nothing is accepted) and the share accepted; "
        "*100-300*: the lowest delivered precision of any draw after 100, 200 and 300 "
        "reviews, and the mean efficiency there (accepted / best share at 0.95). "
        "Fashion-MNIST: the share kept at 0.93 after 100 / 300 / 500 reviews, and its "
        "largest fall from one round to the next after the first.",
    ]
    piles = list(next(iter(r["variants"].values())))
    rows = []
    for variant, by_pile in r["variants"].items():
        row = [variant]
        for pile in piles:
            rounds = by_pile[pile]
            first = rounds[0]
            later = [x for x in rounds if 1 <= x["round"] <= 3]
            lowest = [x["delivered_lowest"] for x in later if x["delivered_lowest"] is not None]
            row.append(
                f"{num(first['delivered']) if first['delivered'] is not None else '—'} / "
                f"{pct(first['accepted'])}"
            )
            row.append(
                f"{num(min(lowest)) if lowest else '—'} / "
                f"{num(float(np.mean([x['efficiency'] for x in later])), 2)}"
            )
        kept = [x["kept_at_93"] for x in by_pile.get("fashion", [])]
        if len(kept) > 5:
            falls = [a - b for a, b in zip(kept[1:], kept[2:], strict=False)]
            row.append(f"{kept[1]:.3f} / {kept[3]:.3f} / {kept[5]:.3f}, {max(0, max(falls)):.3f}")
        rows.append(row)
    header = ["settings"]
    for pile in piles:
        header += [f"{pile}: before", f"{pile}: 100-300"]
    header += ["fashion: kept at 0.93, fall"] if rows and len(rows[0]) > len(header) else []
    return lines + markdown_table(header, rows)


def refine(name: str, r: dict) -> list[str]:
    lines = [f"## Codes refined on the pile: `{name}`", *made_by(name, r)]
    lines += ["", f"Pile: {r['pile']}; weights `{r['weights']}`; mean over the draws."]
    by_variant: dict[str, list[dict]] = {}
    for row in r["rows"]:
        by_variant.setdefault(row["variant"], []).append(row["after"])
    keys = ["accuracy_all", "best_coverage_at_p95", "calibrated_coverage", "calibrated_precision"]
    rows = [
        [variant]
        + [pct(float(np.mean([a[k] for a in afters]))) for k in keys]
        + [num(float(np.mean([a["neighbour_agreement"] for a in afters])))]
        for variant, afters in by_variant.items()
    ]
    header = ["variant", "accuracy", "best coverage at 0.95", "calibrated coverage"]
    return lines + markdown_table(header + ["calibrated precision", "10-NN"], rows)


def codes(name: str, r: dict) -> list[str]:
    lines = [f"## Training settings screened: `{name}`", *made_by(name, r)]
    rows = []
    for run_name, run in r["runs"].items():
        labels = run.get("labels_10", {})
        rows.append(
            [
                run_name,
                num(run["test_ssim"]),
                num(run["neighbour_agreement"]),
                num(run["kmeans"]["acc"]),
                num(run.get("spectral", {}).get("acc")),
                pct(labels.get("accuracy_all")),
                f"{run['train_seconds']:.0f}",
            ]
        )
    header = ["run", "test SSIM", "10-NN", "KMeans ACC", "spectral ACC", "10/class accuracy"]
    return lines + markdown_table(header + ["train s"], rows)


def recipes(name: str, r: dict) -> list[str]:
    lines = [f"## Training recipes, {r['epochs']} epochs: `{name}`", *made_by(name, r)]
    rows = [
        [
            recipe,
            num(v["test_ssim"]),
            num(v["clusters"]["spectral"]["acc"]),
            pct(v["labels_10"]["accuracy_all"]),
            pct(v["labels_1"]["accuracy_all"]),
        ]
        for recipe, v in r["recipes"].items()
    ]
    header = ["recipe", "test SSIM", "spectral ACC", "10/class accuracy", "1/class accuracy"]
    return lines + markdown_table(header, rows)


def speed(name: str, r: dict) -> list[str]:
    lines = [f"## Speed against the tutorial's code: `{name}`", *made_by(name, r)]
    s, t = r["pairwise_ssim"], r["training"]
    rows = [
        [
            "pairwise SSIM, pairs/s",
            f"{s['tutorial_loop']['median']:,.0f}",
            f"{s['ours']['median']:,.0f}",
            f"{s['ratio']['median']:,.0f}x ({s['ratio']['low']:,.0f}-{s['ratio']['high']:,.0f})",
        ],
        [
            "training, images/s",
            f"{t['tutorial']['median']:,.0f}",
            f"{t['ours']['median']:,.0f}",
            f"{t['ratio']['median']:.2f}x ({t['ratio']['low']:.2f}-{t['ratio']['high']:.2f})",
        ],
    ]
    lines += markdown_table(["what", "tutorial", "ours", "ratio (range)"], rows)
    q = r.get("time_to_quality")
    if q:
        lines += [
            "",
            f"Time to the tutorial's quality: test SSIM {num(q['test_ssim'])} in "
            f"{q['seconds']:.0f} s, against the tutorial's {num(q['tutorial_test_ssim'])} in "
            f"an estimated {q['tutorial_seconds_estimated']:.0f} s "
            f"({pct(q['share_of_tutorial_time'])} of its time).",
        ]
    largest = s["max_abs_difference_from_tf_image_ssim"]
    lines += ["", f"Largest difference from `tf.image.ssim`: {largest:.1e}."]
    return lines


def describing(name: str, r: dict) -> list[str]:
    from benchmarks.describing import format_table

    lines = [f"## The description at speed: `{name}`", *made_by(name, r)]
    lines += [
        "",
        "Images per second of the scattering transform the workbook uses against the plain "
        "one (kymatio's algorithm step by step), on one thread, alternately; then the whole "
        "description (transform, square root, projection), a batch per core. Medians "
        "(lowest-highest) over the rounds.",
    ]
    return lines + format_table(r)


def decode(name: str, r: dict) -> list[str]:
    lines = [f"## The folded decoder: `{name}`", *made_by(name, r)]
    ips, ratio = r["images_per_s"], r["ratio"]
    rows = [[k, f"{v['median']:,.0f}", f"{v['low']:,.0f}-{v['high']:,.0f}"] for k, v in ips.items()]
    lines += markdown_table(["decoder", "images/s (median)", "range"], rows)
    lines += [
        "",
        f"{r['images']:,} images, {r['rounds']} rounds, weights `{r['weights']}`: folded over "
        f"as trained {ratio['median']:.2f}x ({ratio['low']:.2f}-{ratio['high']:.2f}); largest "
        f"difference of a pixel {r['largest_difference']:.1e}.",
    ]
    return lines


def explorer(name: str, r: dict) -> list[str]:
    lines = [f"## The explorer's response: `{name}`", *made_by(name, r)]
    rows = [
        [
            f"{s['images']:,}",
            f"{s['build_ms']:.0f}",
            f"{s['slider_ms_median']:.1f} (max {s['slider_ms_max']:.1f})",
            f"{s['least_certain_switch_ms']:.0f}",
        ]
        for s in r["sizes"]
    ]
    header = ["images", "build ms", "slider ms, median", "least-certain view ms"]
    return lines + markdown_table(header, rows)


def pile(name: str, r: dict) -> list[str]:
    lines = [f"## Piles of files: `{name}`", *made_by(name, r)]
    if r.get("sizes"):
        steps = list(next(iter(r["sizes"].values()))["seconds"])
        rows = [
            [f"{int(n):,}", str(s["epochs"])]
            + [f"{s['seconds'][k]:.0f}" for k in steps]
            + [f"{s['total_seconds']:.0f}", f"{s['peak_rss_gib']:.2f}"]
            for n, s in sorted(r["sizes"].items(), key=lambda kv: int(kv[0]))
        ]
        lines += ["", f"Each step's seconds on {r.get('machine', 'this machine')}:"]
        lines += markdown_table(["files", "epochs", *steps, "total s", "peak GiB"], rows)
    if "folder_against_arrays" in r:
        a, f = r["folder_against_arrays"]["arrays"], r["folder_against_arrays"]["folder"]
        lines += [
            "",
            f"Fashion-MNIST's test split as PNG files against the arrays: {f['accepted']} and "
            f"{a['accepted']} accepted at threshold {num(f['threshold'], 4)} and "
            f"{num(a['threshold'], 4)}, precision {pct(f['precision'])} and {pct(a['precision'])}.",
        ]
    for n, h in sorted(r.get("headless", {}).items(), key=lambda kv: int(kv[0])):
        lines += [
            "",
            f"**{int(n):,} files, headless** (commit {h.get('commit', 'not recorded')}, "
            f"`{h['command']}`): {h['total_seconds'] / 60:.1f} minutes, peak memory "
            f"{h['peak_rss_gib']:.2f} GiB.",
        ]
        base = h.get("baseline")
        if base is not None:
            lines += [
                "",
                f"Side by side, one after the other on this machine: commit {base['commit']} "
                f"took {base['total_seconds'] / 60:.1f} minutes, peak {base['peak_rss_gib']:.2f} "
                f"GiB; this one's time over it: {h['time_over_baseline']:.2f}.",
            ]
        names = list(h["notebook_seconds"])
        rows = [
            [k, f"{h['notebook_seconds'][k]:.0f}"]
            + ([f"{base['notebook_seconds'].get(k, float('nan')):.0f}"] if base else [])
            for k in names
        ]
        header = ["notebook", "seconds"] + ([f"seconds at {base['commit']}"] if base else [])
        lines += markdown_table(header, rows)
    engines = r.get("engines", {})
    for fmt, e in ({"28 grey": engines} if "sizes" in engines else engines).items():
        lines += [
            "",
            f"The per-image map by engine, images made {fmt} (commit "
            f"{e.get('commit', 'not recorded')}, `{e['command']}`, {e['machine']}); *driver "
            "heap*: the driver's anonymous memory at its peak, which leaves out the pages of "
            "the memory-mapped pile:",
        ]
        rows = []
        for n, size in sorted(e["sizes"].items(), key=lambda kv: int(kv[0])):
            for engine, runs in size["runs"].items():
                over = size.get(f"{engine}_time_over_local", size.get("ray_time_over_local"))
                rows.append(
                    [
                        f"{int(n):,}",
                        engine,
                        f"{size['median_images_per_s'][engine]:,.0f}",
                        "1" if engine == "local" else str(over),
                        num(max(x["driver_peak_rss_gib"] for x in runs), 2),
                        num(max(x.get("driver_peak_anonymous_gib", float("nan")) for x in runs), 2),
                        num(runs[0].get("decoded_pile_gib"), 2),
                    ]
                )
        header = ["files", "engine", "images/s", "time / local", "driver peak GiB"]
        lines += markdown_table(header + ["driver heap GiB", "decoded pile GiB"], rows)
    return lines


def relabel(name: str, r: dict) -> list[str]:
    lines = [f"## A relabel after reviews: `{name}`", *made_by(name, r)]
    rounds = ", ".join(f"{s:.1f}" for s in r["relabel_after_reviews_seconds"])
    return (
        lines
        + [
            "",
            f"{r['images']:,} images ({r['machine']}): the session opened in "
            f"{r['open_session_seconds']:.1f} s, the first relabel took "
            f"{r['first_relabel_seconds']:.1f} s, "
            f"and each relabel after {r['reviews_per_round']} more reviews {rounds} s "
            f"(reconstructions read from the run directory: {r['reconstructions_on_disk']})"
            + (
                f"; reviews came {r['seconds_per_review']:g} s apart, each column scored meanwhile."
                if r.get("seconds_per_review")
                else "."
            ),
        ]
        + _relabel_baseline(r)
    )


def _relabel_baseline(r: dict) -> list[str]:
    """The same benchmark on an earlier commit, measured in the same run, and the ratio."""
    b = r.get("baseline")
    if not b:
        return []
    rounds = ", ".join(f"{s:.1f}" for s in b["relabel_after_reviews_seconds"])
    return [
        "",
        f"Side by side, just before, with {b['commit']}'s code on its own run directory: "
        f"the session opened in {b['open_session_seconds']:.1f} s, the first relabel took "
        f"{b['first_relabel_seconds']:.1f} s, each relabel after reviews {rounds} s. "
        f"Median relabel time over {b['commit']}'s: **{r['time_over_baseline']:.2f}x**.",
    ]


SECTIONS = {
    "piles": scoreboard,
    "description": description,
    "quality": quality,
    "review": review,
    "promise": promise,
    "refine": refine,
    "codes": codes,
    "recipes": recipes,
    "speed": speed,
    "describing": describing,
    "decode": decode,
    "explorer": explorer,
    "pile": pile,
    "relabel": relabel,
}


def section_for(stem: str):
    """The renderer of a results file: by its name, ``quality-...`` like ``quality``."""
    return SECTIONS.get(stem) or SECTIONS.get(stem.split("-")[0])


def page(results: Path = RESULTS) -> str:
    lines = [
        "# Results",
        "",
        "Every figure measured by `benchmarks/`, written by `python -m benchmarks.results_page` "
        "from `benchmarks/results/*.json` (a test fails when this page is not current). "
        "Speeds come from a shared 2-core machine unless a section says otherwise: read them "
        "as ratios measured side by side, not as absolute times.",
    ]
    files = sorted(
        results.glob("*.json"), key=lambda p: (list(SECTIONS).index(section_key(p)), p.name)
    )
    for path in files:
        report = json.loads(path.read_text())
        render = section_for(path.stem)
        lines += [""] + (render(path.name, report) if render else _listed(path.name, report))
    return "\n".join(lines) + "\n"


def section_key(path: Path) -> str:
    stem = path.stem if path.stem in SECTIONS else path.stem.split("-")[0]
    return stem if stem in SECTIONS else list(SECTIONS)[-1]


def _listed(name: str, report: dict) -> list[str]:
    return [f"## `{name}`", *made_by(name, report), "", "(no table for this file yet)"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if the page is not current")
    args = parser.parse_args(argv)
    text = page()
    if args.check:
        current = PAGE.read_text() if PAGE.is_file() else ""
        if current != text:
            print(f"{PAGE.relative_to(ROOT)} is not current: run python -m benchmarks.results_page")
            return 1
        return 0
    PAGE.parent.mkdir(exist_ok=True)
    PAGE.write_text(text)
    print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
