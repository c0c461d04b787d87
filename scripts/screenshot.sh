#!/bin/sh
# Make docs/serve.png, the README's picture of a results page: an index of seeds/ in a temporary
# folder, search serve on a free port, and Debian's headless chromium taking the screenshot.
# Run from the repository root after the set-up (needs .venv and /usr/bin/chromium).
set -eu
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -rf "$work"' EXIT
.venv/bin/search index seeds --index "$work/index" 2>/dev/null
.venv/bin/search serve --index "$work/index" --port 0 2>"$work/serve.err" &
server=$!
for _ in $(seq 100); do grep -q 'Ctrl-C stops' "$work/serve.err" && break; sleep 0.2; done
url=$(grep -o 'http://[^ ]*' "$work/serve.err")
mkdir -p docs
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --user-data-dir="$work/profile" --hide-scrollbars \
    --window-size=900,640 --screenshot="$PWD/docs/serve.png" \
    "${url}?q=%D0%A0%D0%BE%D1%81%D0%BE%D0%B1%D0%BE%D1%80%D0%BE%D0%BD%D1%8D%D0%BA%D1%81%D0%BF%D0%BE%D1%80%D1%82%D0%B0&limit=4" \
    2>/dev/null
echo "wrote docs/serve.png" >&2
