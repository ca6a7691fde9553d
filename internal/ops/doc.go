// Package ops holds the logic of zkd's operator commands on an ensemble:
// `zkd status --ensemble`, `zkd drill` and `zkd roll`.
//
// It owns four pieces, each usable on its own:
//   - observing servers through the four-letter words on their client
//     ports (srvr for mode and zxid, as Apache prints them; mntr for the
//     peer state and the quorum size, conf for serverId, both optional
//     since a whitelist may refuse them) and judging an ensemble from
//     those observations (Assess: the leader, the quorum, each server's lag);
//   - the operator's commands: templates such as 'docker kill {name}' or
//     'kill -9 {pid}' expanded per server ({name}, {host}, {port}, {myid},
//     {pid}) and run through sh, or a signal sent to a pid;
//   - the writer: a go-zookeeper client with every server in its list that
//     creates sequential znodes, records which were acknowledged, which
//     failed and which are in doubt (a lost connection), and reads them
//     back to tell whether an acknowledged write was lost;
//   - the drill (stop the leader, measure the failover) and the rolling
//     restart (followers first, leader last, each back and synced before
//     the next) built from the three.
//
// It never stops or restarts anything it was not given a command for, and
// both the drill and the roll refuse to start when the ensemble has no
// quorum to spare. It speaks to servers only as a client does (their
// client ports), so it works the same on zkd and on Apache ZooKeeper.
package ops
