#!/usr/bin/env bash
# The test command: the crate's tests (unit, integration, doc; including the runner's own test
# with deliberately broken notebooks), the vendored evcxr's unit tests, then every notebook
# headless at ci scale.
#
#   scripts/test.sh                 # needs scripts/setup.sh to have run once on the machine
#   GPT2LAB_SCALE=full scripts/test.sh   # notebooks at full scale (real GPT-2; slow)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
export GPT2LAB_HOME="${GPT2LAB_HOME:-$HOME/.cache/gpt2lab}"
case ":$PATH:" in *":$HOME/.cargo/bin:"*) ;; *) export PATH="$HOME/.cargo/bin:$PATH" ;; esac

t0=$SECONDS
echo "== cargo test (target dir: ${CARGO_TARGET_DIR:-target})"
cargo test
# the opt-in `parquet` feature (hub dataset shards): its own tests, and the data tests with it on
cargo test --features parquet --test parquet --test data
# the kernel's patched evcxr (vendor/evcxr): its unit tests, the patch's included, in the release
# target directory that setup.sh installed it from (so only the test harness compiles). Without
# CI in the environment, as setup.sh builds it: ra_ap_stdx's fingerprint tracks that variable,
# and a change rebuilds every rust-analyzer crate (~5 min).
(cd vendor/evcxr && env -u CI CARGO_TARGET_DIR="$GPT2LAB_HOME/evcxr-build" cargo test --release --locked -p evcxr --lib)
t1=$SECONDS
echo "== notebooks (scale ${GPT2LAB_SCALE:-ci})"
# two notebooks at once (two kernels, two build slots): overlaps their single-threaded
# compile/link phases on 2 cores
python3 scripts/run_notebooks.py --scale "${GPT2LAB_SCALE:-ci}" --jobs "${GPT2LAB_NOTEBOOK_JOBS:-2}"
t2=$SECONDS
echo "test.sh: cargo test $((t1 - t0))s, notebooks $((t2 - t1))s, total $((t2 - t0))s"
