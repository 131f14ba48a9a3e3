#!/usr/bin/env bash
# gpt2lab Jupyter kernel launcher. Jupyter runs it as `launch.sh --control_file <file>` (see
# kernel.json); it sets up evcxr's environment and execs evcxr_jupyter.
#
# Environment it reads (all optional):
#   GPT2LAB_HOME    per-machine cache (default: kernel.json's GPT2LAB_HOME_DEFAULT, which
#                   Jupyter fills from ${HOME}, else $HOME/.cache/gpt2lab)
#   GPT2LAB_REPO    the gpt2lab checkout to load (default: the one setup.sh installed from,
#                   recorded in ./repo next to this script)
#   GPT2LAB_EVCXR_OPT  evcxr's :opt level for cell code (default 1; dependencies are always
#                   built with opt-level 3, see evcxr/cargo-config.toml)
#   GPT2LAB_EVCXR   the evcxr_jupyter binary (default: on PATH, else ~/.cargo/bin)
#   GPT2LAB_FEATURES  extra cargo features of gpt2lab, comma-separated (`parquet` for hub
#                   dataset shards at full scale, `cuda` on a GPU machine)
#
# Build directory: evcxr compiles the crate and its dependencies in EVCXR_TMPDIR. Keeping it
# in $GPT2LAB_HOME/evcxr/slot-N means candle & co. compile once per machine, not once per
# kernel. A slot is held (flock) for the kernel's lifetime, so two kernels running at once
# never share one; a new slot starts as a copy of an idle built slot so it is warm too.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
log() { echo "gpt2lab kernel: $*" >&2; }

home="${GPT2LAB_HOME:-}"
if [ -z "$home" ]; then
  home="${GPT2LAB_HOME_DEFAULT:-}"
  # a front end that does not substitute ${HOME} in kernel.json leaves it literal
  case "$home" in '' | *'${'*) home="$HOME/.cache/gpt2lab" ;; esac
fi
export GPT2LAB_HOME="$home"

repo="${GPT2LAB_REPO:-}"
if [ -z "$repo" ] && [ -f "$here/repo" ]; then repo="$(cat "$here/repo")"; fi
if [ -z "$repo" ] || [ ! -f "$repo/Cargo.toml" ]; then
  log "no gpt2lab checkout found (GPT2LAB_REPO='${GPT2LAB_REPO:-}', $here/repo); run scripts/setup.sh in the checkout"
  exit 1
fi
export GPT2LAB_REPO="$repo"
# the path as a TOML basic string's contents (the cargo config below, evcxr's :dep in init.evcxr)
repo_toml="${repo//\\/\\\\}"
repo_toml="${repo_toml//\"/\\\"}"

case ":$PATH:" in *":$HOME/.cargo/bin:"*) ;; *) export PATH="$HOME/.cargo/bin:$PATH" ;; esac
evcxr="${GPT2LAB_EVCXR:-$(command -v evcxr_jupyter || true)}"
if [ -z "$evcxr" ]; then
  log "evcxr_jupyter not found; run scripts/setup.sh"
  exit 1
fi

# Each cell is a shared library linked against the toolchain's libstd-*.so. Its RUNPATH is
# computed by rustc relative to target/.../deps, but evcxr loads a copy one directory up, so
# for a build directory under $HOME the relative path misses the toolchain (evcxr's default
# /tmp directory hides this). Point the loader at the toolchain explicitly.
libdir="$(rustc --print target-libdir)"
export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

base="$GPT2LAB_HOME/evcxr"
mkdir -p "$base/.cargo"
# Shared by every slot: replaced in one rename, so a kernel starting beside a running one
# never reads a half-written file.
cp "$here/evcxr/cargo-config.toml" "$base/.cargo/config.toml.$$"
# The checkout's vendored candle-core (vendor/README.md): its Cargo.toml [patch] applies only
# where gpt2lab is the root crate, so the kernel's crates get it from this config.
if [ -f "$repo/vendor/candle-core/Cargo.toml" ]; then
  printf '\n# written by launch.sh: the checkout'"'"'s vendored candle-core\n[patch.crates-io]\ncandle-core = { path = "%s/vendor/candle-core" }\n' \
    "$repo_toml" >> "$base/.cargo/config.toml.$$"
fi
mv -f "$base/.cargo/config.toml.$$" "$base/.cargo/config.toml"

# Fallback directories of kernels that have exited: their lock is free. (A kernel execs
# evcxr, so it cannot remove its own directory on exit; the next launch does.)
tmproot="${TMPDIR:-/tmp}"
for stale in "$tmproot"/gpt2lab-evcxr.*; do
  [ -d "$stale" ] || continue
  if [ -f "$stale/.lock" ]; then
    (exec 8<"$stale/.lock" && flock -n 8 && rm -rf "$stale") || true
  fi
done

# Take the first free slot; fd 9 keeps the lock until this kernel (and its children) exit.
slot=""
for i in 0 1 2 3 4 5 6 7; do
  cand="$base/slot-$i"
  mkdir -p "$cand"
  exec 9>"$cand/.lock"
  if flock -n 9; then slot="$cand"; break; fi
  exec 9>&-
done
if [ -z "$slot" ]; then
  log "all 8 build slots are busy; this kernel builds in a temporary directory (slow)"
  slot="$(mktemp -d "$tmproot/gpt2lab-evcxr.XXXXXX")"
  exec 9>"$slot/.lock"
  flock -n 9
fi
# A new slot starts as a copy of a built one, so it is warm. Only an idle slot (its lock
# free: no kernel building in it) is copied, under its lock; a leftover target.partial of an
# interrupted copy is removed first, or `cp` would nest the copy inside it.
rm -rf "$slot/target.partial"
if [ ! -d "$slot/target" ]; then
  for i in 0 1 2 3 4 5 6 7; do
    src="$base/slot-$i"
    [ "$src" != "$slot" ] && [ -d "$src/target" ] && [ -f "$src/.lock" ] || continue
    if (
      exec 8<"$src/.lock"
      flock -n 8 || exit 1
      log "seeding $slot from $src (copying built dependencies)"
      cp -a "$src/target" "$slot/target.partial"
    ); then
      mv "$slot/target.partial" "$slot/target"
      break
    fi
    rm -rf "$slot/target.partial"
  done
fi
export EVCXR_TMPDIR="$slot"
# Build the kernel's crate graph with the versions the checkout's tests use: evcxr's crate has
# no lockfile of its own, so seed it with the checkout's (cargo adds evcxr's root package).
if [ -f "$repo/Cargo.lock" ]; then cp "$repo/Cargo.lock" "$slot/Cargo.lock"; fi

# evcxr reads init.evcxr (commands) and prelude.rs (code) from EVCXR_CONFIG_DIR.
conf="$slot/config"
mkdir -p "$conf"
opt="${GPT2LAB_EVCXR_OPT:-1}"
init="$(cat "$here/evcxr/init.evcxr")"
init="${init//@REPO@/"$repo_toml"}"
init="${init//@OPT@/"$opt"}"
# extra cargo features of gpt2lab, comma-separated (e.g. GPT2LAB_FEATURES=parquet,cuda)
features=""
if [ -n "${GPT2LAB_FEATURES:-}" ]; then
  features=", features = [$(printf '%s' "$GPT2LAB_FEATURES" | tr -cd 'a-z0-9_,-' | sed 's/[^,][^,]*/"&"/g')]"
fi
init="${init//@FEATURES@/"$features"}"
printf '%s\n' "$init" >"$conf/init.evcxr"
cp "$here/evcxr/prelude.rs" "$conf/prelude.rs"
export EVCXR_CONFIG_DIR="$conf"

# Under the headless runner a failing cell aborts the worker on purpose: no core files.
if [ "${GPT2LAB_RUNNER:-}" = 1 ]; then ulimit -c 0; fi

exec "$evcxr" "$@"
