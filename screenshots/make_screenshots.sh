#!/usr/bin/env bash
# Regenerates every picture in screenshots/ with `bottleneck snapshot` (the real app rendered
# without a window; a software GPU is enough: apt-get install mesa-vulkan-drivers).
#   cargo build --release && screenshots/make_screenshots.sh [path/to/bottleneck]
# train.png is captured from the real window under Xvfb (capture_train.sh: Start pressed in the
# UI with epochs = 5) when xvfb, xdotool and imagemagick are installed; with SNAPSHOT_ONLY=1, or
# without them, `bottleneck snapshot` renders it from a model trained by the CLI with the same
# settings and seed (the form's defaults, dense, k = 2, 5 epochs).
# compare.png and compare-train.png show a dense AE and a VAE (k = 2, 10 epochs, the same seed),
# what "Compare with: Variational (VAE)" trains beside the form's dense AE with epochs = 10.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${1:-$here/../target/release/bottleneck}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/bottleneck-xdg}"
mkdir -p -m 700 "$XDG_RUNTIME_DIR"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ "${SNAPSHOT_ONLY:-0}" != 1 ] && command -v Xvfb >/dev/null && command -v xdotool >/dev/null \
  && command -v import >/dev/null; then
  "$here/capture_train.sh" "$bin"
else
  "$bin" train --variant dense --latent 2 --epochs 5 --seed 42 --out "$tmp/dense5.safetensors" >/dev/null
  "$bin" snapshot --panel train --model "$tmp/dense5.safetensors" --out "$here/train.png"
fi
"$bin" snapshot --panel latent --out "$here/latent.png"
"$bin" snapshot --panel interpolate --out "$here/interpolate.png"
"$bin" snapshot --panel denoise --out "$here/denoise.png"
"$bin" snapshot --panel pca --out "$here/pca-vs-ae.png"
"$bin" snapshot --panel anomaly --out "$here/anomaly.png"
"$bin" snapshot --panel features --out "$here/features.png"
"$bin" snapshot --panel latent --presenter --out "$here/presenter.png"
# Maps of a wide code: the built-in 32-D model on t-SNE and UMAP (test image 0 selected, its 10
# nearest neighbours in the code ringed), and the 2-D VAE's posterior ellipses.
"$bin" snapshot --panel latent --model builtin:dense-32d --projection tsne --out "$here/latent-tsne.png"
"$bin" snapshot --panel latent --model builtin:dense-32d --projection umap --out "$here/latent-umap.png"
"$bin" snapshot --panel latent --model builtin:vae-2d --projection pca --out "$here/latent-vae-posterior.png"
"$bin" train --variant dense --latent 2 --epochs 10 --seed 42 --out "$tmp/dense10.safetensors" >/dev/null
"$bin" train --variant vae --latent 2 --epochs 10 --seed 42 --out "$tmp/vae10.safetensors" >/dev/null
"$bin" snapshot --panel latent --model "$tmp/dense10.safetensors" --compare "$tmp/vae10.safetensors" --out "$here/compare.png"
"$bin" snapshot --panel train --model "$tmp/dense10.safetensors" --compare "$tmp/vae10.safetensors" --out "$here/compare-train.png"
"$bin" snapshot --panel compression --out "$here/compression.png"
# generate-draw.png, generate-grid.png, generate-plane.png and generate-presenter.png are Xvfb
# captures (a digit drawn with the mouse); this is the panel rendered without a window.
"$bin" snapshot --panel generate --model builtin:cvae-4d --out "$here/generate.png"
# On a projector: every panel at 1024×768 in presenter mode.
mkdir -p "$here/projector"
for p in train latent interpolate denoise pca anomaly compression features; do
  "$bin" snapshot --panel "$p" --presenter --size 1024x768 --out "$here/projector/$p.png"
done
"$bin" snapshot --panel generate --model builtin:cvae-4d --presenter --size 1024x768 --out "$here/projector/generate.png"
"$bin" snapshot --lesson 1 --presenter --size 1024x768 --out "$here/projector/lesson1.png"
"$bin" snapshot --lesson 8 --step 3 --presenter --size 1024x768 --out "$here/lesson-vae.png"
