// Package acl owns ZooKeeper's access-control rules for the built-in schemes:
// world, auth, super and the default providers digest and ip. It computes
// digest identities (DigestAuthenticationProvider), turns auth packets into
// connection identities, decides whether identities pass a node's ACL
// (ZooKeeperServer.checkACL), validates and expands the ACL of create and
// setACL (PrepRequestProcessor.fixupACL), and hides digest hashes from
// getACL callers without ADMIN (FinalRequestProcessor).
//
// Errors that reach clients are proto.Code values (proto.ErrInvalidACL,
// proto.ErrAuthFailed). Functions are pure and safe for concurrent use; the
// package holds no state, never does I/O and knows nothing about znodes,
// sessions or connections beyond the ids it is given. Optional providers
// (sasl, x509, key) are not supported: their schemes are unknown here.
package acl
