#!/usr/bin/env bash
# Screenshot an HTML report with headless Chromium, for a look by eye:
#   scripts/screenshot_report.sh REPORT.html OUT.png [WIDTH [HEIGHT]]
# (make one with `bench report RUN --html REPORT.html`). Needs `chromium` (Debian) or
# `chromium-browser` / `google-chrome` on PATH, or CHROMIUM=/path/to/binary.
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: $0 REPORT.html OUT.png [WIDTH [HEIGHT]]" >&2
    exit 2
fi
report=$(realpath "$1")
out=$(realpath -m "$2")
width=${3:-1400}
height=${4:-4000}
browser=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)}
if [ -z "$browser" ]; then
    echo "error: no chromium found (apt-get install chromium, or set CHROMIUM=...)" >&2
    exit 1
fi
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --hide-scrollbars --user-data-dir="$profile" --window-size="$width,$height" \
    --screenshot="$out" "file://$report" 2>/dev/null
echo "wrote $out"
