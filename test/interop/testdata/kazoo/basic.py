"""kazoo basics: create/get/set/delete/exists/children, ACLs and auth,
sync, reconfig in standalone, server_version() and four-letter commands."""
import os
import sys

from kazoo.security import make_digest_acl, make_acl, OPEN_ACL_UNSAFE

from common import attempt, connect, fmt_acls, fmt_stat, out, stop

ROOT = "/kazoo-basic"

c = connect()
out("session: 0x%x" % c.client_id[0])
out("password length: %d" % len(c.client_id[1]))

attempt("create root", c.create, ROOT, b"root")
attempt("create existing", c.create, ROOT)
attempt("create makepath", c.create, ROOT + "/a/b/c", b"deep", makepath=True)
attempt("create without parent", c.create, ROOT + "/x/y")
attempt("create ephemeral", c.create, ROOT + "/eph", b"e", ephemeral=True)
attempt("create sequence", c.create, ROOT + "/seq-", sequence=True)
attempt("create ephemeral sequence", c.create, ROOT + "/eseq-", ephemeral=True, sequence=True)
attempt("create under ephemeral", c.create, ROOT + "/eph/child")
attempt("create include_data", c.create, ROOT + "/withstat", b"w", include_data=True)
attempt("ensure_path existing", c.ensure_path, ROOT + "/a/b")
attempt("ensure_path new", c.ensure_path, ROOT + "/p/q/r")

attempt("get root", c.get, ROOT)
attempt("get ephemeral", c.get, ROOT + "/eph")
attempt("get missing", c.get, ROOT + "/missing")
attempt("exists root", c.exists, ROOT)
attempt("exists missing", c.exists, ROOT + "/missing")
attempt("set root", c.set, ROOT, b"root2")
attempt("set bad version", c.set, ROOT, b"x", version=7)
attempt("set version 1", c.set, ROOT, b"root3", version=1)
attempt("set missing", c.set, ROOT + "/missing", b"x")

children = attempt("get_children", lambda: sorted(c.get_children(ROOT)))
kids = c.get_children(ROOT, include_data=True)
out("get_children include_data: %s %s" % (sorted(kids[0]), fmt_stat(kids[1])))
attempt("get_children missing", c.get_children, ROOT + "/missing")

attempt("delete non-empty", c.delete, ROOT + "/a")
attempt("delete bad version", c.delete, ROOT + "/a/b/c", version=3)
attempt("delete recursive", c.delete, ROOT + "/a", recursive=True)
attempt("delete missing", c.delete, ROOT + "/a")
attempt("delete missing recursive", c.delete, ROOT + "/a", recursive=True)

# ACLs and digest auth.
attempt("get_acls root", lambda: fmt_acls(c.get_acls(ROOT)[0]))
alice_acl = make_digest_acl("alice", "secret", all=True)
out("make_digest_acl: %s" % fmt_acls([alice_acl]))
attempt("create with alice-only ACL", c.create, ROOT + "/private", b"s", acl=[alice_acl])
attempt("get private without auth", c.get, ROOT + "/private")
attempt("get_acls private without auth", c.get_acls, ROOT + "/private")
attempt("set_acls private without auth", c.set_acls, ROOT + "/private", OPEN_ACL_UNSAFE)
attempt("create empty ACL", c.create, ROOT + "/noacl", acl=[])
attempt("create read-only for anyone", c.create, ROOT + "/ro", b"r",
        acl=[make_acl("world", "anyone", read=True), alice_acl])

a = connect(auth_data=[("digest", "alice:secret")])
attempt("alice get private", a.get, ROOT + "/private")
attempt("alice get_acls private", lambda: fmt_acls(a.get_acls(ROOT + "/private")[0]))
attempt("alice set_acls version 0", a.set_acls, ROOT + "/private", [alice_acl], version=0)
attempt("alice set_acls version 0 again", a.set_acls, ROOT + "/private", [alice_acl], version=0)
attempt("alice set ro", a.set, ROOT + "/ro", b"w")
attempt("anon set ro", c.set, ROOT + "/ro", b"w")
attempt("anon get_acls ro", lambda: fmt_acls(c.get_acls(ROOT + "/ro")[0]))
attempt("add_auth carol", c.add_auth, "digest", "carol:pw")
attempt("create auth ACL as carol", c.create, ROOT + "/carol", acl=[make_acl("auth", "", all=True)])
attempt("carol get_acls", lambda: fmt_acls(c.get_acls(ROOT + "/carol")[0]))

# sync, reconfig, and the server version kazoo reads from 'envi'.
attempt("sync root", c.sync, ROOT)
attempt("sync missing", c.sync, ROOT + "/missing")
# No reconfig: kazoo 2.8 has no exception for -123 (ReconfigDisabled); its
# connection thread dies on it and the call never returns.
attempt("get /zookeeper/config", lambda: a.get("/zookeeper/config")[0])

version = a.server_version()
out("server_version: %d parts, all ints: %s, major: %d" % (
    len(version), all(isinstance(p, int) for p in version), version[0]))
out("command ruok: %r" % a.command(b"ruok"))
out("command isro: %r" % a.command(b"isro"))
envi = a.command(b"envi")
out("command envi: first line %r, has zookeeper.version: %s" % (
    envi.splitlines()[0], any(l.startswith("zookeeper.version=") for l in envi.splitlines())))

stop(a, c)
d = connect()
attempt("ephemeral gone after stop", d.exists, ROOT + "/eph")
attempt("children after stop", lambda: sorted(d.get_children(ROOT)))
stop(d)

# Last, because kazoo does not recover: the server answers AuthFailed and
# closes the connection, and kazoo's connection thread gives up.
e = connect()
attempt("add_auth unknown scheme", e.add_auth, "nosuchscheme", "x")
out("client state after failed auth: %s" % e.state)
sys.stdout.flush()
os._exit(0)
