#!/usr/bin/env bash
# Runs on the lent GPU machine (device tool), from the repository root, with `.gpubin` carried:
#   scripts/cuda_check.sh --device                  # here: the binaries, gzipped into .gpubin/
#   run(command="bash scripts/gpu_device_run.sh", carry=[".gpubin"], timeout_s=600)
# That machine has PyTorch, transformers and CUDA 13.0's libraries (torch's wheels) but no Rust.
# Writes into $OUT (at most 8 files come back): smi.txt, cuda_tests.txt, sanitizer.txt,
# log.txt, rust.jsonl, gpu_bench.jsonl, gpu_bench.md.
#   GPU_SANITIZE="prefill:f32:8x128"   also run that one configuration under compute-sanitizer
#   GPU_BREAKDOWN="train:bf16:8x1024"  also time these training configurations phase by phase
#                                      (gpt2lab only; breakdown.jsonl)
#   GPU_OPS=1                          also time a training step's parts op by op (ops.jsonl),
#                                      and list the profilers the machine has (tools.txt)
#   GPU_NCU="train:bf16:8x1024"        also profile one step of each with Nsight Compute (kernel
#                                      durations only), summarised by scripts/ncu_summary.py
#   GPU_AB="train:bf16:8x1024"         also time these configurations with .gpubin/gpu_bench_base.gz
#                                      (an earlier build) and gpu_bench, alternating, two
#                                      rounds each (ab.jsonl: each row tagged base/new, round)
#   GPU_TESTS=0                        skip tests/cuda.rs
#   GPU_BENCH=0                        skip the side-by-side run
#   GPU_BENCH_BUDGET=1                 skip its torch.compile row (run only while under N s)
set -o pipefail
OUT="${OUT:-/tmp/gpu_out}"; mkdir -p "$OUT" .gpubin/x
for f in gpu_bench gpu_bench_base cuda_tests; do
  [ -e ".gpubin/$f.gz" ] && gunzip -c ".gpubin/$f.gz" > ".gpubin/x/$f" && chmod +x ".gpubin/x/$f"
done
G=.gpubin/x/gpu_bench
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,memory.total --format=csv > "$OUT/smi.txt" 2>&1
NV="$(python3 -c 'import nvidia, os; print(list(nvidia.__path__)[0])')"
export LD_LIBRARY_PATH="$(find "$NV" -name 'lib*.so*' -printf '%h\n' | sort -u | tr '\n' ':')/usr/local/nvidia/lib64:${LD_LIBRARY_PATH:-}"
ldd "$G" | grep -E 'not found|cuda|cublas|curand' >> "$OUT/smi.txt"
if [ -x .gpubin/x/cuda_tests ] && [ "${GPU_TESTS:-1}" != 0 ]; then
  GPT2LAB_REQUIRE_CUDA=1 timeout 300 .gpubin/x/cuda_tests --test-threads 1 > "$OUT/cuda_tests.txt" 2>&1
  echo "cuda tests: rc $?" >> "$OUT/cuda_tests.txt"
fi
"$G" save /tmp/ck
if [ -n "${GPU_SANITIZE:-}" ]; then
  timeout 120 compute-sanitizer --tool memcheck --print-limit 4 "$G" run --ckpt /tmp/ck --out /tmp/s.jsonl \
    --only "$GPU_SANITIZE" --reps 1 --warm 0 2>&1 | grep -v '<unknown>' | head -80 > "$OUT/sanitizer.txt"
fi
if [ -n "${GPU_AB:-}" ] && [ -x .gpubin/x/gpu_bench_base ]; then
  for r in 1 2; do
    for side in base new; do
      bin="$G"; [ "$side" = base ] && bin=.gpubin/x/gpu_bench_base
      rm -f /tmp/ab.jsonl
      timeout 150 "$bin" run --ckpt /tmp/ck --out /tmp/ab.jsonl --only "$GPU_AB" --reps 10 --warm 3 > /dev/null 2>> "$OUT/ab.err"
      sed "s/^/{\"ab\":\"$side\",\"round\":$r,\"row\":/; s/\$/}/" /tmp/ab.jsonl >> "$OUT/ab.jsonl"
    done
  done
  grep -o '"ab":"[a-z]*","round":[0-9],"row":{[^{]*"ms":[0-9.]*' "$OUT/ab.jsonl"
fi
if [ -n "${GPU_BREAKDOWN:-}" ]; then
  timeout 120 "$G" run --ckpt /tmp/ck --out "$OUT/breakdown.jsonl" --only "$GPU_BREAKDOWN" --reps 5 --warm 2 --breakdown \
    > /dev/null 2> "$OUT/breakdown.err"
  grep -o '"prec[^}]*"breakdown_ms":{[^}]*}' "$OUT/breakdown.jsonl" 2>/dev/null
fi
if [ -n "${GPU_OPS:-}" ]; then
  { command -v nsys ncu nvprof; ls /usr/local/cuda*/bin 2>/dev/null | head -30; } > "$OUT/tools.txt" 2>&1
  timeout 240 "$G" ops > "$OUT/ops.jsonl" 2> "$OUT/ops.err"
  cat "$OUT/ops.jsonl"
fi
if [ -n "${GPU_NCU:-}" ]; then
  NCU="$(command -v ncu || echo /usr/local/cuda/bin/ncu)"
  for cfg in ${GPU_NCU//,/ }; do
    f="$OUT/ncu-${cfg//:/-}"
    timeout 130 "$NCU" --metrics gpu__time_duration.sum --csv --page raw --cache-control none --clock-control none \
      "$G" run --ckpt /tmp/ck --out /tmp/ncu.jsonl --only "$cfg" --reps 1 --warm 1 > "$f.csv" 2> "$f.err"
    python3 scripts/ncu_summary.py "$f.csv" --top 30 > "$f.txt" 2>&1; gzip -f "$f.csv"
    cat "$f.txt"
  done
fi
[ "${GPU_BENCH:-1}" = 0 ] && exit 0
PYTHONUNBUFFERED=1 timeout 420 python3 scripts/gpu_bench.py --rust "$G" --ckpt /tmp/ck --out "$OUT" --budget-s "${GPU_BENCH_BUDGET:-240}" 2>&1 \
  | grep -v 'Loading weights' > "$OUT/log.txt"
cat "$OUT/smi.txt"; tail -4 "$OUT/cuda_tests.txt" 2>/dev/null; grep -E '^==' "$OUT/log.txt"; cat "$OUT/gpu_bench.md"
