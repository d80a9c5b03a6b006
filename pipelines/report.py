"""Write results/fashion-mnist/PRESET/report.md from the accuracies (acc/*.json from
selfsup-eval classify --json), the stage timings and the pretraining log, and
print the results table."""
import argparse
import glob
import json
import math
import os
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "formats"))
import tsf  # noqa: E402

METHODS = [
    ("probe-simclr", "Linear probe, SimCLR features"),
    ("probe-random", "Linear probe, random-init encoder"),
    ("probe-raw", "Logistic regression, raw pixels"),
    ("ft-simclr", "Finetuned SimCLR encoder"),
    ("ft-scratch", "Supervised from scratch"),
]
BUDGETS = [("b10", "10 per class (100)"), ("b1pct", "1% (600)"), ("b100", "100% (55,000)")]


def accuracy(path):
    with open(path) as f:
        return float(json.load(f)["accuracy"])


def cell(work, method, budget):
    values = [accuracy(p) for p in sorted(glob.glob(f"{work}/acc/{method}-{budget}-s*.json"))]
    if not values:
        return "n/a"
    mean = 100 * statistics.fmean(values)
    if len(values) == 1:
        return f"{mean:.2f}"
    return f"{mean:.2f} ± {100 * statistics.stdev(values):.2f} (n={len(values)})"


def subsets(work):
    return len(glob.glob(f"{work}/acc/probe-simclr-b10-s*.json"))


def stage_times(work):
    groups = {}
    for path in glob.glob(f"{work}/times/*"):
        name = os.path.basename(path)
        with open(path) as f:
            seconds = float(f.read().split()[0])
        if name.startswith("ft-"):
            key = "finetune (all runs)"
        elif name.startswith("probe-"):
            key = "linear probes (all runs)"
        elif name.startswith("lambda-"):
            key = "probe strength on the validation split"
        elif name.startswith("embed-"):
            key = "embed (all streams)"
        elif name.startswith("import"):
            key = "import"
        else:
            key = name
        groups[key] = groups.get(key, 0.0) + seconds
    return groups


def probe_lambda(work, features, budget):
    """Return the probe strength of one method and budget as text, or "n/a"."""
    if budget != "b100":
        path = f"{work}/lambda-{features}-{budget}.txt"
        return open(path).read().strip() if os.path.exists(path) else "n/a"
    path = f"{work}/probe-{features}-sub-b100-s1.tsf"
    if not os.path.exists(path):
        return "n/a"
    meta, _ = next(tsf.read(path))
    return f"{meta['config']['lambda']:g}"


def chosen_lambdas(work):
    """Return the rows of a Markdown table of the probes' strengths."""
    rows = ["| probe | " + " | ".join(b[1] for b in BUDGETS) + " |", "|---|" + "---|" * len(BUDGETS)]
    for method, label in METHODS:
        if method.startswith("probe-"):
            cells = [probe_lambda(work, method[len("probe-"):], budget) for budget, _ in BUDGETS]
            rows.append(f"| {label} | " + " | ".join(cells) + " |")
    return rows


def pretrain_summary(work):
    path = f"{work}/pretrain.jsonl"
    if not os.path.exists(path):
        return None
    rows = [json.loads(line) for line in open(path)]
    if not rows:
        return None
    last = rows[-1]
    rates = sorted(r["views_per_s"] for r in rows[3:] or rows)
    return last, rates[len(rates) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--setting", action="append", default=[], help="a pretraining command line to list")
    a = ap.parse_args()

    header = "| method | " + " | ".join(b[1] for b in BUDGETS) + " |"
    rule = "|---|" + "---|" * len(BUDGETS)
    rows = [f"| {label} | " + " | ".join(cell(a.work, m, b) for b, _ in BUDGETS) + " |" for m, label in METHODS]
    table = "\n".join([header, rule] + rows)

    lines = [
        f"# Fashion-MNIST: SimCLR pretraining and adaptation ({a.preset} preset)",
        "",
        "Test accuracy in percent on the 10,000 Fashion-MNIST test images, used once.",
        f"The small budgets are averaged over {subsets(a.work)} seeded, class-balanced subsets",
        "(mean ± sample standard deviation); 100% uses all 55,000 training images",
        "that remain after the 5,000-image validation split.",
        "",
        table,
        "",
    ]
    if a.preset == "smoke":
        lines += [
            "The smoke preset runs a few steps of every stage to check the wiring,",
            "so these accuracies mean nothing.",
            "",
        ]
    lines += [
        "## Linear probes",
        "",
        "Each probe's L2 strength lambda (the mean-loss objective of docs/probe.md) was",
        "chosen on the validation split. A small budget has one lambda per method: the one",
        "whose probes of the subsets score best there on average.",
        "",
    ] + chosen_lambdas(a.work) + [""]
    summary = pretrain_summary(a.work)
    if summary:
        last, rate = summary
        lines += [
            "## Pretraining",
            "",
            f"{last['step']} steps of 256 images (512 views); final NT-Xent loss {last['loss']:.3f}",
            f"against the chance level {last['chance_loss']:.3f}, contrastive top-1 accuracy",
            f"{last['top1']:.3f}; median {rate:.0f} views/s.",
            "",
        ]
        if a.setting:
            lines += ["Settings:", ""] + [f"- `{cmd}`" for cmd in a.setting] + [""]
        lines += [
            "![pretraining loss](pretrain-loss.png)",
            "",
        ]
    lines += ["## Time per stage", "", "| stage | seconds |", "|---|---|"]
    for name, seconds in sorted(stage_times(a.work).items(), key=lambda kv: -kv[1]):
        lines.append(f"| {name} | {seconds:.1f} |")
    lines += [
        "",
        "## Figures",
        "",
        "![PCA of SimCLR test features](pca.png)",
        "",
        "![Augmented views: each column is one image, each row a new augmentation](augmented-views.png)",
        "",
        "![Confusion matrix of the SimCLR linear probe with all labels (rows: true class,"
        " columns: predicted)](confusion.png)",
        "",
    ]
    text = "\n".join(lines)
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, a.out)
    print(table)


if __name__ == "__main__":
    main()
