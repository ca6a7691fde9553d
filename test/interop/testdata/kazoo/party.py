"""kazoo Party and ShallowParty: membership follows joins, leaves and sessions."""
from common import attempt, connect, out, stop

ROOT = "/kazoo-party"

for kind in ("Party", "ShallowParty"):
    c1, c2, c3 = connect(), connect(), connect()
    path = "%s/%s" % (ROOT, kind)
    p1 = getattr(c1, kind)(path, "alice")
    p2 = getattr(c2, kind)(path, "bob")
    p3 = getattr(c3, kind)(path, "carol")
    attempt("%s alice joins" % kind, p1.join)
    attempt("%s bob joins" % kind, p2.join)
    attempt("%s carol joins" % kind, p3.join)
    attempt("%s alice joins again" % kind, p1.join)
    out("%s len: %d members: %s" % (kind, len(p1), sorted(p1)))
    attempt("%s bob leaves" % kind, p2.leave)
    attempt("%s bob leaves again" % kind, p2.leave)
    out("%s members: %s" % (kind, sorted(p1)))
    c3.stop()
    c3.close()
    out("%s members after carol's session ended: %s" % (kind, sorted(p1)))
    out("%s nodes: %d" % (kind, len(c1.get_children(path))))
    stop(c1, c2)
