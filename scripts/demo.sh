#!/usr/bin/env bash
# The demo: a tour of the formats library on the release build.
set -euo pipefail
cd "$(dirname "$0")/.."
./build/release/examples/formats_tour
