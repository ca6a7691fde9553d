#!/usr/bin/env bash
# The whole test suite of zkd: vet, then every package's tests with the race
# detector, including the interoperability tests against Apache ZooKeeper 3.8,
# its zkCli.sh, kazoo and the C client from Debian, and the status page's
# tests in Debian's headless Chromium.
#
# Missing Debian packages are installed when running as root (CI, containers);
# otherwise the script stops and names them. The interoperability tests fail,
# never skip, when a dependency is missing.
set -euo pipefail
cd "$(dirname "$0")"

packages=(zookeeper zookeeper-bin python3-kazoo chromium docker-compose)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
		echo "test.sh: installing Debian packages: ${missing[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq "${missing[@]}" >/dev/null
	else
		echo "test.sh: missing Debian packages: ${missing[*]} (run: sudo apt-get install ${missing[*]})" >&2
		exit 1
	fi
fi

echo "test.sh: go vet"
go vet ./...
go vet -tags pprof ./cmd/zkd # the profiling build (--pprof) must keep compiling
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "test.sh: gofmt would change: $unformatted" >&2
	exit 1
fi
# go.mod and go.sum must be what go mod tidy makes of the imports.
if ! tidy=$(go mod tidy -diff 2>&1); then
	echo "test.sh: go mod tidy would change go.mod/go.sum (run: go mod tidy):" >&2
	echo "$tidy" >&2
	exit 1
fi
echo "test.sh: go test -race ./..."
go test -race -count=1 -timeout 40m "$@" ./...
