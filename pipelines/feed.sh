#!/bin/bash
# Usage: feed.sh "PRODUCER COMMAND" "CONSUMER COMMAND"
# Runs PRODUCER | CONSUMER. The consumer's status decides; the producer may
# also end by SIGPIPE (status 141) when the consumer stops first, for
# instance when training reaches --steps before the views run out.
set -u
bash -c "$1" | bash -c "$2"
status=("${PIPESTATUS[@]}")
if [ "${status[1]}" -ne 0 ]; then
    exit "${status[1]}"
fi
if [ "${status[0]}" -ne 0 ] && [ "${status[0]}" -ne 141 ]; then
    echo "feed.sh: the producer failed with status ${status[0]}: $1" >&2
    exit "${status[0]}"
fi
exit 0
