#!/usr/bin/env bash
# One-command set-up of a machine for gpt2lab notebooks. Idempotent: every step checks what is
# already there, says what it does, and skips what is done.
#
#   scripts/setup.sh              # everything
#   scripts/setup.sh --no-prebuild   # skip compiling the library for the kernel (~11 min cold)
#   scripts/setup.sh --no-apt        # skip Debian packages (no root)
#
# Steps: toolchain checks → Debian packages (bible-kjv-text for the data module) →
# evcxr_jupyter 0.22.0 with gpt2lab's patch (vendor/evcxr; cargo install --locked --path, ~7 min
# on 2 cores, only if missing or another patch level) →
# Python venv with pinned JupyterLab/nbclient/nbconvert ($GPT2LAB_HOME/venv) → the gpt2lab
# kernelspec (jupyter kernelspec install --user) → a one-cell notebook through the kernel so
# that evcxr's build directory ($GPT2LAB_HOME/evcxr/slot-0) holds the compiled library.
#
# GPT2LAB_HOME (default ~/.cache/gpt2lab) is the per-machine cache: venv, evcxr build
# directories, logs, and cargo's target directory for CI.
set -euo pipefail

EVCXR_VERSION=0.22.0
MIN_RUST=1.85

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
EVCXR_PATCH="$(cat "$repo/vendor/evcxr/patch-id")"
export GPT2LAB_HOME="${GPT2LAB_HOME:-$HOME/.cache/gpt2lab}"
venv="$GPT2LAB_HOME/venv"
logs="$GPT2LAB_HOME/logs"
mkdir -p "$GPT2LAB_HOME" "$logs"
case ":$PATH:" in *":$HOME/.cargo/bin:"*) ;; *) export PATH="$HOME/.cargo/bin:$PATH" ;; esac

prebuild=1
apt=1
for arg in "$@"; do
  case "$arg" in
    --no-prebuild) prebuild=0 ;;
    --no-apt) apt=0 ;;
    -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

step() { printf '\n== %s\n' "$*"; }
ok() { printf '   ok: %s\n' "$*"; }
doing() { printf '   -> %s\n' "$*"; }
die() { printf 'setup.sh: %s\n' "$*" >&2; exit 1; }
ver_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -1)" = "$2" ]; }
t_start=$SECONDS

step "toolchain"
command -v cargo >/dev/null || die "cargo not found: install Rust with rustup (https://rustup.rs), then rerun"
rust_ver="$(rustc --version | awk '{print $2}')"
ver_ge "$rust_ver" "$MIN_RUST" || die "rustc $rust_ver is older than $MIN_RUST (rustup update)"
ok "rustc $rust_ver, $(cargo --version)"
command -v python3 >/dev/null || die "python3 not found (apt-get install python3 python3-venv)"
py_ver="$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
ver_ge "$py_ver" 3.9 || die "python3 $py_ver is older than 3.9"
python3 -c 'import venv, ensurepip' 2>/dev/null || die "python3 has no venv/ensurepip (apt-get install python3-venv)"
ok "python3 $py_ver"
command -v flock >/dev/null || die "flock not found (apt-get install util-linux)"
command -v cc >/dev/null || die "no C compiler/linker (apt-get install build-essential)"
ok "flock, cc"

step "Debian packages"
need_pkgs=()
for p in bible-kjv-text; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then ok "$p installed"; else need_pkgs+=("$p"); fi
done
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  if [ "$apt" = 0 ]; then
    echo "   skipped (--no-apt): ${need_pkgs[*]} (the data module's offline corpora need them)"
  elif ! command -v apt-get >/dev/null; then
    echo "   warning: no apt-get; install ${need_pkgs[*]} by hand (the data module's offline corpora need them)"
  else
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    doing "apt-get install ${need_pkgs[*]}"
    $sudo apt-get update -qq >"$logs/apt.log" 2>&1 || { tail -20 "$logs/apt.log"; die "apt-get update failed"; }
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_pkgs[@]}" >>"$logs/apt.log" 2>&1 \
      || { tail -20 "$logs/apt.log"; die "apt-get install failed"; }
    ok "installed ${need_pkgs[*]}"
  fi
fi

step "evcxr_jupyter $EVCXR_VERSION, gpt2lab's patch $EVCXR_PATCH (vendor/evcxr)"
# The kernel is evcxr_jupyter built from vendor/evcxr: evcxr 0.22.0 with a patch that keeps
# rust-analyzer off the critical path of kernel start (vendor/evcxr/README.md). The installed
# binary reports the patch it was built from; any other evcxr_jupyter is replaced.
have_patch="$("$HOME/.cargo/bin/evcxr_jupyter" --gpt2lab-patch 2>/dev/null || true)"
if [ "$have_patch" = "$EVCXR_PATCH" ]; then
  ok "already installed ($HOME/.cargo/bin/evcxr_jupyter, patch $have_patch)"
else
  doing "cargo install --locked --path vendor/evcxr/evcxr_jupyter (about 7 minutes on 2 cores cold; log: $logs/evcxr_install.log)"
  t=$SECONDS
  # its own target directory, kept, so that a new patch level rebuilds only evcxr itself; built
  # without CI in the environment, as test.sh tests it (ra_ap_stdx's fingerprint tracks CI)
  env -u CI CARGO_TARGET_DIR="$GPT2LAB_HOME/evcxr-build" \
    cargo install --locked --force --path "$repo/vendor/evcxr/evcxr_jupyter" >"$logs/evcxr_install.log" 2>&1 \
    || { tail -30 "$logs/evcxr_install.log"; die "cargo install of vendor/evcxr/evcxr_jupyter failed"; }
  have_patch="$("$HOME/.cargo/bin/evcxr_jupyter" --gpt2lab-patch 2>/dev/null || true)"
  [ "$have_patch" = "$EVCXR_PATCH" ] || die "the installed evcxr_jupyter reports patch '$have_patch', not '$EVCXR_PATCH'"
  ok "installed in $((SECONDS - t))s"
fi

step "Python venv ($venv)"
req="$repo/scripts/requirements-notebooks.txt"
stamp="$venv/.gpt2lab-requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  ok "up to date with scripts/requirements-notebooks.txt"
else
  if [ ! -x "$venv/bin/python" ]; then
    doing "python3 -m venv $venv"
    python3 -m venv "$venv"
  fi
  doing "pip install -r scripts/requirements-notebooks.txt (pinned; log: $logs/pip.log)"
  "$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$req" >"$logs/pip.log" 2>&1 \
    || { tail -30 "$logs/pip.log"; die "pip install failed"; }
  echo "$want" >"$stamp"
  ok "$("$venv/bin/python" -c 'import jupyterlab, nbclient, nbconvert; print("jupyterlab", jupyterlab.__version__, "nbclient", nbclient.__version__, "nbconvert", nbconvert.__version__)')"
fi

step "gpt2lab kernel"
stage="$GPT2LAB_HOME/kernelspec/gpt2lab"
rm -rf "$stage"
mkdir -p "$stage"
cp -a "$repo/kernelspec/gpt2lab/." "$stage/"
printf '%s\n' "$repo" >"$stage/repo"
chmod +x "$stage/launch.sh"
installed="$("$venv/bin/jupyter" kernelspec list --json | "$venv/bin/python" -c 'import json,sys; k=json.load(sys.stdin)["kernelspecs"].get("gpt2lab"); print(k["resource_dir"] if k else "")')"
if [ -n "$installed" ] && diff -rq "$stage" "$installed" >/dev/null 2>&1; then
  ok "installed at $installed (loads $repo)"
else
  doing "jupyter kernelspec install --user --name gpt2lab (loads $repo)"
  "$venv/bin/jupyter" kernelspec install --user --name gpt2lab "$stage" >"$logs/kernelspec.log" 2>&1 \
    || { cat "$logs/kernelspec.log"; die "kernelspec install failed"; }
  ok "$(tail -1 "$logs/kernelspec.log")"
fi
if [ -d "$HOME/.local/share/jupyter/kernels/rust" ]; then
  echo "   note: a plain evcxr 'rust' kernel is also installed; notebooks here use 'gpt2lab'"
fi

step "library prebuilt for the kernel ($GPT2LAB_HOME/evcxr)"
if [ "$prebuild" = 0 ]; then
  echo "   skipped (--no-prebuild): the first notebook will compile it (~11 min cold)"
else
  doing "one-cell notebook through the gpt2lab kernel (cold: ~11 min on 2 cores; warm: ~30 s)"
  "$venv/bin/python" "$repo/scripts/run_notebooks.py" --prebuild || die "the kernel could not build or run gpt2lab"
fi

printf '\nset-up done in %ss. Next:\n' "$((SECONDS - t_start))"
echo "  $venv/bin/jupyter lab $repo/notebooks      # pick the 'gpt2lab (Rust)' kernel"
echo "  scripts/run_notebooks.py notebooks/00-tour.ipynb   # headless"
echo "  scripts/test.sh                                 # the test command"
