#!/usr/bin/env bash
# Measures Bottleneck against the PyTorch reference side by side on this machine: alternating
# rounds (so both see the same background load), then the median of each and their ratio for
# the dense AE, the VAE and the conv AE.
#   pip install torch numpy && cargo build --release && bench/compare.sh [ROUNDS] [MODELS] [THREADS]
# MODELS is a comma-separated subset of dense,vae,conv (default: all three). THREADS (default:
# the number of CPUs) is set explicitly on both sides: `--threads` for PyTorch, and
# RAYON_NUM_THREADS plus `--threads` for Bottleneck.
# Both sides report the median of their per-step rates (samples in a step / its wall time):
# PyTorch over 3 epochs after a warm-up epoch (a partial last batch counted with its real
# size), Bottleneck over ~3 s of full batches after 5 warm-up steps (steps that end an epoch,
# and so include its test evaluation, are left out). The table gives the median over rounds of
# those medians, and Bottleneck's fraction of the matrix-product peak it measures in each round
# (per half-second block of steps against the peak measured just before it; `bottleneck bench`).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-7}
models=${2:-dense,vae,conv}
threads=${3:-$(nproc)}
bin=${BOTTLENECK:-${CARGO_TARGET_DIR:-target}/release/bottleneck}
if [ ! -x "$bin" ]; then
  echo "compare.sh: no Bottleneck binary at $bin (cargo build --release, or set BOTTLENECK=path)" >&2
  exit 1
fi
python3 -c 'import torch, numpy' || { echo "compare.sh: needs PyTorch (pip install torch numpy)" >&2; exit 1; }
out=$(mktemp -d)
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for i in $(seq "$rounds"); do
  python3 bench/pytorch_reference.py --json --epochs 3 --threads "$threads" --only "$models" | tail -1 > "$out/torch$i.json"
  RAYON_NUM_THREADS=$threads "$bin" bench --only "$models" --seconds 3 --threads "$threads" --json | tail -1 > "$out/ours$i.json"
  echo "round $i of $rounds done (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
done
python3 - "$out" "$rounds" "$models" <<'PY'
import json, statistics, sys
d, n, models = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(",")
torch = [json.load(open(f"{d}/torch{i}.json")) for i in range(1, n + 1)]
ours = [json.load(open(f"{d}/ours{i}.json")) for i in range(1, n + 1)]
tt = {r["threads"] for r in torch}
ot = {r["threads"] for r in ours}
print(f"PyTorch {torch[0]['torch']} on {sorted(tt)} threads, Bottleneck on {sorted(ot)} threads; "
      f"{n} alternating rounds; each figure is the median over rounds of a run's median per-step rate")
print(f"Bottleneck's kernels: {ours[0].get('isa', '?')} instructions, products on one thread by "
      f"{ours[0].get('matmul', '?')}")
peaks = [r.get("peak_gflops") for r in ours if r.get("peak_gflops")]
if peaks:
    print(f"matrix-product peak measured by Bottleneck: median {statistics.median(peaks):.1f} GFLOP/s "
          f"({min(peaks):.1f}-{max(peaks):.1f})")
print(f"{'model':6s} {'batch':>5s} {'threads':>7s} {'PyTorch':>9s} {'Bottleneck':>11s} {'ratio':>6s}  "
      f"{'per round':>9s}  {'of peak':>7s}")
for model in models:
    t = [r[model]["samples_per_sec"] for r in torch]
    o = [r[model]["median_samples_per_sec"] for r in ours]
    r = [a / b for a, b in zip(o, t)]
    fr = [x[model].get("fraction_of_peak") for x in ours]
    fr = [f for f in fr if f is not None]
    frs = (f"{100 * statistics.median(fr):5.0f} % ({100 * min(fr):.0f}-{100 * max(fr):.0f})"
           if fr else "    -  ")
    print(f"{model:6s} {ours[0][model]['batch']:5d} {ours[0]['threads']:7d} {statistics.median(t):9.0f} "
          f"{statistics.median(o):11.0f} {statistics.median(o) / statistics.median(t):5.2f}x  "
          f"{min(r):.2f}-{max(r):.2f}  {frs}")
PY
