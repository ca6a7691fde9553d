"""kazoo Lock, ReadLock/WriteLock and Semaphore with several sessions."""
import threading
import time

from common import WAIT, attempt, connect, out, stop

ROOT = "/kazoo-lock"


def wait_until(label, predicate):
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if predicate():
            out("%s: yes" % label)
            return True
        time.sleep(0.02)
    out("%s: TIMED OUT" % label)
    return False


def acquire_in_thread(lock, **kwargs):
    got = threading.Event()
    result = {}

    def run():
        result["value"] = lock.acquire(**kwargs)
        got.set()
    threading.Thread(target=run, daemon=True).start()
    return got, result


c1, c2, c3 = connect(), connect(), connect()
path = ROOT + "/mutex"
l1 = c1.Lock(path, "one")
l2 = c2.Lock(path, "two")
watcher = c3.Lock(path, "observer")

attempt("one acquires", l1.acquire)
attempt("one is_acquired", lambda: l1.is_acquired)
attempt("contenders", watcher.contenders)
attempt("two non-blocking", l2.acquire, blocking=False)
attempt("two with 0.3 s timeout", l2.acquire, timeout=0.3)
got, result = acquire_in_thread(l2)
wait_until("two is waiting", lambda: len(watcher.contenders()) == 2)
attempt("contenders while two waits", watcher.contenders)
out("two acquired before release: %s" % got.is_set())
attempt("one releases", l1.release)
got.wait(WAIT)
out("two acquired after release: %s (returned %r)" % (got.is_set(), result.get("value")))
attempt("contenders", watcher.contenders)
attempt("one releases again", l1.release)

# A holder's session ends: the next contender gets the lock.
l3 = c3.Lock(path, "three")
got3, _ = acquire_in_thread(l3)
wait_until("three is waiting", lambda: len(watcher.contenders()) == 2)
c2.stop()
c2.close()
got3.wait(WAIT)
out("three acquired after two's session ended: %s" % got3.is_set())
attempt("contenders", watcher.contenders)
attempt("three releases", l3.release)
attempt("lock nodes left", lambda: len(c1.get_children(path)))

# Read/write locks share one directory.
rw = ROOT + "/rw"
c4 = connect()
r1 = c1.ReadLock(rw, "r1")
r2 = c4.ReadLock(rw, "r2")
wl = c3.WriteLock(rw, "w")
attempt("r1 acquires", r1.acquire)
attempt("r2 acquires alongside r1", r2.acquire, timeout=5)
attempt("writer non-blocking", wl.acquire, blocking=False)
attempt("rw contenders", lambda: c1.ReadLock(rw).contenders())
attempt("r1 releases", r1.release)
attempt("r2 releases", r2.release)
attempt("writer acquires", wl.acquire, timeout=5)
attempt("r1 non-blocking while writer holds", r1.acquire, blocking=False)
attempt("writer releases", wl.release)

# Semaphore with two leases.
sem = ROOT + "/sem"
s1 = c1.Semaphore(sem, "a", max_leases=2)
s2 = c3.Semaphore(sem, "b", max_leases=2)
s3 = c4.Semaphore(sem, "c", max_leases=2)
attempt("a acquires", s1.acquire)
attempt("b acquires", s2.acquire)
attempt("c non-blocking", s3.acquire, blocking=False)
attempt("lease holders", lambda: sorted(s1.lease_holders()))
got, result = acquire_in_thread(s3)
attempt("a releases", s1.release)
got.wait(WAIT)
out("c acquired after a released: %s (returned %r)" % (got.is_set(), result.get("value")))
attempt("lease holders", lambda: sorted(s1.lease_holders()))
attempt("d with different max_leases", c1.Semaphore(sem, "d", max_leases=3).acquire, blocking=False)
attempt("b releases", s2.release)
attempt("c releases", s3.release)
attempt("lease holders", lambda: sorted(s1.lease_holders()))
stop(c1, c3, c4)
