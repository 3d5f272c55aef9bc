#!/usr/bin/env bash
# Dawn (the `webgpu` package) reaches the GPU through Vulkan on Linux. Without a GPU, Mesa's
# lavapipe (software Vulkan) works from Mesa 25 on; Debian 12's own Mesa 22 gives Dawn no adapter,
# so it is taken from bookworm-backports. Does nothing where a usable driver is already there.
set -euo pipefail

[ "$(uname -s)" = Linux ] || exit 0

mesa_major() {
  dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null | sed -E 's/^([0-9]+:)?([0-9]+).*/\2/' || true
}

have_vendor_icd() {
  ls /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json 2>/dev/null | grep -q .
}

major=$(mesa_major)
if { [ -n "$major" ] && [ "$major" -ge 25 ] && ldconfig -p | grep -q libvulkan.so.1; } || have_vendor_icd; then
  echo "setup: Vulkan driver present (mesa-vulkan-drivers ${major:-none})"
  exit 0
fi

if ! command -v apt-get >/dev/null; then
  echo "setup: no apt-get; install a Vulkan driver yourself (Mesa >= 25 lavapipe, or your GPU vendor's)" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    echo "setup: need root to install libvulkan1 and mesa-vulkan-drivers from bookworm-backports" >&2
    exit 1
  fi
fi

. /etc/os-release
codename=${VERSION_CODENAME:-bookworm}
if [ "${ID:-}" = debian ] && ! grep -rqs "${codename}-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "setup: adding ${codename}-backports to apt's sources"
  printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: %s-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$codename" |
    $SUDO tee /etc/apt/sources.list.d/distillery-backports.sources >/dev/null
fi
echo "setup: installing libvulkan1 and mesa-vulkan-drivers (Mesa >= 25)"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libvulkan1 >/dev/null
if [ "${ID:-}" = debian ]; then
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -t "${codename}-backports" mesa-vulkan-drivers >/dev/null
else
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq mesa-vulkan-drivers >/dev/null
fi
echo "setup: mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)"
