#!/usr/bin/env bash
# Installs the Debian packages the platform and its lab need, only when one is missing.
set -euo pipefail
PACKAGES=(
  python3 python3-venv python3-dev python3-libnbd   # the venv is made from Debian's python so `import nbd` works
  build-essential pkg-config libmariadb-dev           # mysqlclient builds against these
  nbdkit libnbd-bin qemu-utils                        # NBD exports, nbdcopy (benchmark peer), qemu-img
  openssh-server openssh-client                       # the agent tunnel and its tests
  golang-go golang-github-vmware-govmomi-dev golang-github-google-uuid-dev   # vcsim, built offline
  mmdebstrap fdisk dosfstools mtools cpio zstd        # the lab guest image (lab/guest), no loop mounts
  qemu-system-x86 ovmf                                # the emulator runs lab guests as QEMU processes
  chromium                                            # the console's browser tests (Playwright drives it)
  virt-v2v libguestfs-tools linux-image-amd64         # guest conversion at failover (virt-v2v-in-place); a kernel for libguestfs's appliance
  python3-guestfs                                     # the conversion keeps the guest's NIC names (apps/failover/nicnames.py)
)
missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing Debian packages: ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
