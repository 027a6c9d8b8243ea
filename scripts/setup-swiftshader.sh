#!/usr/bin/env bash
# Installs SwiftShader (software Vulkan) for the WebGPU parity tests, without the browser:
# the Vulkan loader from apt, and chromium-common unpacked into .swiftshader/ (ignored by git).
# Idempotent: does nothing when the ICD file is already there. Tests find it at
# .swiftshader/usr/lib/chromium/vk_swiftshader_icd.json, or wherever RLIF_SWIFTSHADER_ICD points.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=.swiftshader
icd="$dir/usr/lib/chromium/vk_swiftshader_icd.json"
if [ -f "$icd" ] && ldconfig -p | grep -q libvulkan.so.1; then
  echo "SwiftShader already installed: $icd"
  exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
if ! ldconfig -p | grep -q libvulkan.so.1; then
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq libvulkan1
fi
mkdir -p "$dir"
tmp=$(mktemp -d)
(cd "$tmp" && apt-get download chromium-common >/dev/null 2>&1 || { $sudo apt-get update -qq && apt-get download chromium-common; })
dpkg -x "$tmp"/chromium-common_*.deb "$dir"
rm -rf "$tmp"
test -f "$icd" || { echo "setup-swiftshader: $icd missing after unpacking chromium-common" >&2; exit 1; }
echo "SwiftShader installed: $icd"
