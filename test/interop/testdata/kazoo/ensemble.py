"""kazoo against a 3-server ensemble: one client with the full server list
writes and reads, and sees the writes made through each server alone (after
a sync), and each server alone sees the client's write after a sync.

Arguments: the connect string (every server, comma-separated)."""
import sys

from kazoo.client import KazooClient

from common import WAIT, attempt, out, stop

ROOT = "/kazoo-ensemble"

if len(sys.argv) != 2:
    sys.exit("usage: %s host:port,host:port,..." % sys.argv[0])
servers = sys.argv[1].split(",")

c = KazooClient(hosts=sys.argv[1], timeout=10.0)
c.start(timeout=WAIT)
attempt("create root", c.create, ROOT, b"root")

for i, addr in enumerate(servers, 1):
    w = KazooClient(hosts=addr, timeout=10.0)
    w.start(timeout=WAIT)
    attempt("through server.%d alone: create via-%d" % (i, i), w.create,
            "%s/via-%d" % (ROOT, i), b"written through server.%d" % i)
    stop(w)

attempt("sync", c.sync, ROOT)
for i in range(1, len(servers) + 1):
    attempt("get via-%d" % i, c.get, "%s/via-%d" % (ROOT, i))
children = c.get_children(ROOT)
out("children:", sorted(children))

attempt("create from-kazoo", c.create, ROOT + "/from-kazoo", b"written by kazoo")
attempt("set root", c.set, ROOT, b"root v1")
for i, addr in enumerate(servers, 1):
    r = KazooClient(hosts=addr, timeout=10.0)
    r.start(timeout=WAIT)
    attempt("through server.%d alone: sync" % i, r.sync, ROOT)
    attempt("through server.%d alone: get from-kazoo" % i, r.get, ROOT + "/from-kazoo")
    attempt("through server.%d alone: get root" % i, r.get, ROOT)
    stop(r)
stop(c)
