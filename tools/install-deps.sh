#!/usr/bin/env bash
# Install the system packages vidcompare builds against (Debian/Ubuntu), only when missing.
# FFmpeg's libraries for ffmpeg-next, libclang for its bindgen step, pkg-config to find them,
# and Chromium for the report's browser test.
set -euo pipefail

# chromium: the headless browser that tests/it/report_browser.rs loads the report in.
# slurm-wlm, munge: the single-host cluster tests/it/slurm.rs submits to (tools/slurm-local.sh).
pkgs=(libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev
      libavfilter-dev libavdevice-dev libclang-dev clang pkg-config chromium slurm-wlm munge)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing system packages: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo (Rust >= 1.85) is required: see https://rustup.rs" >&2
  exit 1
fi
