#!/usr/bin/env bash
# Builds gpt2lab with candle's CUDA backend (`--features cuda`), on machines with or without
# a GPU and with or without a system CUDA toolkit. Not part of the test command (a cold build
# compiles candle's CUDA kernels with nvcc: ~15 min on 2 cores).
#
#   scripts/cuda_check.sh            # cargo check --features cuda --all-targets
#   scripts/cuda_check.sh --build    # also link the test binaries (needs libcudart, provided)
#   scripts/cuda_check.sh --test     # and run `tests/cuda.rs` (needs an NVIDIA GPU + driver)
#   scripts/cuda_check.sh --device   # portable binaries for another machine's GPU, gzipped into
#                                    # .gpubin/: examples/gpu_bench and tests/cuda.rs (see
#                                    # scripts/gpu_device_run.sh, README Benchmarks, GPU)
#
# Toolkit: `nvcc` on PATH or $CUDA_HOME if present; otherwise NVIDIA's own PyPI wheels
# (nvcc, runtime headers and libcudart, CCCL, and cuBLAS/cuRAND/NVRTC to link against), pinned
# below, in a venv under $GPT2LAB_HOME/cudatk. CUDA 13.0: the version of the driver (580) and of
# PyTorch's CUDA libraries (torch 2.11+cu130) on the GPU machine this project is lent; a binary
# linked against 13.x runs with those libraries, and kernels built by a newer nvcc need a newer
# driver. candle links libcuda (the driver) at build time: where no driver is installed, a stub
# with the driver API's symbols (from cudarc's bindings) stands in for linking only; the real
# libcuda.so.1 is loaded at run time. CUDA_COMPUTE_CAP defaults to 90 (H100/H200; A100 = 80)
# when no GPU can be queried.
# The build goes to its own target dir ($GPT2LAB_HOME/target-cuda) so that the CPU build
# that CI and the notebooks use stays warm.
set -euo pipefail

CUDA_PIP=("nvidia-cuda-nvcc==13.0.88" "nvidia-cuda-runtime==13.0.96" "nvidia-cuda-crt==13.0.88"
          "nvidia-nvvm==13.0.88" "nvidia-cuda-cccl==13.0.85" "nvidia-cublas==13.0.2.14"
          "nvidia-curand==10.4.0.35" "nvidia-cuda-nvrtc==13.0.88")

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export GPT2LAB_HOME="${GPT2LAB_HOME:-$HOME/.cache/gpt2lab}"
mode=check
for arg in "$@"; do
  case "$arg" in
    --build) mode=build ;;
    --test) mode=test ;;
    --device) mode=device ;;
    -h | --help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "cuda_check.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

if ! command -v nvcc >/dev/null && [ -z "${CUDA_HOME:-}" ]; then
  tk="$GPT2LAB_HOME/cudatk/v130"
  if [ ! -x "$tk/bin/python" ]; then
    echo "== CUDA toolkit from PyPI into $tk"
    python3 -m venv "$tk"
  fi
  site="$("$tk/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  if [ ! -e "$site/nvidia/cu13/lib/libcublas.so.13" ] || ! "$site/nvidia/cu13/bin/nvcc" --version | grep -q 'release 13.0'; then
    "$tk/bin/pip" install -q "${CUDA_PIP[@]}"
  fi
  export CUDA_HOME="$site/nvidia/cu13"
  # the linker wants the unversioned names
  for l in cudart cublas cublasLt nvrtc; do [ -e "$CUDA_HOME/lib/lib$l.so" ] || ln -s "lib$l.so.13" "$CUDA_HOME/lib/lib$l.so"; done
  [ -e "$CUDA_HOME/lib/libcurand.so" ] || ln -s libcurand.so.10 "$CUDA_HOME/lib/libcurand.so"
  export CUDARC_CUDA_VERSION=13000
fi
if ! ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1' && [ -n "${CUDA_HOME:-}" ]; then
  # no driver here: a link-time stub of libcuda (every driver-API function cudarc declares)
  stub="$CUDA_HOME/lib/stubs"
  if [ ! -e "$stub/libcuda.so" ]; then
    mkdir -p "$stub"
    # cudarc's sources (the driver API it declares) are in cargo's registry once fetched
    ls -d "$HOME"/.cargo/registry/src/*/cudarc-0.19.* >/dev/null 2>&1 || (cd "$repo" && cargo fetch -q)
    reg="$(ls -d "$HOME"/.cargo/registry/src/*/cudarc-0.19.* | tail -1)"
    grep -oP '^\s+fn \Kcu[A-Za-z0-9_]+(?=\()' "$reg/src/driver/sys/mod.rs" | sort -u \
      | awk '{print "int " $1 "(void){return 999;}"}' > "$stub/libcuda_stub.c"
    cc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$stub/libcuda.so" "$stub/libcuda_stub.c"
  fi
  export LIBRARY_PATH="$stub:${LIBRARY_PATH:-}"
fi
if [ -n "${CUDA_HOME:-}" ]; then
  export PATH="$CUDA_HOME/bin:$PATH" NVCC="$CUDA_HOME/bin/nvcc"
  export LIBRARY_PATH="$CUDA_HOME/lib:$CUDA_HOME/lib64:${LIBRARY_PATH:-}"
  export LD_LIBRARY_PATH="$CUDA_HOME/lib:$CUDA_HOME/lib64:${LD_LIBRARY_PATH:-}"
fi
if [ -z "${CUDA_COMPUTE_CAP:-}" ]; then
  cap="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d . || true)"
  export CUDA_COMPUTE_CAP="${cap:-90}"
fi
export CARGO_TARGET_DIR="${CUDA_TARGET_DIR:-$GPT2LAB_HOME/target-cuda}"
echo "== nvcc: $(nvcc --version | tail -2 | head -1); CUDA_COMPUTE_CAP=$CUDA_COMPUTE_CAP; target $CARGO_TARGET_DIR"

cd "$repo"
case "$mode" in
  check) cargo check --features cuda --all-targets ;;
  build) cargo test --features cuda --no-run ;;
  test) cargo test --features cuda --test cuda -- --nocapture ;;
  device)
    # portable CPU code (the GPU machine's processor is not this one), no debug info, stripped:
    # both binaries gzipped fit the device tool's 64 MiB working-tree limit with the repository
    export CARGO_TARGET_DIR="${CUDA_TARGET_DIR:-$GPT2LAB_HOME/target-cuda-portable}"
    export RUSTFLAGS="-C target-cpu=x86-64-v3" CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_STRIP=true
    cargo build --release --features cuda --example gpu_bench
    t="$(cargo test --release --features cuda --test cuda --no-run --message-format=json 2>/dev/null \
         | python3 -c 'import json,sys; print([j["executable"] for j in map(json.loads, sys.stdin) if j.get("executable") and j["target"]["name"] == "cuda"][0])')"
    mkdir -p .gpubin
    gzip -6 -c "$CARGO_TARGET_DIR/release/examples/gpu_bench" > .gpubin/gpu_bench.gz
    gzip -6 -c "$t" > .gpubin/cuda_tests.gz
    ls -la .gpubin
    ex="$(git rev-parse --git-path info/exclude)"  # a worktree's .git is a file
    mkdir -p "$(dirname "$ex")"
    grep -qx '/.gpubin/' "$ex" 2>/dev/null || echo '/.gpubin/' >> "$ex"
    ;;
esac
echo "== cuda $mode: ok"
