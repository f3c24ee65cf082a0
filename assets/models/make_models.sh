#!/usr/bin/env bash
# Regenerates the pre-trained models that ship inside Bottleneck (assets/models/*.safetensors
# and their .json sidecars), with the project's own command line and fixed seeds, on the
# embedded MNIST digits. Run from anywhere: assets/models/make_models.sh [path/to/bottleneck]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${1:-$here/../../target/release/bottleneck}"
train() { "$bin" train --data embedded --seed 7 --out "$here/$1.safetensors" "${@:2}"; }
train dense-2d     --variant dense     --latent 2  --epochs 40
train vae-2d       --variant vae       --latent 2  --epochs 40
train dense-32d    --variant dense     --latent 32 --epochs 30
train denoising-32d --variant denoising --latent 32 --epochs 30 --noise 0.5
train cvae-4d      --variant cvae      --latent 4  --epochs 30
ls -l "$here"
