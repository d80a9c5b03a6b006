#!/bin/sh
# Checks the pkg-config modules the build needs and names the Debian package
# that provides each missing one.
missing=""
for pair in libzstd:libzstd-dev libpng:libpng-dev zlib:zlib1g-dev openblas:libopenblas-dev; do
    mod=${pair%%:*}
    pkg=${pair#*:}
    if ! pkg-config --exists "$mod" 2>/dev/null; then
        missing="$missing $pkg"
    fi
done
if ! command -v pkg-config >/dev/null 2>&1; then
    missing="pkg-config$missing"
fi
if [ -n "$missing" ]; then
    echo "selfsup: missing build dependencies; install them with:" >&2
    echo "  apt-get install -y$missing" >&2
    echo "or run 'make deps' as root." >&2
    exit 1
fi
