#!/usr/bin/python3
"""Write docs/benchmarks.md from the JSON files of bench/timeit.py and print a summary.

The page opens with the machine and the versions, then gives one section per
benchmark: its commands, median and spread of the wall-clock time, throughput,
each peer's time relative to selfsup's, and pass or fail against the target.
Pass and fail use selfsup's median. Units are decimal (1 MB = 10^6 bytes).
Standard library only.

    report.py --notes bench/out/notes.txt -o docs/benchmarks.md bench/out/b*.json
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys


# Share of the machine's CPU time used by other processes above which a result is marked noisy.
NOISY_SHARE = 0.1


def command_output(args):
    """Return the first line of a command's output, or 'not found' when it cannot run."""
    try:
        proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    except OSError:
        return "not found"
    lines = proc.stdout.decode("utf-8", "replace").strip().splitlines()
    return lines[0].strip() if proc.returncode == 0 and lines else "not found"


def proc_field(path, key):
    """Return the value of the first 'key: value' line in a /proc file."""
    with open(path) as f:
        for line in f:
            name, _, value = line.partition(":")
            if name.strip() == key:
                return value.strip()
    return "unknown"


def machine_rows():
    mem_kib = proc_field("/proc/meminfo", "MemTotal").split()[0]
    numpy = command_output(["/usr/bin/python3", "-c", "import numpy; print(numpy.__version__)"])
    commit = command_output(["git", "rev-parse", "--short", "HEAD"])
    dirty = command_output(["git", "status", "--porcelain", "--untracked-files=no"])
    return [
        ("Date (UTC)", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")),
        ("CPU", proc_field("/proc/cpuinfo", "model name")),
        ("Cores (online)", str(os.cpu_count())),
        ("Memory", "%.1f GiB" % (int(mem_kib) / 2**20)),
        ("Kernel", platform.release()),
        ("selfsup", "%s, commit %s%s" % (command_output(["bin/selfsup-tsf", "--version"]), commit,
                                         "" if dirty == "not found" else " with local changes")),
        ("Compiler", command_output(["cc", "--version"])),
        ("libzstd", command_output(["pkg-config", "--modversion", "libzstd"])),
        ("zstd CLI", command_output(["zstd", "--version"]).strip("* ")),
        ("Python", "/usr/bin/python3 " + platform.python_version()),
        ("numpy", numpy),
    ]


def rate_text(rate):
    if rate >= 1e9:
        return "%.2f GB/s" % (rate / 1e9)
    return "%.0f MB/s" % (rate / 1e6)


def seconds_text(seconds):
    return "%.3f" % seconds if seconds < 10 else "%.1f" % seconds


def verdict(bench):
    """Return (passed, text) for selfsup's median against the target, or (None, '') without one."""
    ours = bench["commands"][0]
    if bench["target_rate"]:
        rate = bench["bytes"] / ours["median"]
        passed = rate >= bench["target_rate"]
        return passed, "target ≥ %s: %s is %.2f× the target, %s" % (
            rate_text(bench["target_rate"]), rate_text(rate), rate / bench["target_rate"],
            "PASS" if passed else "FAIL")
    if bench["target_time"]:
        passed = ours["median"] < bench["target_time"]
        return passed, "target < %s s: median %s s is %.2f× the target, %s" % (
            seconds_text(bench["target_time"]), seconds_text(ours["median"]),
            ours["median"] / bench["target_time"], "PASS" if passed else "FAIL")
    return None, "no target (informative)"


def section(bench):
    ours = bench["commands"][0]
    lines = ["## %s" % bench["title"], ""]

    facts = ["%d recorded rounds after %d warm-up round(s), commands alternated in each round"
             % (bench["reps"], bench["warmup"]),
             "other processes used %.0f%% of the CPU time of the %d cores meanwhile "
             "(1-minute load average %.2f before, %.2f after)"
             % (100 * bench["other_cpu_share"], bench["cpus"], bench["load_before"],
                bench["load_after"])]
    if bench["bytes"]:
        facts.append("input %.1f MB per run" % (bench["bytes"] / 1e6))
    if bench["records"]:
        facts.append("%d records" % bench["records"])
    lines += [", ".join(facts) + ".", ""]
    if bench["other_cpu_share"] > NOISY_SHARE:
        lines += ["Other processes competed for the CPU during this benchmark, so its times are "
                  "likely slower than on an idle machine.", ""]

    head = "| | command | median s | min–max s | IQR s | CPU s (median) |"
    rule = "|---|---|---|---|---|---|"
    if bench["bytes"]:
        head += " throughput (median) |"
        rule += "---|"
    if bench["records"]:
        head += " records/s |"
        rule += "---|"
    head += " time ÷ selfsup's |"
    rule += "---|"
    lines += [head, rule]

    for entry in bench["commands"]:
        row = "| %s | `%s` | %s | %s–%s | %s–%s | %s |" % (
            entry["label"], entry["command"].replace("|", "\\|"), seconds_text(entry["median"]),
            seconds_text(entry["min"]), seconds_text(entry["max"]),
            seconds_text(entry["q1"]), seconds_text(entry["q3"]),
            seconds_text(entry["cpu_median"]))
        if bench["bytes"]:
            row += " %s |" % rate_text(bench["bytes"] / entry["median"])
        if bench["records"]:
            row += " %.0f |" % (bench["records"] / entry["median"])
        row += " %.2f |" % (entry["median"] / ours["median"])
        lines.append(row)
    lines += ["", "Result: " + verdict(bench)[1] + ".", ""]
    return lines


def summary_line(bench):
    ours = bench["commands"][0]
    speed = (rate_text(bench["bytes"] / ours["median"]) if bench["bytes"]
             else "%s s" % seconds_text(ours["median"]))
    peers = ", ".join("%s %.2f×" % (e["label"], e["median"] / ours["median"])
                      for e in bench["commands"][1:])
    noisy = bench["other_cpu_share"] > NOISY_SHARE
    return "%-9s %11s  %s%s%s" % (bench["name"], speed, verdict(bench)[1],
                                  "  (peer time ÷ ours: %s)" % peers if peers else "",
                                  "  [other load %.0f%%]" % (100 * bench["other_cpu_share"])
                                  if noisy else "")


def main(argv):
    p = argparse.ArgumentParser(description="Write the benchmark page from timeit.py results.")
    p.add_argument("results", nargs="+", help="JSON files of bench/timeit.py, in page order")
    p.add_argument("--notes", help="text file of lines for the Inputs section")
    p.add_argument("-o", "--output", required=True, help="Markdown file to write")
    args = p.parse_args(argv)

    benches = []
    for path in args.results:
        with open(path) as f:
            benches.append(json.load(f))
    notes = []
    if args.notes and os.path.exists(args.notes):
        with open(args.notes) as f:
            notes = [line.rstrip("\n") for line in f if line.strip()]

    lines = ["# Benchmarks", "",
             "Generated by `make bench` (bench/run.sh); do not edit by hand. Each benchmark times "
             "selfsup's command and its peers in alternation within one run, on inputs in "
             "`bench/out/` that run.sh generates. Times are wall-clock seconds from "
             "`time.perf_counter` around `bash -c COMMAND`, so they include process start-up. "
             "Throughput is input bytes divided by the median time; 1 MB = 10^6 bytes. "
             "CPU s is user plus system time of all processes of the command, which other load on "
             "the machine changes less than wall-clock time. "
             "Pass or fail uses selfsup's median. The last column is each command's median "
             "divided by selfsup's median: above 1 means slower than selfsup.", "",
             "## Machine", "", "| | |", "|---|---|"]
    lines += ["| %s | %s |" % row for row in machine_rows()]
    if notes:
        lines += ["", "## Inputs", ""] + ["- " + note for note in notes]
    lines.append("")
    for bench in benches:
        lines += section(bench)
    with open(args.output, "w") as f:
        f.write("\n".join(lines).rstrip("\n") + "\n")

    failed = 0
    for bench in benches:
        print(summary_line(bench))
        failed += verdict(bench)[0] is False
    print("wrote %s; %d of %d targets missed" % (args.output, failed,
          sum(verdict(b)[0] is not None for b in benches)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
