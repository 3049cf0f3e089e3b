#!/usr/bin/env bash
# Build nbdkit's vddk plugin and its VDDK test double (tests/dummy-vddk.c) from an nbdkit source
# tree of the installed nbdkit's version, with gcc only (no autotools, about 2 s), so the agent's
# vddk arguments can be checked against the real plugin without VMware's VDDK.
#
#   lab/vcsim/build-dummy-vddk.sh NBDKIT_SRC OUT
#
# NBDKIT_SRC: an unpacked nbdkit source (Debian's `apt-get source nbdkit`, or upstream's tag
# v<version>); OUT gets nbdkit-vddk-plugin.so and a VDDK libdir (OUT/vddk/lib64/libvixDiskLib.so.6)
# whose "disks" are 512 KiB of zeros. Exit 3: no source tree given or found.
set -euo pipefail
src="${1:-}"
out="${2:-}"
if [ -z "$src" ] || [ -z "$out" ] || [ ! -f "$src/plugins/vddk/vddk.c" ] || [ ! -f "$src/tests/dummy-vddk.c" ]; then
    echo "usage: $0 NBDKIT_SRC OUT (NBDKIT_SRC must hold plugins/vddk and tests/dummy-vddk.c)" >&2
    exit 3
fi
version="$(nbdkit --version | awk '{print $2}')"
IFS=. read -r major minor micro <<<"$version"
mkdir -p "$out/vddk/lib64" "$out/include"
sed -e "s/@NBDKIT_VERSION_MAJOR@/$major/;s/@NBDKIT_VERSION_MINOR@/$minor/;s/@NBDKIT_VERSION_MICRO@/$micro/" \
    "$src/include/nbdkit-version.h.in" >"$out/include/nbdkit-version.h"
# What ./configure would find on Debian 12 (glibc, Linux).
cat >"$out/include/config.h" <<CONFIG
#define _GNU_SOURCE 1
#define HAVE_ACCEPT4 1
#define HAVE_DLADDR 1
#define HAVE_ENVIRON 1
#define HAVE_FDATASYNC 1
#define HAVE_GET_CURRENT_DIR_NAME 1
#define HAVE_MKOSTEMP 1
#define HAVE_PIPE2 1
#define HAVE_POSIX_MEMALIGN 1
#define HAVE_PREAD 1
#define HAVE_PWRITE 1
#define HAVE_STDATOMIC_H 1
#define HAVE_SYS_PRCTL_H 1
#define PACKAGE_NAME "nbdkit"
#define PACKAGE_VERSION "$version"
#define host_os "linux-gnu"
CONFIG
includes=(-include "$out/include/config.h" -I"$out/include" -I"$src/include" -I"$src/common/include"
          -I"$src/common/utils" -I"$src/common/replacements" -I"$src/plugins/vddk")
gcc -shared -fPIC -O2 "${includes[@]}" -DVDDK_LIBDIR='"/usr/lib/vmware-vix-disklib"' \
    -o "$out/nbdkit-vddk-plugin.so" \
    "$src"/plugins/vddk/{vddk,reexec,stats,utils,worker}.c \
    "$src"/common/utils/{cleanup,cleanup-nbdkit,vector,utils,quote,environ,full-rw}.c -ldl -lpthread
gcc -shared -fPIC -O2 "${includes[@]}" -Wl,-soname,libvixDiskLib.so.6 \
    -o "$out/vddk/lib64/libvixDiskLib.so.6" "$src/tests/dummy-vddk.c"
echo "$out/nbdkit-vddk-plugin.so"
