"""kazoo Election: leadership passes in join order; cancel leaves the race."""
import threading
import time

from common import WAIT, attempt, connect, out, stop

ROOT = "/kazoo-election"

clients = {name: connect() for name in ("one", "two", "three")}
elections = {name: c.Election(ROOT, name) for name, c in clients.items()}
leading = {name: threading.Event() for name in clients}
step_down = {name: threading.Event() for name in clients}
finished = {name: threading.Event() for name in clients}


def lead(name):
    leading[name].set()
    step_down[name].wait(WAIT)


def run(name):
    def target():
        elections[name].run(lead, name)
        finished[name].set()
    threading.Thread(target=target, daemon=True).start()


def contenders_reach(n):
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if len(elections["one"].contenders()) == n:
            return True
        time.sleep(0.02)
    return False


run("one")
out("one leads: %s" % leading["one"].wait(WAIT))
run("two")
out("two joined: %s" % contenders_reach(2))
attempt("contenders", elections["one"].contenders)
out("two leads while one leads: %s" % leading["two"].is_set())
step_down["one"].set()
out("one's run returned: %s" % finished["one"].wait(WAIT))
out("two leads after one stepped down: %s" % leading["two"].wait(WAIT))
attempt("contenders", elections["two"].contenders)

run("three")
out("three joined: %s" % contenders_reach(2))
elections["three"].cancel()
out("three's run returned after cancel: %s" % finished["three"].wait(WAIT))
out("three ever led: %s" % leading["three"].is_set())
attempt("contenders after cancel", elections["two"].contenders)

# The leader's session ends: a new contender leads. (Fresh events: three's
# first run already finished.)
finished["three"] = threading.Event()
run("three")
out("three joined again: %s" % contenders_reach(2))
clients["two"].stop()
clients["two"].close()
out("three leads after two's session ended: %s" % leading["three"].wait(WAIT))
attempt("contenders", elections["three"].contenders)
step_down["three"].set()
finished["three"].wait(WAIT)
attempt("contenders at the end", elections["one"].contenders)
stop(clients["one"], clients["three"])
