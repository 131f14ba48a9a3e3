#!/usr/bin/env bash
# The benchmark command: gpt2lab against PyTorch/transformers and TransformerLens on the same
# random-weight GPT-2 124M checkpoint, in one run, printing times, ratios and limits.
#
#   scripts/bench.sh                       # all six workloads (~15-20 min on 2 idle cores)
#   scripts/bench.sh --wait-load           # first wait (up to 25 min) for a 1-min load < 0.8
#   scripts/bench.sh -- --workloads 1,2 --reps 7 --full --candle-threads 1,2
#                                          # after --: options of scripts/bench_reference.py
#
# Steps: the reference venv ($GPT2LAB_HOME/refvenv; created with the pinned packages below
# if missing, missing packages installed, differing versions reported) → the checkpoints
# ($GPT2LAB_HOME/bench, scripts/make_bench_checkpoint.py, if missing) → the Rust worker
# (`cargo bench --bench inference --no-run`) → scripts/bench_reference.py, which drives both
# sides interleaved. The table is also written to target/bench/inference-<date>.{txt,md,json}.
# Not part of `cargo test` or scripts/test.sh.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
export GPT2LAB_HOME="${GPT2LAB_HOME:-$HOME/.cache/gpt2lab}"
case ":$PATH:" in *":$HOME/.cargo/bin:"*) ;; *) export PATH="$HOME/.cargo/bin:$PATH" ;; esac
venv="${GPT2LAB_BENCH_VENV:-$GPT2LAB_HOME/refvenv}"
ckpt="$GPT2LAB_HOME/bench"
# The versions the README table was measured with (PyPI; torch's PyPI wheel, CPU use only).
PINS=(torch==2.15.0 transformers==5.24.0 safetensors==0.8.0 numpy==2.4.6 transformer_lens==4.3.0)

wait_load=0
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --wait-load) wait_load=1 ;;
    --) shift; extra=("$@"); break ;;
    -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown option $1 (options for the driver go after --)" >&2; exit 2 ;;
  esac
  shift
done

echo "== reference venv: $venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --upgrade pip >/dev/null
fi
missing=()
for pin in "${PINS[@]}"; do
  name="${pin%%==*}"
  want="${pin#*==}"
  have="$("$venv/bin/python" -c "import importlib.metadata as m, sys
try: print(m.version(sys.argv[1]))
except Exception: print('')" "$name")"
  if [ -z "$have" ]; then
    missing+=("$pin")
  elif [ "$have" != "$want" ]; then
    echo "   note: $name $have installed, the README table used $want"
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "   installing ${missing[*]}"
  "$venv/bin/pip" install "${missing[@]}"
fi

# Workload 6's reference, SAELens, pins transformer-lens < 4, which workload 4's TL 4.3 excludes:
# it gets its own venv, used only for that workload's Python worker.
sae_venv="${GPT2LAB_BENCH_SAE_VENV:-$GPT2LAB_HOME/saevenv}"
SAE_PINS=(torch==2.15.0 sae-lens==6.54.0 safetensors==0.8.0 numpy==2.4.6)
wants6=1
for ((i = 0; i < ${#extra[@]}; i++)); do
  if [ "${extra[$i]}" = "--workloads" ] && [[ ",${extra[$((i + 1))]:-}," != *,6,* ]]; then wants6=0; fi
done
if [ $wants6 = 1 ]; then
  echo "== SAELens venv: $sae_venv"
  if ! "$sae_venv/bin/python" -c "import sae_lens" 2>/dev/null; then
    [ -x "$sae_venv/bin/python" ] || python3 -m venv "$sae_venv"
    "$sae_venv/bin/pip" install "${SAE_PINS[@]}"
  fi
  extra+=(--sae-python "$sae_venv/bin/python")
fi

echo "== checkpoints: $ckpt"
"$venv/bin/python" scripts/make_bench_checkpoint.py --out "$ckpt"

echo "== building the gpt2lab worker (cargo bench --bench inference --no-run)"
bin="$(cargo bench --bench inference --no-run --message-format=json 2>/dev/null \
  | "$venv/bin/python" -c "import json, sys
exe = [m['executable'] for m in map(json.loads, sys.stdin) if m.get('reason') == 'compiler-artifact' and m.get('executable') and m['target']['name'] == 'inference']
print(exe[-1] if exe else '')")"
[ -n "$bin" ] || { echo "bench.sh: could not build benches/inference.rs (run cargo bench --bench inference --no-run)" >&2; exit 1; }
echo "   $bin"

if [ $wait_load = 1 ]; then
  for i in $(seq 1 50); do
    load="$(cut -d' ' -f1 /proc/loadavg)"
    if awk "BEGIN{exit !($load < 0.8)}"; then break; fi
    echo "   load average $load >= 0.8, waiting ($i/50, 30 s each)"
    sleep 30
  done
fi

out="target/bench"
mkdir -p "$out"
stamp="$(date +%Y%m%d-%H%M%S)"
"$venv/bin/python" scripts/bench_reference.py --rust-bin "$bin" --ckpt-dir "$ckpt" \
  --json "$out/inference-$stamp.json" --markdown "$out/inference-$stamp.md" "${extra[@]}" \
  | tee "$out/inference-$stamp.txt"
