#!/usr/bin/env bash
# Captures screenshots/train.png from the real app in a real window: opens `bottleneck` under
# Xvfb with the form's defaults (dense, k = 2, seed 42) and epochs = 5, presses Space (Start),
# waits for the run to finish and grabs the screen. Needs: apt-get install xvfb xdotool imagemagick
#   cargo build --release && screenshots/capture_train.sh [path/to/bottleneck]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${1:-$here/../target/release/bottleneck}"
display="${DISPLAY_NUM:-:97}"
tmp=$(mktemp -d)
export XDG_RUNTIME_DIR="$tmp/xdg"
mkdir -p -m 700 "$XDG_RUNTIME_DIR"
export BOTTLENECK_CONFIG_DIR="$tmp/config"
mkdir -p "$BOTTLENECK_CONFIG_DIR"
cat >"$BOTTLENECK_CONFIG_DIR/settings.json" <<'JSON'
{
  "version": 1,
  "train": {"variant": "dense",
            "model": {"arch": "dense", "latent": 2, "hidden": [256, 128], "channels": [16, 32],
                      "activation": "relu", "sigmoid_output": true},
            "loss": "mse", "noise": null, "l1": 0.0, "contractive": 0.0, "beta": 1.0,
            "optimizer": "adam", "weight_decay": 0.0, "lr": 0.001, "batch": 256,
            "epochs": 5, "seed": 42},
  "dataset": "embedded",
  "tab": "train",
  "window_size": [1280, 800]
}
JSON

Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp &
xvfb=$!
app=""
cleanup() {
  [ -n "$app" ] && kill "$app" 2>/dev/null || true
  kill "$xvfb" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
export DISPLAY="$display"
for _ in $(seq 40); do
  xdotool getdisplaygeometry >/dev/null 2>&1 && break
  sleep 0.25
done

"$bin" >"$tmp/app.log" 2>&1 &
app=$!
win=""
for _ in $(seq 60); do
  win=$(xdotool search --onlyvisible --name "Bottleneck" 2>/dev/null | head -1 || true)
  [ -n "$win" ] && break
  sleep 0.5
done
[ -n "$win" ] || { echo "capture_train: the window never appeared" >&2; cat "$tmp/app.log" >&2; exit 1; }
xdotool windowmove "$win" 0 0 windowsize "$win" 1280 800 windowfocus "$win"
sleep 2
xdotool key --window "$win" space
# Five epochs of 8,000 digits take a few seconds; the last epoch's curves and grid then settle.
sleep "${WAIT_SECONDS:-25}"
xdotool mousemove 1279 799
sleep 1
import -window root "$here/train.png"
echo "wrote $here/train.png"
