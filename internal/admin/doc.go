// Package admin is zkd's admin surface: the data an operator asks a server
// for, as plain structs, and its renderings. The server fills the structs
// through Source; the four-letter words on the client port, the
// AdminServer's JSON commands and the Prometheus metrics all read the same
// values, so the three can never disagree (nats-server's Varz/HandleVarz
// split).
//
// The AdminServer also serves zkd's own status page at / (status.go): the
// same Source rendered as HTML, with charts from a one-second sampler of
// the latency summaries, the other members' figures asked of their client
// ports (srvr, mntr), and a read-only tree browser through the optional
// Browser extension of Source.
//
// It owns the formats, which follow Apache ZooKeeper 3.8 byte for byte
// where operators' tools parse them (srvr, mntr, the JSON field names, the
// metric names); it never reaches into the server's state, takes none of
// its locks and decides nothing about the server.
package admin
