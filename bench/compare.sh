#!/usr/bin/env bash
# Measures Bottleneck against the PyTorch reference side by side on this machine: alternating
# rounds (so both see the same background load), then the median of each and their ratio.
#   pip install torch numpy && cargo build --release && bench/compare.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-7}
bin=${BOTTLENECK:-target/release/bottleneck}
out=$(mktemp -d)
for i in $(seq "$rounds"); do
  python3 bench/pytorch_reference.py --json --epochs 3 --only dense,vae 2>/dev/null | tail -1 > "$out/torch$i.json"
  "$bin" bench --only dense,vae --seconds 3 --json > "$out/ours$i.json"
done
python3 - "$out" "$rounds" <<'PY'
import json, statistics, sys
d, n = sys.argv[1], int(sys.argv[2])
for model in ["dense", "vae"]:
    t = [json.load(open(f"{d}/torch{i}.json"))[model]["samples_per_sec"] for i in range(1, n + 1)]
    o = [json.load(open(f"{d}/ours{i}.json"))[model]["samples_per_sec"] for i in range(1, n + 1)]
    r = [a / b for a, b in zip(o, t)]
    print(f"{model:5s} PyTorch median {statistics.median(t):8.0f}  Bottleneck median {statistics.median(o):8.0f}  "
          f"ratio of medians {statistics.median(o)/statistics.median(t):.2f}  (per round: {min(r):.2f}–{max(r):.2f})")
PY
