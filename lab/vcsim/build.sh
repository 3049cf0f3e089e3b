#!/usr/bin/env bash
# Build the lab's vCenter simulator (govmomi's vcsim plus our CBT overlay) offline.
#
# Inputs, all local:
#   - Debian's golang-go and golang-github-vmware-govmomi-dev (+ golang-github-google-uuid-dev),
#     i.e. Go sources under /usr/share/gocode, built in GOPATH mode (no module proxy, no network);
#   - lab/vcsim/patches/*.patch applied to a copy of govmomi's simulator package;
#   - lab/vcsim/go/simulator/*.go added to that copy (CBT, disk files);
#   - lab/vcsim/go/main.go, our vcsim command (Debian does not ship upstream's).
#
# Output: $MP_VCSIM_CACHE/vcsim (default lab/vcsim/bin/vcsim); its path is printed on stdout.
# Idempotent: a stamp holds a hash of every input (our sources, the Debian sources, go version);
# when it matches, nothing is rebuilt. Concurrent callers serialize on a lock file.
#
# Exit status: 0 built or up to date, 3 toolchain or govmomi sources missing, other: build failed.
set -euo pipefail
shopt -s nullglob

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${MP_VCSIM_CACHE:-$here/bin}"
system_gopath="${MP_VCSIM_SYSTEM_GOPATH:-/usr/share/gocode}"
govmomi_src="$system_gopath/src/github.com/vmware/govmomi"
binary="$cache/vcsim"
stamp_file="$cache/vcsim.stamp"

log() { printf 'vcsim build: %s\n' "$*" >&2; }

if ! command -v go >/dev/null 2>&1; then
    log "go not found; install Debian's golang-go"
    exit 3
fi
if [ ! -f "$govmomi_src/simulator/simulator.go" ] || [ ! -d "$system_gopath/src/github.com/google/uuid" ]; then
    log "govmomi sources not found under $system_gopath; install golang-github-vmware-govmomi-dev and golang-github-google-uuid-dev"
    exit 3
fi

# Everything that can change the binary goes into the stamp. The Debian sources are hashed
# rather than their package version so a hand-patched /usr/share/gocode is noticed too.
compute_stamp() {
    {
        go version
        printf 'system_gopath=%s\n' "$system_gopath"
        cd "$here"
        find build.sh go patches -type f \( -name '*.sh' -o -name '*.go' -o -name '*.patch' \) -print0 \
            | LC_ALL=C sort -z | xargs -0 sha256sum
        cd "$govmomi_src"
        find . -maxdepth 1 -name '*.go' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
        find simulator -name '*.go' ! -name '*_test.go' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
    } | sha256sum | cut -d' ' -f1
}

up_to_date() {
    [ -x "$binary" ] && [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$1" ]
}

mkdir -p "$cache"
stamp="$(compute_stamp)"
if up_to_date "$stamp"; then
    echo "$binary"
    exit 0
fi

exec 9>"$cache/.build.lock"
flock 9
# Another caller may have finished the same build while we waited for the lock.
if up_to_date "$stamp"; then
    echo "$binary"
    exit 0
fi

started=$SECONDS
work="$cache/gopath"
overlay="$work/src/github.com/vmware/govmomi"
rm -rf "$work"
mkdir -p "$overlay" "$work/src/mpvcsim"

# GOPATH mode resolves each import path in the first GOPATH entry that has a directory for it.
# Our overlay creates .../github.com/vmware/govmomi, so the root package "github.com/vmware/govmomi"
# (imported by the simulator) must be copied next to it or it would not be found at all.
find "$govmomi_src" -maxdepth 1 -name '*.go' ! -name '*_test.go' -exec cp {} "$overlay/" \;
# The whole simulator tree, not just the package: Go checks the "internal" import rule on
# directories, so simulator/internal must live beside our copy of simulator.
cp -R "$govmomi_src/simulator" "$overlay/simulator"
find "$overlay/simulator" -name '*_test.go' -delete
rm -rf "$overlay/simulator/test"
chmod -R u+w "$overlay"

for p in "$here"/patches/*.patch; do
    if ! patch -d "$overlay" -p1 --forward --batch --quiet <"$p" >&2; then
        log "patch $(basename "$p") does not apply to $govmomi_src (govmomi version changed?)"
        exit 1
    fi
done
for f in "$here"/go/simulator/*.go; do cp "$f" "$overlay/simulator/"; done
cp "$here/go/main.go" "$work/src/mpvcsim/main.go"

log "compiling (a cold build takes a minute or so)"
# GOFLAGS is cleared because module flags such as -mod are errors in GOPATH mode.
# CGO_ENABLED=0 gives a static binary and needs no C compiler.
env GO111MODULE=off GOPROXY=off GOFLAGS= CGO_ENABLED=0 \
    GOPATH="$work:$system_gopath" GOCACHE="${GOCACHE:-$cache/go-build}" \
    go build -o "$binary.tmp.$$" mpvcsim
mv -f "$binary.tmp.$$" "$binary"
echo "$stamp" >"$stamp_file"
log "built $binary in $((SECONDS - started))s"
echo "$binary"
