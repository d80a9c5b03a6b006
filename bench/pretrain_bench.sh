#!/bin/sh
# Benchmark SimCLR pretraining: selfsup-pretrain against PyTorch on the CPU.
#
# Builds a views stream in bench/out/pretrain/ (import Fashion-MNIST, keep the
# first IMAGES records, one selfsup-augment pass), measures the OpenBLAS sgemm
# rate on a 2048^3 product once per round, then runs in alternation, for
# ROUNDS rounds: selfsup-pretrain --threads 2, PyTorch (bench/simclr_torch.py) with 2 torch
# threads and OPENBLAS_NUM_THREADS=1, PyTorch with both pools at 2, and
# selfsup-pretrain --threads 1. Every run is wrapped in /usr/bin/time -v for
# its peak RSS. Last, `perf record -g` of a short single-thread run gives the
# time per symbol group. Writes docs/pretrain-benchmark.md and prints a
# summary. A missed target is reported, not treated as an error; the script
# fails only when a command does.
# Environment: FMNIST_DIR (default /usr/share/datasets/fashion-mnist),
# ROUNDS (default 7, at least 3), IMAGES (default 15360), STEPS (default 20).
set -eu
cd "$(dirname "$0")/.."

PY=/usr/bin/python3
TSF=bin/selfsup-tsf
AUGMENT=bin/selfsup-augment
PRETRAIN=bin/selfsup-pretrain
OUT=bench/out/pretrain
DATA=${FMNIST_DIR:-/usr/share/datasets/fashion-mnist}
ROUNDS=${ROUNDS:-7}
IMAGES=${IMAGES:-15360}
STEPS=${STEPS:-20}
# Steps left out of every median: the first steps allocate buffers and, in
# PyTorch, pick convolution kernels.
WARMUP=3
PERF_STEPS=10

for f in "$TSF" "$AUGMENT" "$PRETRAIN" "$DATA/train-images-idx3-ubyte.gz" "$DATA/train-labels-idx1-ubyte.gz"; do
    if [ ! -e "$f" ]; then
        echo "pretrain_bench.sh: $f not found (run 'make' first; set FMNIST_DIR for the data)" >&2
        exit 1
    fi
done
if [ ! -x /usr/bin/time ]; then
    echo "pretrain_bench.sh: /usr/bin/time is missing (Debian package time)" >&2
    exit 1
fi
if ! $PY -c 'import torch, numpy' 2>/dev/null; then
    echo "pretrain_bench.sh: $PY cannot import torch and numpy (Debian packages python3-torch, python3-numpy)" >&2
    exit 1
fi
if [ "$ROUNDS" -lt 3 ] || [ "$STEPS" -le "$WARMUP" ]; then
    echo "pretrain_bench.sh: ROUNDS must be at least 3 and STEPS above $WARMUP" >&2
    exit 1
fi
HAVE_PERF=yes
command -v perf >/dev/null || HAVE_PERF=no

mkdir -p "$OUT"
rm -f "$OUT"/*.time "$OUT"/sgemm-*.jsonl "$OUT"/*.jsonl "$OUT"/*.json "$OUT"/*.busy "$OUT"/*.txt "$OUT"/perf.data*

# Busy CPU seconds of the whole machine since boot (all /proc/stat time but idle and iowait).
CLK=$(getconf CLK_TCK)
busy() { awk -v clk="$CLK" '/^cpu /{ print ($2 + $3 + $4 + $7 + $8 + $9) / clk; exit }' /proc/stat; }
now() { date +%s.%N; }
cut -d' ' -f1-3 /proc/loadavg >"$OUT/load-before.txt"

echo "pretrain_bench: generating inputs in $OUT" >&2
$TSF import idx -o "$OUT/train.tsf" "$DATA/train-images-idx3-ubyte.gz" "$DATA/train-labels-idx1-ubyte.gz"
$TSF head -n "$IMAGES" -o "$OUT/images.tsf" "$OUT/train.tsf"
$AUGMENT --seed 0 -o "$OUT/views.tsf" "$OUT/images.tsf"
VIEWS=$OUT/views.tsf
# Run a copy, so that a rebuild of bin/ during the benchmark cannot mix two versions.
cp "$PRETRAIN" "$OUT/selfsup-pretrain"
PRETRAIN=$OUT/selfsup-pretrain

# sgemm OPENBLAS_THREADS FILE: time numpy's float32 2048^3 product (7 calls
# after an untimed one) and append one JSON line of GFLOP/s to FILE.
sgemm() {
    OPENBLAS_NUM_THREADS=$1 $PY - "$1" >>"$2" <<'EOF'
import json, sys, time
import numpy as np
n = 2048
rng = np.random.default_rng(0)
a = rng.random((n, n), dtype=np.float32)
b = rng.random((n, n), dtype=np.float32)
a @ b
rates = []
for _ in range(7):
    start = time.perf_counter()
    a @ b
    rates.append(2 * n**3 / (time.perf_counter() - start) / 1e9)
print(json.dumps({"threads": int(sys.argv[1]), "n": n, "gflops": rates}))
EOF
}

# run_timed NAME COMMAND...: run under /usr/bin/time -v, recording the
# machine's busy CPU seconds and the wall clock before and after.
run_timed() {
    name=$1
    shift
    b0=$(busy)
    t0=$(now)
    /usr/bin/time -v -o "$OUT/$name.time" "$@"
    t1=$(now)
    b1=$(busy)
    echo "$b0 $b1 $t0 $t1 $(cut -d' ' -f1 /proc/loadavg)" >"$OUT/$name.busy"
}

round=1
while [ "$round" -le "$ROUNDS" ]; do
    echo "pretrain_bench: round $round of $ROUNDS" >&2
    sgemm 1 "$OUT/sgemm-1.jsonl"
    sgemm 2 "$OUT/sgemm-2.jsonl"
    run_timed "ours2-$round" $PRETRAIN simclr -q --threads 2 --steps "$STEPS" \
        -o "$OUT/ckpt.tsf" --log "$OUT/ours2-$round.jsonl" "$VIEWS"
    run_timed "torch1-$round" env OPENBLAS_NUM_THREADS=1 $PY bench/simclr_torch.py \
        --threads 2 --steps "$STEPS" --warmup "$WARMUP" "$VIEWS" >"$OUT/torch1-$round.json"
    run_timed "torch2-$round" env OPENBLAS_NUM_THREADS=2 $PY bench/simclr_torch.py \
        --threads 2 --steps "$STEPS" --warmup "$WARMUP" "$VIEWS" >"$OUT/torch2-$round.json"
    run_timed "ours1-$round" $PRETRAIN simclr -q --threads 1 --steps "$STEPS" \
        -o "$OUT/ckpt.tsf" --log "$OUT/ours1-$round.jsonl" "$VIEWS"
    round=$((round + 1))
done

if [ "$HAVE_PERF" = yes ]; then
    echo "pretrain_bench: perf record of $PERF_STEPS single-thread steps" >&2
    perf record -q -g -o "$OUT/perf.data" $PRETRAIN simclr -q --threads 1 --steps "$PERF_STEPS" \
        -o "$OUT/ckpt.tsf" "$VIEWS" 2>"$OUT/perf-record.txt"
    perf report -i "$OUT/perf.data" --no-children --sort dso,symbol --stdio -g none \
        >"$OUT/perf-report.txt" 2>/dev/null
fi
cut -d' ' -f1-3 /proc/loadavg >"$OUT/load-after.txt"

$PY - "$OUT" "$ROUNDS" "$IMAGES" "$STEPS" "$WARMUP" "$PERF_STEPS" <<'EOF'
"""Summarise the runs in OUT and write docs/pretrain-benchmark.md."""
import datetime, glob, json, os, re, statistics, subprocess, sys

out, rounds, images, steps, warmup, perf_steps = sys.argv[1], *map(int, sys.argv[2:])
sys.path.insert(0, "bench")
import report  # noqa: E402  (machine_rows only)

SGEMM_NOMINAL = 200.0   # GFLOP/s, the nominal 2-thread sgemm peak the target is stated against
TARGET_RATIO, MIN_RATIO, NOISY_SHARE = 2.0, 1.5, 0.1
ncpu = os.cpu_count()


def read_time(path):
    """Return (max RSS KiB, user+sys seconds) from a /usr/bin/time -v file."""
    text = open(path).read()
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))
    user = float(re.search(r"User time \(seconds\): ([\d.]+)", text).group(1))
    system = float(re.search(r"System time \(seconds\): ([\d.]+)", text).group(1))
    return rss, user + system


def read_busy(path, own_cpu):
    """Return (wall seconds, share of the machine's CPU used by other processes, load after)."""
    b0, b1, t0, t1, load = map(float, open(path).read().split())
    wall = t1 - t0
    return wall, max(0.0, (b1 - b0 - own_cpu) / (wall * ncpu)), load


def run(name, r):
    base = "%s/%s-%d" % (out, name, r)
    rss, cpu = read_time(base + ".time")
    wall, other, load = read_busy(base + ".busy", cpu)
    result = {"rss": rss, "cpu": cpu, "wall": wall, "other": other, "load": load}
    if name.startswith("ours"):
        log = [json.loads(line) for line in open(base + ".jsonl")]
        timed = log[warmup:]
        result["rate"] = statistics.median(s["views_per_s"] for s in timed)
        result["gflops"] = statistics.median(s["gflops"] for s in timed)
        result["flops_per_view"] = statistics.median(s["gflops"] * 1e9 / s["views_per_s"] for s in timed)
    else:
        j = json.load(open(base + ".json"))
        result["rate"] = j["views_per_s"]
        result["self_rss"] = j["max_rss_kib"]
        result["import_rss"] = j["rss_after_import_kib"]
    return result


CONFIGS = [("ours2", "selfsup-pretrain --threads 2"),
           ("torch1", "PyTorch, torch threads 2, OPENBLAS_NUM_THREADS=1"),
           ("torch2", "PyTorch, torch threads 2, OPENBLAS_NUM_THREADS=2"),
           ("ours1", "selfsup-pretrain --threads 1")]
runs = {name: [run(name, r) for r in range(1, rounds + 1)] for name, _ in CONFIGS}


def med(name, key):
    return statistics.median(x[key] for x in runs[name])


def span(name, key):
    values = [x[key] for x in runs[name]]
    return min(values), max(values)


ours, torch1, torch2 = med("ours2", "rate"), med("torch1", "rate"), med("torch2", "rate")
best_torch_name = "torch1" if torch1 >= torch2 else "torch2"
best_torch = max(torch1, torch2)
ratio = ours / best_torch
round_ratios = [o["rate"] / max(a["rate"], b["rate"])
                for o, a, b in zip(runs["ours2"], runs["torch1"], runs["torch2"])]
# Other load only slows a run down, so each configuration's fastest run is the
# least disturbed estimate; a quiet round is one where no run shared the CPU.
best = {name: max(x["rate"] for x in runs[name]) for name, _ in CONFIGS}
best_ratio = best["ours2"] / max(best["torch1"], best["torch2"])
quiet = [r for r in range(rounds)
         if all(runs[name][r]["other"] <= NOISY_SHARE for name, _ in CONFIGS)]
quiet_ratio = statistics.median(round_ratios[r] for r in quiet) if quiet else None
ours_gflops = med("ours2", "gflops")
flops_per_view = med("ours2", "flops_per_view")
sgemm = {}
for t in (1, 2):
    calls = [g for line in open("%s/sgemm-%d.jsonl" % (out, t)) for g in json.loads(line)["gflops"]]
    sgemm[t] = {"median": statistics.median(calls), "max": max(calls), "calls": len(calls)}
ours_rss, torch_rss = med("ours2", "rss"), min(med("torch1", "rss"), med("torch2", "rss"))
all_runs = [x for name in runs for x in runs[name]]
other_share = sum(x["other"] * x["wall"] for x in all_runs) / sum(x["wall"] for x in all_runs)
noisy_runs = sum(1 for x in all_runs if x["other"] > NOISY_SHARE)
load_before = open(out + "/load-before.txt").read().split()
load_after = open(out + "/load-after.txt").read().split()


def ratio_verdict(ratio):
    if ratio >= TARGET_RATIO:
        return "PASS (meets the %.1f× target)" % TARGET_RATIO
    if ratio >= MIN_RATIO:
        return "PASS the %.1f× minimum, FAIL the %.1f× target" % (MIN_RATIO, TARGET_RATIO)
    return "FAIL (below the %.1f× minimum)" % MIN_RATIO


def group_of(dso, symbol):
    s = symbol
    if dso == "[kernel.kallsyms]":
        return "kernel (page faults, page zeroing, scheduling)"
    if re.search(r"gemm|^blas_|openblas", s) or "openblas" in dso and s.startswith("0x"):
        return "GEMM (OpenBLAS sgemm_* and its packing)"
    if re.search(r"im2col|col2im|conv", s):
        return "im2col / col2im / conv glue"
    if "relu" in s:
        return "ReLU"
    if "pool" in s:
        return "pooling"
    if re.search(r"memset|memmove|memcpy", s):
        return "memset / memcpy"
    if re.search(r"loss|xent|softmax|normalize|ntxent|infonce|exp", s):
        return "loss (NT-Xent, normalisation)"
    if re.search(r"optim|adam|sgd|lars|grads_finite", s):
        return "optimiser and gradient checks"
    return "other"


perf_groups, perf_top = {}, []
perf_path = out + "/perf-report.txt"
if os.path.exists(perf_path):
    for line in open(perf_path):
        m = re.match(r"\s+([\d.]+)%\s+(\S+)\s+\[[.k]\]\s+(\S+)", line)
        if not m:
            continue
        share, dso, symbol = float(m.group(1)), m.group(2), m.group(3)
        group = group_of(dso, symbol)
        perf_groups[group] = perf_groups.get(group, 0.0) + share
        if len(perf_top) < 15:
            perf_top.append((share, symbol, dso, group))

versions = [
    ("PyTorch", subprocess.run([sys.executable, "-c", "import torch; print(torch.__version__)"],
                               capture_output=True, text=True).stdout.strip()),
    ("OpenBLAS", subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "libopenblas0-pthread"],
                                capture_output=True, text=True).stdout.strip() or "unknown"),
    ("OPENBLAS_NUM_THREADS for selfsup", os.environ.get("OPENBLAS_NUM_THREADS", "unset")),
]

L = ["# SimCLR pretraining benchmark", "",
     "Generated by `bench/pretrain_bench.sh`; do not edit by hand. selfsup-pretrain and a "
     "PyTorch copy of the same training step (`bench/simclr_torch.py`) train on the same views "
     "file, on the CPU, in alternating runs. Rates are views per second (two views per image) "
     "over training steps only; reading the input and starting the process are not timed.", "",
     "## Machine", "", "| | |", "|---|---|"]
L += ["| %s | %s |" % row for row in report.machine_rows() + versions]
L += ["", "## Setup", "",
      "- Model: conv 3×3 1→32 (padding 1), ReLU, max-pool 2, conv 3×3 32→64, ReLU, max-pool 2, "
      "linear 3136→128 (encoder), then linear 128→128, ReLU, linear 128→64 (projection head). "
      "NT-Xent at temperature 0.2 with 2N−2 negatives, both directions. AdamW, lr 1e-3, weight "
      "decay 1e-4. Batch 256 images = 512 views. Inputs scaled as (x/255 − 0.5)/0.5.",
      "- The learning-rate schedule differs (selfsup warms up linearly; the PyTorch script keeps "
      "lr fixed), which does not change the cost of a step.",
      "- Inputs: `%s import idx` of the Fashion-MNIST training set, `%s head -n %d`, then "
      "`%s --seed 0`: %d images, %d bytes of views." % (
          "bin/selfsup-tsf", "bin/selfsup-tsf", images, "bin/selfsup-augment", images,
          os.path.getsize(out + "/views.tsf")),
      "- selfsup: `/usr/bin/time -v bin/selfsup-pretrain simclr -q --threads T --steps %d "
      "-o ckpt.tsf --log log.jsonl views.tsf`; its rate is the median of the log's "
      "`views_per_s` over steps %d to %d." % (steps, warmup + 1, steps),
      "- PyTorch: `OPENBLAS_NUM_THREADS=B /usr/bin/time -v /usr/bin/python3 bench/simclr_torch.py "
      "--threads 2 --steps %d --warmup %d views.tsf`, with the views loaded into a uint8 tensor "
      "before timing; its rate is the median over steps %d to %d." % (steps, warmup, warmup + 1, steps),
      "- %d rounds; each round runs selfsup --threads 2, PyTorch B=1, PyTorch B=2, "
      "selfsup --threads 1, in that order. Medians are over rounds of the per-run medians; "
      "the spread is the minimum and maximum over rounds." % rounds,
      "- Peak RSS is /usr/bin/time's maximum resident set size. For PyTorch it includes the "
      "interpreter and `import torch`, which alone take about %.0f MiB here "
      "(ru_maxrss right after the import)." % (med("torch1", "import_rss") / 1024), ""]

L += ["## Load on the machine", "",
      "Other processes used %.0f%% of the CPU time of the %d cores during the timed runs "
      "(weighted by run length; %d of %d runs above %.0f%%). 1-, 5-, 15-minute load average "
      "%s before and %s after." % (100 * other_share, ncpu, noisy_runs, len(all_runs),
                                   100 * NOISY_SHARE, " ".join(load_before), " ".join(load_after)), ""]
if other_share > NOISY_SHARE:
    L += ["Other processes competed for the CPU, so all rates are likely lower, and more "
          "spread, than on an idle machine. Both programs ran under the same load, in alternation, "
          "but PyTorch's thread pools lose more than selfsup when a core is taken, so under load "
          "the ratio of medians overstates selfsup's lead. The ratio of the fastest runs is then "
          "the better estimate for an idle machine.", ""]

L += ["## Results", "",
      "| configuration | views/s (median) | min–max | GFLOP/s at the median (est.) | peak RSS MiB (median) | other load (median) |",
      "|---|---|---|---|---|---|"]
for name, label in CONFIGS:
    lo, hi = span(name, "rate")
    gf = med(name, "gflops") if name.startswith("ours") else med(name, "rate") * flops_per_view / 1e9
    L.append("| %s | %.0f | %.0f–%.0f | %.1f | %.0f | %.0f%% |" % (
        label, med(name, "rate"), lo, hi, gf, med(name, "rss") / 1024, 100 * med(name, "other")))
L += ["", "GFLOP/s counts %.1f MFLOP per view (forward plus twice the forward for backward, as "
      "selfsup-pretrain's log computes it); the PyTorch column applies that count to its rate, "
      "an estimate." % (flops_per_view / 1e6), ""]

L += ["## Against the targets", "",
      "| measure | value | target | verdict |", "|---|---|---|---|",
      "| selfsup ÷ fastest PyTorch setting (%s), medians over rounds | %.2f× (per round %s) | ≥ 2× (minimum 1.5×) | %s |" % (
          "B=1" if best_torch_name == "torch1" else "B=2", ratio,
          ", ".join("%.2f" % r for r in round_ratios), ratio_verdict(ratio)),
      "| same, fastest run of each (least disturbed by load) | %.2f× (%.0f vs %.0f views/s) | ≥ 2× (minimum 1.5×) | %s |" % (
          best_ratio, best["ours2"], max(best["torch1"], best["torch2"]), ratio_verdict(best_ratio)),
      "| same, median over quiet rounds (other load ≤ %.0f%% in every run) | %s | ≥ 2× (minimum 1.5×) | %s |" % (
          100 * NOISY_SHARE,
          "%.2f× (%d of %d rounds)" % (quiet_ratio, len(quiet), rounds) if quiet else "no quiet round",
          ratio_verdict(quiet_ratio) if quiet else "not measured"),
      "| selfsup ÷ PyTorch with both pools at 2 | %.2f× | | |" % (ours / torch2),
      "| selfsup --threads 2 GFLOP/s vs nominal 200 GFLOP/s sgemm | %.1f (%.0f%%) | | |" % (
          ours_gflops, 100 * ours_gflops / SGEMM_NOMINAL),
      "| selfsup --threads 2 GFLOP/s vs measured 2-thread sgemm peak %.0f GFLOP/s | %.0f%% | | |" % (
          sgemm[2]["max"], 100 * ours_gflops / sgemm[2]["max"]),
      "| peak RSS, selfsup vs smaller PyTorch | %.0f MiB vs %.0f MiB | selfsup lower | %s |" % (
          ours_rss / 1024, torch_rss / 1024, "PASS" if ours_rss < torch_rss else "FAIL"),
      "| selfsup --threads 2 ÷ --threads 1 | %.2f× | | |" % (ours / med("ours1", "rate")), ""]

L += ["## sgemm peak of this machine", "",
      "numpy `a @ b` on float32 2048×2048 matrices (numpy links the system libblas, which is "
      "OpenBLAS here), one untimed call then 7 timed, once per round: 2·2048³ FLOP per call. "
      "The maximum is the peak; the median shows how much the load took away.", "",
      "| OPENBLAS_NUM_THREADS | calls | median GFLOP/s | max GFLOP/s |", "|---|---|---|---|"]
for t in (1, 2):
    L.append("| %d | %d | %.0f | %.0f |" % (t, sgemm[t]["calls"], sgemm[t]["median"], sgemm[t]["max"]))
L += ["", "## Per round", "",
      "views/s of each run (median of its steps after the warm-up), with the share of CPU time "
      "that other processes used during that run.", "",
      "| round | " + " | ".join(label for _, label in CONFIGS) + " | selfsup ÷ fastest PyTorch |",
      "|---|" + "---|" * (len(CONFIGS) + 1)]
for r in range(rounds):
    cells = ["%.0f (%.0f%%)" % (runs[name][r]["rate"], 100 * runs[name][r]["other"]) for name, _ in CONFIGS]
    L.append("| %d | %s | %.2f× |" % (r + 1, " | ".join(cells), round_ratios[r]))
L.append("")

L += ["## Where the time goes", ""]
if perf_groups:
    L += ["`perf record -g bin/selfsup-pretrain simclr -q --threads 1 --steps %d ...`, then "
          "`perf report --no-children --sort dso,symbol -g none`: self time per symbol, grouped. "
          "The profile covers the whole process, so it includes reading the views and writing "
          "the checkpoint, and it was taken under the load above." % perf_steps, "",
          "| group | share of samples |", "|---|---|"]
    for group, share in sorted(perf_groups.items(), key=lambda kv: -kv[1]):
        L.append("| %s | %.1f%% |" % (group, share))
    L += ["", "Top symbols:", "", "| share | symbol | object | group |", "|---|---|---|---|"]
    for share, symbol, dso, group in perf_top:
        L.append("| %.2f%% | `%s` | %s | %s |" % (share, symbol, dso, group))
    L.append("")
else:
    L += ["Not measured: `perf` was not found (Debian package linux-perf).", ""]

os.makedirs("docs", exist_ok=True)
with open("docs/pretrain-benchmark.md", "w") as f:
    f.write("\n".join(L))

print("selfsup --threads 2: %.0f views/s (%.1f GFLOP/s, %.0f%% of measured sgemm peak %.0f, %.0f%% of 200)"
      % (ours, ours_gflops, 100 * ours_gflops / sgemm[2]["max"], sgemm[2]["max"],
         100 * ours_gflops / SGEMM_NOMINAL))
print("PyTorch B=1: %.0f views/s, B=2: %.0f views/s; ratio of medians %.2f×: %s"
      % (torch1, torch2, ratio, ratio_verdict(ratio)))
print("fastest runs: ratio %.2f×: %s; quiet rounds: %s" % (
    best_ratio, ratio_verdict(best_ratio), "%.2f× over %d" % (quiet_ratio, len(quiet)) if quiet else "none"))
print("peak RSS: selfsup %.0f MiB, PyTorch %.0f MiB; selfsup --threads 1: %.0f views/s"
      % (ours_rss / 1024, torch_rss / 1024, med("ours1", "rate")))
print("other load %.0f%%; wrote docs/pretrain-benchmark.md" % (100 * other_share))
EOF
