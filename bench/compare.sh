#!/usr/bin/env bash
# Measures Bottleneck against the PyTorch reference side by side on this machine: alternating
# rounds (so both see the same background load), then the median of each and their ratio for
# the dense AE, the VAE and the conv AE.
#   pip install torch numpy && cargo build --release && bench/compare.sh [ROUNDS] [MODELS]
# MODELS is a comma-separated subset of dense,vae,conv (default: all three).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-7}
models=${2:-dense,vae,conv}
bin=${BOTTLENECK:-${CARGO_TARGET_DIR:-target}/release/bottleneck}
if [ ! -x "$bin" ]; then
  echo "compare.sh: no Bottleneck binary at $bin (cargo build --release, or set BOTTLENECK=path)" >&2
  exit 1
fi
python3 -c 'import torch, numpy' || { echo "compare.sh: needs PyTorch (pip install torch numpy)" >&2; exit 1; }
out=$(mktemp -d)
for i in $(seq "$rounds"); do
  python3 bench/pytorch_reference.py --json --epochs 3 --only "$models" | tail -1 > "$out/torch$i.json"
  "$bin" bench --only "$models" --seconds 3 --json | tail -1 > "$out/ours$i.json"
  echo "round $i of $rounds done" >&2
done
python3 - "$out" "$rounds" "$models" <<'PY'
import json, statistics, sys
d, n, models = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(",")
torch = [json.load(open(f"{d}/torch{i}.json")) for i in range(1, n + 1)]
ours = [json.load(open(f"{d}/ours{i}.json")) for i in range(1, n + 1)]
print(f"PyTorch {torch[0]['torch']}, {torch[0]['threads']} threads; {n} alternating rounds, medians")
print(f"{'model':6s} {'batch':>5s} {'PyTorch':>9s} {'Bottleneck':>11s} {'ratio':>6s}  per round")
for model in models:
    t = [r[model]["samples_per_sec"] for r in torch]
    o = [r[model]["samples_per_sec"] for r in ours]
    r = [a / b for a, b in zip(o, t)]
    print(f"{model:6s} {ours[0][model]['batch']:5d} {statistics.median(t):9.0f} {statistics.median(o):11.0f} "
          f"{statistics.median(o) / statistics.median(t):5.2f}x  {min(r):.2f}-{max(r):.2f}")
PY
