#!/bin/sh
# The one recipe for the binary gatehouse ships: static (no cgo; SQLite is
# pure Go, so no libc is needed at run time), stripped of symbols and DWARF,
# and with build paths trimmed. The Dockerfile and .ci/run both build with
# it, so the binary CI checks is the one the image carries.
#
# Usage: build/static.sh OUTPUT [VERSION]
#   VERSION is what `gatehouse version` prints; without it, the module
#   version Go records (e.g. "(devel)").
set -eu
out=${1:?usage: build/static.sh OUTPUT [VERSION]}
version=${2:-}
case $out in /*) ;; *) out=$(pwd)/$out ;; esac
cd "$(dirname "$0")/.."
ldflags="-s -w"
if [ -n "$version" ]; then
  ldflags="$ldflags -X main.version=$version"
fi
CGO_ENABLED=0 exec go build -trimpath -ldflags "$ldflags" -o "$out" ./cmd/gatehouse
