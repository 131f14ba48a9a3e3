#!/usr/bin/env bash
# Builds gpt2lab with candle's CUDA backend (`--features cuda`), on machines with or without
# a GPU and with or without a system CUDA toolkit. Not part of the test command (a cold build
# compiles candle's CUDA kernels with nvcc: ~15 min on 2 cores).
#
#   scripts/cuda_check.sh            # cargo check --features cuda --all-targets
#   scripts/cuda_check.sh --build    # also link the test binaries (needs libcudart, provided)
#   scripts/cuda_check.sh --test     # and run `tests/cuda.rs` (needs an NVIDIA GPU + driver)
#
# Toolkit: `nvcc` on PATH or $CUDA_HOME if present; otherwise NVIDIA's own PyPI wheels
# (nvcc, runtime headers and libcudart, CCCL), pinned below, in a venv under
# $GPT2LAB_HOME/cudatk. CUDA 13.4: the newest release cudarc 0.19 (candle 0.11's CUDA crate)
# knows. CUDA_COMPUTE_CAP defaults to 80 (A100; H100 = 90) when no GPU can be queried.
# The build goes to its own target dir ($GPT2LAB_HOME/target-cuda) so that the CPU build
# that CI and the notebooks use stays warm.
set -euo pipefail

CUDA_PIP=("nvidia-cuda-nvcc==13.4.92" "nvidia-cuda-runtime==13.4.92" "nvidia-cuda-crt==13.4.92"
          "nvidia-nvvm==13.4.92" "nvidia-cuda-cccl==13.3.5.0.6")

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export GPT2LAB_HOME="${GPT2LAB_HOME:-$HOME/.cache/gpt2lab}"
mode=check
for arg in "$@"; do
  case "$arg" in
    --build) mode=build ;;
    --test) mode=test ;;
    -h | --help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "cuda_check.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

if ! command -v nvcc >/dev/null && [ -z "${CUDA_HOME:-}" ]; then
  tk="$GPT2LAB_HOME/cudatk/v13"
  if [ ! -x "$tk/bin/python" ]; then
    echo "== CUDA toolkit from PyPI into $tk"
    python3 -m venv "$tk"
  fi
  site="$("$tk/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  if [ ! -x "$site/nvidia/cu13/bin/nvcc" ] || ! "$site/nvidia/cu13/bin/nvcc" --version | grep -q 'release 13.4'; then
    "$tk/bin/pip" install -q "${CUDA_PIP[@]}"
  fi
  export CUDA_HOME="$site/nvidia/cu13"
  # the linker wants the unversioned name
  [ -e "$CUDA_HOME/lib/libcudart.so" ] || ln -s libcudart.so.13 "$CUDA_HOME/lib/libcudart.so"
fi
if [ -n "${CUDA_HOME:-}" ]; then
  export PATH="$CUDA_HOME/bin:$PATH" NVCC="$CUDA_HOME/bin/nvcc"
  export LIBRARY_PATH="$CUDA_HOME/lib:$CUDA_HOME/lib64:${LIBRARY_PATH:-}"
  export LD_LIBRARY_PATH="$CUDA_HOME/lib:$CUDA_HOME/lib64:${LD_LIBRARY_PATH:-}"
fi
if [ -z "${CUDA_COMPUTE_CAP:-}" ]; then
  cap="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d . || true)"
  export CUDA_COMPUTE_CAP="${cap:-80}"
fi
export CARGO_TARGET_DIR="${CUDA_TARGET_DIR:-$GPT2LAB_HOME/target-cuda}"
echo "== nvcc: $(nvcc --version | tail -2 | head -1); CUDA_COMPUTE_CAP=$CUDA_COMPUTE_CAP; target $CARGO_TARGET_DIR"

cd "$repo"
case "$mode" in
  check) cargo check --features cuda --all-targets ;;
  build) cargo test --features cuda --no-run ;;
  test) cargo test --features cuda --test cuda -- --nocapture ;;
esac
echo "== cuda $mode: ok"
