#!/bin/sh
# zkServer.sh shim: lets go-zookeeper/zk's own integration tests launch zkd.
#
# That suite (server_java_test.go) runs
#     SERVER_JVMFLAGS='-Dzookeeper.k=v ...' $ZOOKEEPER_BIN_PATH/zkServer.sh start-foreground <zoo.cfg>
# and stops the server with SIGKILL, so this script must exec the server
# (no child process left behind) and accept only start-foreground.
#
# Environment:
#   ZKD_BIN               zkd binary. Default: <repo>/zkd (what `go build ./cmd/zkd`
#                         leaves at the repo root), else `zkd` on PATH.
#   ZKD_INTEROP_SELFTEST  if 1, exec Apache ZooKeeper 3.8 from Debian instead of zkd
#                         (validates this shim and the suite while zkd is unfinished).
#   ZKD_SHIM_APACHE_EXTRA_CP  selftest only: classpath entries put before zookeeper.jar
#                         (test/interop puts a Version class there whose srvr version line
#                         go-zookeeper's FLWSrvr can parse; see test/interop/OBSERVED.md).
#   SERVER_JVMFLAGS       -Dzookeeper.<key>=<value> flags. Apache reads every zoo.cfg key
#                         <key> as system property zookeeper.<key>, so for zkd they become
#                         <key>=<value> lines in a copy of zoo.cfg (<zoo.cfg>.zkd) that zkd
#                         is started with. Apache gets the flags unchanged.
#
# Usage: ZOOKEEPER_BIN_PATH=test/zkshim/bin go test github.com/go-zookeeper/zk
set -eu

usage() {
    echo "usage: $0 start-foreground <zoo.cfg>" >&2
    exit 2
}

[ "$#" -eq 2 ] || usage
[ "$1" = "start-foreground" ] || usage
cfg=$2
[ -r "$cfg" ] || { echo "zkServer.sh shim: cannot read config $cfg" >&2; exit 2; }

shim_dir=$(cd "$(dirname "$0")/.." && pwd)
repo_root=$(cd "$shim_dir/../.." && pwd)
jvmflags=${SERVER_JVMFLAGS:-}

if [ "${ZKD_INTEROP_SELFTEST:-}" = "1" ]; then
    classpath=${ZKD_SHIM_APACHE_EXTRA_CP:+$ZKD_SHIM_APACHE_EXTRA_CP:}/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar
    [ -r /usr/share/java/zookeeper.jar ] || {
        echo "zkServer.sh shim: /usr/share/java/zookeeper.jar missing: install Debian packages zookeeper zookeeper-bin" >&2
        exit 2
    }
    # shellcheck disable=SC2086 # SERVER_JVMFLAGS is a list of flags, split on purpose.
    exec java -Xmx1g -Dlog4j.configuration="file:$shim_dir/conf/log4j.properties" \
        $jvmflags -cp "$classpath" org.apache.zookeeper.server.quorum.QuorumPeerMain "$cfg"
fi

zkd=${ZKD_BIN:-}
if [ -z "$zkd" ]; then
    if [ -x "$repo_root/zkd" ]; then
        zkd=$repo_root/zkd
    else
        zkd=$(command -v zkd || true)
    fi
fi
[ -n "$zkd" ] && [ -x "$zkd" ] || {
    echo "zkServer.sh shim: no zkd binary: set ZKD_BIN or run 'go build ./cmd/zkd' in $repo_root" >&2
    exit 2
}

zkd_cfg=$cfg.zkd
cp "$cfg" "$zkd_cfg"
for flag in $jvmflags; do
    case $flag in
    -Dzookeeper.*=*)
        kv=${flag#-Dzookeeper.}
        printf '%s\n' "$kv" >>"$zkd_cfg"
        ;;
    *)
        echo "zkServer.sh shim: ignoring JVM flag $flag (no zoo.cfg equivalent)" >&2
        ;;
    esac
done
exec "$zkd" serve --config "$zkd_cfg"
