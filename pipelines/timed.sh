#!/bin/bash
# Usage: timed.sh FILE COMMAND [ARG]...
# Runs COMMAND and writes its wall-clock seconds to FILE, for the report's
# time-per-stage column. Exits with COMMAND's status.
set -u
out=$1
shift
start=$(date +%s.%N)
"$@"
status=$?
end=$(date +%s.%N)
if [ "$status" -eq 0 ]; then
    echo "$start $end" | awk '{ printf "%.2f\n", $2 - $1 }' > "$out"
fi
exit "$status"
