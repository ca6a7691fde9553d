"""kazoo while the leader of a 3-server ensemble stops: the session, first
on the leader, moves to another server; its ephemeral node stays; the
watches it set before fire for writes made through another server after.

Arguments: the connect string with the leader first (kazoo is told not to
shuffle it), and the other servers, comma-separated. The script prints
"(stopping the leader)" and waits for a line on stdin: the driver's word
that the leader stopped and another leads."""
import sys
import threading

from kazoo.client import KazooClient
from kazoo.protocol.states import KazooState

from common import WAIT, attempt, out, stop, wait_for

ROOT = "/kazoo-failover"

if len(sys.argv) != 3:
    sys.exit("usage: %s leader,other,other other,other" % sys.argv[0])
hosts, others = sys.argv[1], sys.argv[2].split(",")

lock = threading.Lock()
states = []
suspended, back = threading.Event(), threading.Event()


def listener(state):
    with lock:
        states.append(str(state))
    if state == KazooState.SUSPENDED:
        suspended.set()
    elif state == KazooState.CONNECTED and suspended.is_set():
        back.set()


def server_of(client):
    host, port = client._connection._socket.getpeername()[:2]
    return "%s:%d" % (host, port)


c = KazooClient(hosts=hosts, timeout=10.0, randomize_hosts=False)
c.add_listener(listener)
c.start(timeout=WAIT)
session = c.client_id[0]
out("connected to the leader:", server_of(c) == hosts.split(",")[0])

attempt("create root", c.create, ROOT)
attempt("create ephemeral", c.create, ROOT + "/eph", b"mine", ephemeral=True)
attempt("create watched", c.create, ROOT + "/watched", b"v0")

# kazoo drops its one-shot watches when the connection is lost (it calls
# them with a NONE event); its DataWatch and ChildrenWatch recipes set theirs
# again once it is back, on whichever server it is now.
events = []
data_changed, child_added, created = threading.Event(), threading.Event(), threading.Event()
later_listed = threading.Event()


def record(text):
    with lock:
        events.append(text)


@c.DataWatch(ROOT + "/watched")
def on_data(data, stat, event):
    record("DataWatch: %r version=%s event=%s" % (
        data, stat.version if stat else None, event.type if event else None))
    if data == b"v1":
        data_changed.set()


@c.ChildrenWatch(ROOT)
def on_children(children):
    record("ChildrenWatch: %s" % sorted(children))
    if "after" in children:
        child_added.set()
    if "later" in children:
        later_listed.set()


out("(stopping the leader)")
out("driver:", sys.stdin.readline().strip())
wait_for(suspended, "connection suspended")
wait_for(back, "connected again")
with lock:
    out("states:", " ".join(states))
out("same session:", c.client_id[0] == session)
now = server_of(c)
out("now on another server:", now in others)
st = c.exists(ROOT + "/eph")
out("ephemeral stays, owned by this session:", st is not None and st.ephemeralOwner == session)
with lock:
    out("callbacks so far:", sorted(events))
    del events[:]


def on_created(event):
    record("exists watch: %s %s" % (event.type, event.path))
    created.set()


attempt("exists later, watching", c.exists, ROOT + "/later", watch=on_created)

# The writes come through the surviving server this session is not on.
other = [a for a in others if a != now][0]
w = KazooClient(hosts=other, timeout=10.0)
w.start(timeout=WAIT)
attempt("through the other server: set watched", w.set, ROOT + "/watched", b"v1")
wait_for(data_changed, "DataWatch saw v1")
attempt("through the other server: create after", w.create, ROOT + "/after", b"")
wait_for(child_added, "ChildrenWatch saw after")
attempt("through the other server: create later", w.create, ROOT + "/later", b"")
wait_for(created, "exists watch fired")
wait_for(later_listed, "ChildrenWatch saw later")
with lock:
    for e in events:
        out(e)
attempt("get watched", c.get, ROOT + "/watched")
st = w.exists(ROOT + "/eph")
out("the other server sees the ephemeral owned by the session:", st is not None and st.ephemeralOwner == session)
stop(c)
attempt("through the other server: sync", w.sync, ROOT)
attempt("ephemeral gone once the session closed", w.exists, ROOT + "/eph")
stop(w)
