#!/usr/bin/env bash
# build-image.sh TAG [REGISTRY]: builds zkd's image as TAG (docker, or
# nerdctl when docker is missing) and, only when REGISTRY is given, tags it
# REGISTRY/TAG and pushes it. No base image is pulled: zkd is compiled here
# (static, CGO off) and copied into an image FROM scratch.
set -euo pipefail
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: $0 TAG [REGISTRY]   e.g. $0 zkd:dev  or  $0 zkd:1.0 registry.example:5000" >&2
	exit 2
fi
tag=$1 registry=${2:-}
cd "$(dirname "$0")/.."
if command -v docker >/dev/null; then engine=docker
elif command -v nerdctl >/dev/null; then engine=nerdctl
else echo "$0: neither docker nor nerdctl is installed" >&2; exit 1
fi
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
rootfs=$context/rootfs
mkdir -p "$rootfs/usr/local/bin" "$rootfs/etc" "$rootfs/conf" "$context/owned/data"
CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$rootfs/usr/local/bin/zkd" ./cmd/zkd
cp deploy/image/passwd deploy/image/group "$rootfs/etc/"
cp deploy/Dockerfile "$context/Dockerfile"
"$engine" build -q -t "$tag" "$context" >/dev/null
# The classic builder leaves the first stage behind as an untagged image.
"$engine" image prune -f --filter label=zkd.build-stage=rootfs >/dev/null 2>&1 || true
echo "$0: built $tag with $engine"
if [ -n "$registry" ]; then
	"$engine" tag "$tag" "$registry/$tag"
	"$engine" push "$registry/$tag"
	echo "$0: pushed $registry/$tag"
fi
