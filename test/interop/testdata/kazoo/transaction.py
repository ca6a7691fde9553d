"""kazoo transactions (multi): a committed one, failing ones, and what each
operation reports."""
from common import attempt, connect, fmt_result, fmt_stat, out, stop

ROOT = "/kazoo-txn"

c = connect()
attempt("create root", c.create, ROOT)


def commit(label, build):
    t = c.transaction()
    build(t)
    try:
        results = t.commit()
    except Exception as e:  # a transaction that cannot be sent at all
        out("%s: raised %s" % (label, type(e).__name__))
        return
    out("%s: %d results" % (label, len(results)))
    for i, r in enumerate(results):
        out("  [%d] %s" % (i, fmt_result(r)))


commit("committed", lambda t: (
    t.create(ROOT + "/a", b"a"),
    t.create(ROOT + "/s-", sequence=True),
    t.create(ROOT + "/e", b"e", ephemeral=True),
    t.set_data(ROOT + "/a", b"a2", version=0),
    t.check(ROOT + "/a", 1),
    t.delete(ROOT + "/s-0000000001"),
))
attempt("a after commit", c.get, ROOT + "/a")
attempt("children after commit", lambda: sorted(c.get_children(ROOT)))

def failing_check(t):
    t.create(ROOT + "/b", b"b")
    t.set_data(ROOT + "/a", b"a3")
    t.check(ROOT + "/a", 99)
    t.delete(ROOT + "/e")


commit("failing check", failing_check)
attempt("b after failed transaction", c.exists, ROOT + "/b")
attempt("a after failed transaction", c.get, ROOT + "/a")

commit("failing first op", lambda t: (t.create(ROOT + "/a"), t.create(ROOT + "/c")))
commit("failing last op", lambda t: (t.create(ROOT + "/c"), t.delete(ROOT + "/missing")))
commit("create under ephemeral", lambda t: (t.create(ROOT + "/e/x"),))
commit("delete non-empty", lambda t: (t.create(ROOT + "/d"), t.create(ROOT + "/d/x"), t.delete(ROOT + "/d")))
commit("empty", lambda t: None)

with c.transaction() as t:
    t.create(ROOT + "/ctx", b"with")
out("context-manager transaction committed: %s" % fmt_result(c.exists(ROOT + "/ctx")))
attempt("root", c.exists, ROOT)
stop(c)
