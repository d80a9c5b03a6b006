#!/bin/sh
# Installs the Debian packages that building, testing and the main experiment
# need. As root it runs apt-get; otherwise it prints the apt-get line and
# fails. Extra package names may be given as arguments (make bench-deps).
set -u
packages="gcc make pkg-config libzstd-dev libpng-dev zlib1g-dev libopenblas-dev \
bats bats-support bats-assert python3 python3-numpy python3-zstandard zstd \
dataset-fashion-mnist gnuplot-nox $*"

missing=""
for p in $packages; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)
    case "$status" in
        *"install ok installed"*) ;;
        *) missing="$missing $p" ;;
    esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "selfsup: missing packages:$missing" >&2
    echo "Install them as root with:" >&2
    echo "  apt-get install -y$missing" >&2
    exit 1
fi
echo "selfsup: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -q --no-install-recommends $missing >/dev/null 2>&1; then
    apt-get update -q >/dev/null 2>&1
    apt-get install -y -q --no-install-recommends $missing >&2 || {
        echo "selfsup: apt-get install failed for:$missing" >&2
        exit 1
    }
fi
