// Package launch starts, watches and stops one ZooKeeper-compatible server
// process on a zoo.cfg: Apache ZooKeeper 3.8 from Debian's packages in a
// JVM, or a zkd binary. Every test suite that runs real servers and
// `zkd bench compare` start them through it.
//
// It owns the process, not the server's configuration: callers write their
// zoo.cfg and data directories and say which client address to watch.
// Start refuses a client port that already answers (a readiness check would
// otherwise reach another server); WaitServing polls the port until it
// serves, and its errors carry the end of the server's log; Stop asks with
// SIGTERM and kills after a grace period, Kill is a crash (SIGKILL now), and
// both report how the process ended.
//
// The server writes its stdout and stderr straight into a log file, as the
// launchers it replaces did: a test may read the whole log while the
// server runs. Tails shown on failure are read from that file, at most
// the last 64 KiB written by this process.
//
// LoadPage loads one page in Debian's headless Chromium (the status page's
// tests): the DOM after its scripts ran, the console messages, and a
// screenshot when asked.
//
// It never imports zkd's own packages: zkd is a binary on a port here.
package launch
