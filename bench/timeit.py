#!/usr/bin/python3
"""Time shell commands in alternation and print the results as JSON.

Each round runs every command once, in the order given (A B C A B C ...), so
slow drift of the machine (frequency, cache, other load) hits all commands
alike. The first --warmup rounds are run but not recorded; they fill the page
cache. A command runs under `bash -o pipefail -c`, so a failing stage of a
pipeline fails the benchmark. Its stdout is discarded and its stderr is kept
for the error message. Besides wall-clock time it records CPU time (user plus
system, of the command and every process it waited for), which other load on
the machine changes less. It also records the share of the machine's CPU time
that other processes used during the benchmark. Standard library only.

The JSON also carries what bench/report.py needs to format the result: title,
input size, record count and target. The first command is selfsup's; the
others are peers.

    timeit.py -n 7 --title 'tsf cat' --bytes 308000000 --target-rate 2e9 \\
        -c selfsup 'bin/selfsup-tsf cat < big.tsf > /dev/null' \\
        -c cat 'cat big.tsf > /dev/null'
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time


def cpu_seconds_of_children():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def busy_cpu_seconds():
    """Return the CPU seconds that all processes on the machine have used since boot."""
    with open("/proc/stat") as f:
        fields = f.readline().split()
    # cpu user nice system idle iowait irq softirq steal ...: all but idle and iowait are busy.
    ticks = [int(x) for x in fields[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def run_once(command):
    """Run command once and return (wall-clock seconds, CPU seconds); exit on failure."""
    cpu_start = cpu_seconds_of_children()
    start = time.perf_counter()
    proc = subprocess.run(["/bin/bash", "-o", "pipefail", "-c", command],
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    cpu = cpu_seconds_of_children() - cpu_start
    if proc.returncode != 0:
        detail = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        sys.exit("timeit.py: command failed with status %d: %s%s"
                 % (proc.returncode, command, ": " + detail[-1] if detail else ""))
    return elapsed, cpu


def summarize(times):
    """Return median, min, max and quartiles of a list of seconds."""
    q1, _, q3 = statistics.quantiles(times, n=4, method="inclusive")
    return {"median": statistics.median(times), "min": min(times), "max": max(times),
            "q1": q1, "q3": q3}


def parse_args(argv):
    p = argparse.ArgumentParser(description="Time shell commands in alternation (A B A B ...) "
                                "and print JSON with per-command times and statistics.")
    p.add_argument("-c", "--command", nargs=2, action="append", required=True,
                   metavar=("LABEL", "COMMAND"),
                   help="a command to time and its label; the first is selfsup's, "
                   "the others are peers")
    p.add_argument("-n", "--reps", type=int, default=7,
                   help="recorded rounds, at least 5 (default 7)")
    p.add_argument("--warmup", type=int, default=1,
                   help="rounds run before recording, for the page cache (default 1)")
    p.add_argument("--name", default="", help="short id of the benchmark")
    p.add_argument("--title", default="", help="one-line description for the report")
    p.add_argument("--bytes", type=int, default=0,
                   help="bytes of input per run, for throughput (default 0: none)")
    p.add_argument("--records", type=int, default=0, help="records per run (default 0: none)")
    target = p.add_mutually_exclusive_group()
    target.add_argument("--target-rate", type=float,
                        help="pass when selfsup's median throughput is at least this, in bytes/s")
    target.add_argument("--target-time", type=float,
                        help="pass when selfsup's median time is below this, in seconds")
    p.add_argument("-o", "--output", help="write the JSON here (default: standard output)")
    args = p.parse_args(argv)
    if args.reps < 5 or args.warmup < 0:
        p.error("--reps must be at least 5 and --warmup at least 0")
    if args.target_rate is not None and args.bytes <= 0:
        p.error("--target-rate needs --bytes")
    return args


def main(argv):
    args = parse_args(argv)
    commands = [{"label": label, "command": command, "times": [], "cpu_times": []}
                for label, command in args.command]
    load_before = os.getloadavg()[0]
    busy_start, ours_start, wall_start = busy_cpu_seconds(), cpu_seconds_of_children(), time.perf_counter()
    for round_index in range(args.warmup + args.reps):
        for entry in commands:
            elapsed, cpu = run_once(entry["command"])
            if round_index >= args.warmup:
                entry["times"].append(elapsed)
                entry["cpu_times"].append(cpu)
    wall = time.perf_counter() - wall_start
    others = busy_cpu_seconds() - busy_start - (cpu_seconds_of_children() - ours_start)
    for entry in commands:
        entry.update(summarize(entry["times"]))
        entry["cpu_median"] = statistics.median(entry["cpu_times"])
    result = {"name": args.name, "title": args.title, "reps": args.reps,
              "warmup": args.warmup, "bytes": args.bytes, "records": args.records,
              "target_rate": args.target_rate, "target_time": args.target_time,
              "load_before": load_before, "load_after": os.getloadavg()[0],
              "other_cpu_share": max(0.0, others) / (wall * os.cpu_count()),
              "cpus": os.cpu_count(), "commands": commands}
    text = json.dumps(result, indent=1) + "\n"
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
