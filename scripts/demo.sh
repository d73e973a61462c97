#!/usr/bin/env bash
# The demo: lowbit's number commands at work, then a tour of the formats library, on the release build.
set -euo pipefail
cd "$(dirname "$0")/.."
lowbit=./build/release/bin/lowbit
show() {
  printf '\n$ lowbit %s\n' "$*"
  "$lowbit" "$@"
}
show decode 0x7e --format e4m3fn
show encode 0.1 --format bf16
show encode 500 --format e4m3fn --policy saturate
show encode 1/3 --all
show table e2m1
# A small array through the bulk path: 1, 448, 500, -2 and 2^-9 as fp32 -> e4m3fn (hex bytes).
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '\x00\x00\x80\x3f\x00\x00\xe0\x43\x00\x00\xfa\x43\x00\x00\x00\xc0\x00\x00\x00\x3b' > "$tmp/in.f32"
printf '\n$ lowbit convert --from fp32 --to e4m3fn -i in.f32 -o out.e4m3fn && od -An -tx1 out.e4m3fn\n'
"$lowbit" convert --from fp32 --to e4m3fn -i "$tmp/in.f32" -o "$tmp/out.e4m3fn"
od -An -tx1 "$tmp/out.e4m3fn"
printf '\n$ lowbit decode 0x1ff --format e4m3fn   # bad input: a clear error, exit code 2\n'
"$lowbit" decode 0x1ff --format e4m3fn || echo "(exit code $?)"
# A short fp32 training run (one epoch on the first 6000 Fashion-MNIST images), saved and evaluated again.
show train --model mlp --epochs 1 --train-limit 6000 --save "$tmp/mlp.safetensors"
show eval --model mlp --load "$tmp/mlp.safetensors"
printf '\n'
./build/release/examples/formats_tour
