"""Helpers shared by the kazoo scenario scripts.

Every script takes the server address (host:port) as its only argument and
prints a transcript on stdout: outcomes, error class names, Stat fields and
watch events, never timings. The Go test normalizes session ids, zxids and
times and compares the transcript from Apache ZooKeeper with zkd's.
"""
import sys
import threading

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException
from kazoo.handlers.threading import KazooTimeoutError

# How long a script waits for something that must happen (a watch firing, a
# thread getting a lock). Far above what any correct server needs.
WAIT = 15.0

_out_lock = threading.Lock()


def out(*parts):
    with _out_lock:
        print(*parts, flush=True)


def address():
    if len(sys.argv) != 2:
        sys.exit("usage: %s host:port" % sys.argv[0])
    return sys.argv[1]


def connect(timeout=10.0, **kwargs):
    client = KazooClient(hosts=address(), timeout=timeout, **kwargs)
    client.start(timeout=WAIT)
    return client


def fmt_stat(st):
    if st is None:
        return "stat=None"
    return ("czxid=0x%x mzxid=0x%x pzxid=0x%x ctime=%d mtime=%d version=%d "
            "cversion=%d aversion=%d ephemeralOwner=0x%x dataLength=%d numChildren=%d") % (
        st.czxid, st.mzxid, st.pzxid, st.ctime, st.mtime, st.version,
        st.cversion, st.aversion, st.ephemeralOwner, st.dataLength, st.numChildren)


def fmt_acls(acls):
    return "[" + ", ".join("%s:%s perms=%d" % (a.id.scheme, a.id.id, a.perms) for a in acls) + "]"


def fmt_result(value):
    """Formats what a kazoo call returned, or the exception it raised."""
    if isinstance(value, BaseException):
        return "raised " + type(value).__name__
    if isinstance(value, tuple) and len(value) == 2 and hasattr(value[1], "czxid"):
        return "%r %s" % (value[0], fmt_stat(value[1]))
    if hasattr(value, "czxid"):
        return fmt_stat(value)
    return repr(value)


def attempt(label, fn, *args, **kwargs):
    """Calls fn, prints its result or exception class, returns the result (or None)."""
    try:
        value = fn(*args, **kwargs)
    except (KazooException, KazooTimeoutError, ValueError, TypeError) as e:
        out("%s: raised %s" % (label, type(e).__name__))
        return None
    out("%s: %s" % (label, fmt_result(value)))
    return value


def wait_for(event, label):
    """Waits for a threading.Event and prints whether it happened."""
    ok = event.wait(WAIT)
    out("%s: %s" % (label, "yes" if ok else "TIMED OUT"))
    return ok


def stop(*clients):
    for c in clients:
        c.stop()
        c.close()
