"""kazoo Barrier and DoubleBarrier."""
import threading

from common import WAIT, attempt, connect, out, stop

ROOT = "/kazoo-barrier"

c1, c2 = connect(), connect()
attempt("wait without a barrier", c2.Barrier(ROOT + "/b").wait, 0.1)
b = c1.Barrier(ROOT + "/b")
attempt("create", b.create)
attempt("wait with 0.3 s timeout", c2.Barrier(ROOT + "/b").wait, 0.3)

passed = threading.Event()
result = {}


def waiter():
    result["value"] = c2.Barrier(ROOT + "/b").wait()
    passed.set()


threading.Thread(target=waiter, daemon=True).start()
attempt("waiter passed within 0.3 s", lambda: passed.wait(0.3))
attempt("remove", b.remove)
out("waiter passed: %s (returned %r)" % (passed.wait(WAIT), result.get("value")))
attempt("remove again", b.remove)

# DoubleBarrier: nobody proceeds until both have entered, nobody leaves until
# both leave.
entered = {}
left = {}
done = {}


def participant(client, name):
    db = client.DoubleBarrier(ROOT + "/double", 2, identifier=name)
    db.enter()
    entered[name] = True
    db.leave()
    left[name] = True
    done[name].set()


done = {"a": threading.Event(), "b": threading.Event()}
t = threading.Thread(target=participant, args=(c1, "a"), daemon=True)
t.start()
out("a alone gets through enter: %s" % done["a"].wait(0.5))
out("a entered alone: %s" % entered.get("a", False))
threading.Thread(target=participant, args=(c2, "b"), daemon=True).start()
out("both done: %s" % (done["a"].wait(WAIT) and done["b"].wait(WAIT)))
out("entered: %s, left: %s" % (sorted(entered), sorted(left)))
attempt("double barrier children left", lambda: sorted(c1.get_children(ROOT + "/double")))
stop(c1, c2)
