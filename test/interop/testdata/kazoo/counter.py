"""kazoo Counter: integer and float counters, concurrent increments."""
import threading

from common import attempt, connect, out, stop

ROOT = "/kazoo-counter"

c1, c2 = connect(), connect()
n = c1.Counter(ROOT + "/int")
out("initial value: %r" % n.value)
n += 5
out("after += 5: %r (pre %r, post %r)" % (n.value, n.pre_value, n.post_value))
n -= 2
out("after -= 2: %r (pre %r, post %r)" % (n.value, n.pre_value, n.post_value))
other = c2.Counter(ROOT + "/int")
out("seen from another session: %r" % other.value)
attempt("stored bytes", lambda: c1.get(ROOT + "/int")[0])

f = c1.Counter(ROOT + "/float", default=0.5)
f += 1.25
out("float counter: %r" % f.value)
attempt("float stored bytes", lambda: c1.get(ROOT + "/float")[0])


def bump(client):
    counter = client.Counter(ROOT + "/shared")
    for _ in range(10):
        counter += 1


threads = [threading.Thread(target=bump, args=(c,)) for c in (c1, c2, c1)]
for t in threads:
    t.start()
for t in threads:
    t.join()
out("30 concurrent increments from 3 threads: %r" % c2.Counter(ROOT + "/shared").value)
attempt("shared stat version", lambda: c1.get(ROOT + "/shared")[1].version)
stop(c1, c2)
