"""kazoo watches: raw one-shot watches (their order), DataWatch and
ChildrenWatch recipes."""
import threading

from kazoo.protocol.states import Callback, EventType

from common import WAIT, attempt, connect, out, stop

ROOT = "/kazoo-watch"

w = connect()  # watches
m = connect()  # changes
attempt("create root", m.create, ROOT)
attempt("create d", m.create, ROOT + "/d", b"1")

events = []
events_lock = threading.Lock()


def record(text):
    with events_lock:
        events.append(text)


def watcher(label):
    def cb(event):
        record((label, "%s %s %s" % (event.type, event.state, event.path)))
    return cb


def in_notification_order(got):
    """One notification runs every callback registered for its path, in the
    order of a Python set (kazoo keeps data and exist watchers together), so
    callbacks of one notification are sorted; notifications keep their order."""
    groups = []
    for label, what in got:
        if groups and groups[-1][0] == what:
            groups[-1][1].append(label)
        else:
            groups.append((what, [label]))
    return ["%s: %s" % (label, what) for what, labels in groups for label in sorted(labels)]


def settle():
    """Returns once every notification caused by m's finished writes has been
    delivered to w's callbacks: w's sync is answered after those
    notifications, and the marker runs after the callbacks they queued."""
    w.sync(ROOT)
    done = threading.Event()
    w.handler.dispatch_callback(Callback("watch", done.set, ()))
    if not done.wait(WAIT):
        out("settle: TIMED OUT")


def report(label):
    settle()
    with events_lock:
        got = list(events)
        events.clear()
    got = in_notification_order(got)
    out("%s: %s" % (label, "; ".join(got) if got else "no events"))


w.get(ROOT + "/d", watch=watcher("data"))
m.set(ROOT + "/d", b"2")
report("data watch, set")
m.set(ROOT + "/d", b"3")
report("data watch, second set (one-shot)")

w.exists(ROOT + "/e", watch=watcher("exist"))
m.create(ROOT + "/e")
report("exist watch on missing node, create")
w.exists(ROOT + "/e", watch=watcher("exist"))
m.set(ROOT + "/e", b"x")
report("exist watch on node, set")

w.get_children(ROOT, watch=watcher("children"))
m.set(ROOT, b"root data")
report("child watch, parent set")
m.create(ROOT + "/c")
report("child watch, create child")

m.create(ROOT + "/x", b"x")
w.get(ROOT + "/x", watch=watcher("data x"))
w.exists(ROOT + "/x", watch=watcher("exist x"))
w.get_children(ROOT + "/x", watch=watcher("children x"))
w.get_children(ROOT, watch=watcher("children root"))
m.delete(ROOT + "/x")
report("delete x watched every way (order)")

w.get(ROOT + "/d", watch=watcher("data d"))
m.set_acls(ROOT + "/d", m.get_acls(ROOT + "/d")[0])
report("setACL")
m.delete(ROOT + "/d")
report("then delete d")

w.get_children(ROOT, watch=watcher("children root"))
t = m.transaction()
t.create(ROOT + "/t1")
t.create(ROOT + "/t2")
t.delete(ROOT + "/c")
t.commit()
report("transaction creating two and deleting one child")

# Same session: the event is delivered before the reply to the write.
w.get(ROOT + "/t1", watch=watcher("own"))
w.set(ROOT + "/t1", b"own")
report("own session's set")

# DataWatch: called at once, then on every change, until the node is deleted.
dw_calls = []
dw_deleted = threading.Event()


@w.DataWatch(ROOT + "/dw")
def on_data(data, stat, event):
    dw_calls.append("data=%r version=%s event=%s" % (
        data, stat.version if stat else None, event.type if event else None))
    if event is not None and event.type == EventType.DELETED:
        dw_deleted.set()


settle()
m.create(ROOT + "/dw", b"v0")
settle()
m.set(ROOT + "/dw", b"v1")
settle()
m.set(ROOT + "/dw", b"v2")
settle()
m.delete(ROOT + "/dw")
dw_deleted.wait(WAIT)
settle()
for call in dw_calls:
    out("DataWatch: %s" % call)

# ChildrenWatch with events.
cw_calls = []
m.create(ROOT + "/cw")


@w.ChildrenWatch(ROOT + "/cw", send_event=True)
def on_children(children, event):
    cw_calls.append("children=%s event=%s" % (sorted(children), event.type if event else None))


settle()
m.create(ROOT + "/cw/a")
settle()
m.create(ROOT + "/cw/b", ephemeral=True)
settle()
m.delete(ROOT + "/cw/a")
settle()
m.set(ROOT + "/cw", b"data change: no call")
settle()
for call in cw_calls:
    out("ChildrenWatch: %s" % call)

# An ephemeral owned by m disappears when m's session ends.
w.exists(ROOT + "/cw/b", watch=watcher("exist b"))
m.stop()
m.close()
report("m stopped")
attempt("children of cw", lambda: sorted(w.get_children(ROOT + "/cw")))
stop(w)
