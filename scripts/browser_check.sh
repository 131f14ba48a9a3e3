#!/usr/bin/env bash
# Real-browser check (not part of CI): serves JupyterLab on localhost, opens a notebook in
# headless Debian Chromium driven by playwright-core, runs all cells in the gpt2lab kernel,
# checks that the outputs rendered (an HTML table, an SVG chart, no error output) and writes
# screenshots to target/browser-check/ (it runs a copy of the notebook there, since JupyterLab
# autosaves outputs).
#
#   scripts/browser_check.sh [notebooks/00-tour.ipynb]
#
# Needs scripts/setup.sh first. Installs Debian's chromium (apt) and playwright-core (npm, into
# $GPT2LAB_HOME/browser-check) when missing.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
nb="${1:-notebooks/00-tour.ipynb}"
export GPT2LAB_HOME="${GPT2LAB_HOME:-$HOME/.cache/gpt2lab}"
venv="$GPT2LAB_HOME/venv"
tools="$GPT2LAB_HOME/browser-check"
out="$repo/target/browser-check"
port="${BROWSER_CHECK_PORT:-8899}"
token="gpt2lab-browser-check-$$"
PLAYWRIGHT_VERSION=1.65.1
mkdir -p "$tools" "$out"
[ -x "$venv/bin/jupyter" ] || { echo "run scripts/setup.sh first" >&2; exit 1; }

if [ ! -x /usr/bin/chromium ]; then
  echo "-> apt-get install chromium"
  sudo_=""; [ "$(id -u)" = 0 ] || sudo_=sudo
  $sudo_ apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq chromium >/dev/null
fi
if [ ! -f "$tools/node_modules/playwright-core/package.json" ] ||
   [ "$(node -p "require('$tools/node_modules/playwright-core/package.json').version")" != "$PLAYWRIGHT_VERSION" ]; then
  echo "-> npm install playwright-core@$PLAYWRIGHT_VERSION (in $tools)"
  (cd "$tools" && { [ -f package.json ] || echo '{"private": true}' >package.json; } &&
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund --silent "playwright-core@$PLAYWRIGHT_VERSION")
fi

# JupyterLab autosaves outputs into the notebook: open a copy, never the committed file.
cp "$repo/$nb" "$out/$(basename "$nb")"
rel="target/browser-check/$(basename "$nb")"

echo "-> jupyter lab on 127.0.0.1:$port (log: $out/jupyter.log)"
as_root=()
[ "$(id -u)" != 0 ] || as_root=(--allow-root)
"$venv/bin/jupyter" lab "${as_root[@]}" --no-browser --ip=127.0.0.1 --port="$port" --ServerApp.port_retries=0 \
  --IdentityProvider.token="$token" --ServerApp.root_dir="$repo" \
  --LabApp.expose_app_in_browser=True \
  --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate >"$out/jupyter.log" 2>&1 &
jpid=$!
trap 'kill "$jpid" 2>/dev/null || true; wait "$jpid" 2>/dev/null || true' EXIT
for _ in $(seq 60); do
  kill -0 "$jpid" 2>/dev/null || break
  curl -fsS "http://127.0.0.1:$port/api/status?token=$token" >/dev/null 2>&1 && break
  sleep 1
done
curl -fsS "http://127.0.0.1:$port/api/status?token=$token" >/dev/null || { tail -30 "$out/jupyter.log"; exit 1; }

NODE_PATH="$tools/node_modules" node "$repo/scripts/browser_check.mjs" \
  "http://127.0.0.1:$port/lab/tree/$rel?token=$token" "$out" "$tools/node_modules/playwright-core/index.mjs"
