/*
Package storage owns zkd's files, written in Apache ZooKeeper 3.8's exact
on-disk format so that either server can start from the other's data
directory: transaction logs, snapshots, the epoch files and myid. It also
owns the small file system interface the files are written through (OSFS,
and for tests the crashable MemFS and the error-injecting ErrorFS) and
group commit (Committer).

It never interprets txns or the data tree: log entries are opaque bytes
(TxnHeader + body + TxnDigest, built by package txn) of which only the zxid
is read, and a snapshot's tree body is written and read by callbacks
(package tree). It never decides when to snapshot, roll or purge.

# Directory layout

	<dataDir>/myid                      server id, decimal text (quorum only)
	<dataDir>/version-2/snapshot.<zxid>  snapshot; ".gz" / ".snappy" when compressed
	<dataDir>/version-2/currentEpoch     decimal text, no newline
	<dataDir>/version-2/acceptedEpoch    decimal text, no newline
	<dataLogDir>/version-2/log.<zxid>    transaction log (dataLogDir defaults to dataDir)

<zxid> is lowercase hex without leading zeros (log.1, snapshot.c,
log.100000001). A log is named for its first txn; a snapshot for the last
txn applied when it started. Files are ordered by that zxid, not by name.
zkd also leaves "<name>.tmp" while writing a snapshot or epoch file, and
renames a snapshot that fails to load to "<name>.broken".

All numbers below are big-endian, in ZooKeeper's jute encoding (int = 4
bytes, long = 8, ustring = int length + UTF-8 bytes).

# Transaction log

	+----------------+----------------+--------------------------------+
	| magic "ZKLG"   | version 2      | dbid 0 (long)                  |  FileHeader, 16 bytes
	| 5A 4B 4C 47    | 00 00 00 02    | 00 00 00 00 00 00 00 00        |
	+----------------+----------------+--------------------------------+
	| record | record | ... | record | 00 00 00 ... 00 (preallocated)   |
	+------------------------------------------------------------------+

	record:
	+--------------------------------+----------------+-----------//----------+------+
	| checksum (long)                | length (int)   | entry (length bytes)  | 0x42 |
	| Adler32 of the entry bytes     | >= 32          | TxnHeader, body,      | 'B'  |
	| only, 0 .. 2^32-1              |                | optional TxnDigest    |      |
	+--------------------------------+----------------+-----------//----------+------+

	entry's TxnHeader (32 bytes):
	long clientId | int cxid | long zxid | long time | int type

The checksum covers the entry alone (not the length or the 'B', whatever
the comment in ZooKeeper's FileTxnLog says). The dbid is written as 0 and
never checked, as in ZooKeeper. Lengths up to jute.maxbuffer +
max(1024, jute.maxbuffer) are accepted, like ZooKeeper's reader
(jute.maxbuffer.extrasize).

Preallocation (FilePadding): before each record is appended, if its start
offset is within 4096 bytes of the file's current size, the file grows by
one preAllocSize block (64 MiB by default) by writing a single zero byte at
the new end - 1, which the file system keeps sparse. A new log is thus
16 + 67108864 bytes long. ZooKeeper 3.8 measures the offset at the bytes
flushed from its 8 KiB output buffer, zkd at the record's own start, so the
block may be added up to one buffer of records earlier; sizes stay
16 + k * preAllocSize either way.

After a restart the first append opens a new file (ZooKeeper does the same),
and Roll starts a new file at the next append (after a snapshot).

Reading stops cleanly at end of file or at a zero length field followed by
zeros only (the unused preallocated space). Any other record that fails its
checks (length out of range, record cut short by end of file, missing 'B',
checksum mismatch) is either a torn write or corruption:

  - it is a torn write when its length field is zero, or its claimed bytes
    run past end of file, overlap a zero-filled 512-byte sector (counting
    from the record's start), or end in zeros running to the end of their
    sector; and no valid record starts after it before that zero sector (or
    end of file). That is what a crash during an unsynced append leaves:
    written pages and never-written zero pages, possibly cut short.
  - anything else is corruption: an error matching ErrCorrupt (a
    *CorruptError) naming the file and the record's offset. In particular
    a checksum mismatch in a complete record, and any bad record followed by
    a valid one with no zero sector in between, because data written after
    it was once acknowledged (etcd's isTornEntry reasoning).

Damage confined to the last record of the newest file that makes it look
torn (say a bit flip in its length that points into the zero tail) cannot
be told apart from a torn write, so that record is dropped, as etcd does.

OpenLog (RecoverLog: CheckLog, then ApplyRepairs) repairs only the newest file: a torn tail is cut off
(logging the offset and bytes dropped) and fsynced; a newest file left
without records is removed. ReadLog never modifies files and ends a file at
a torn tail, going on with the next one, because ZooKeeper leaves torn tails
in older files after a restart. It also checks that replay continues from
the snapshot: within one epoch the first txn after fromZxid must be
fromZxid+1 (ErrLogGap), and zxids must increase.

Durability: Log.Sync writes the buffered records, fdatasyncs the active
file (and files rolled away from), and fsyncs the directory once after a
file was created. A failed write or fsync stops the Log for good
(ErrLogFailed): what reached the disk is unknown, so the server must stop
accepting writes. Committer batches: one writer goroutine appends every
queued record, fsyncs once and completes them in order.

# Snapshot

Written to "<name>.tmp", fsynced, renamed, and the directory fsynced.

	+----------------+----------------+--------------------------------+
	| magic "ZKSN"   | version 2      | dbid -1 (long)                 |  FileHeader, 16 bytes
	| 5A 4B 53 4E    | 00 00 00 02    | FF FF FF FF FF FF FF FF        |
	+----------------+----------------+--------------------------------+
	| int count | count x (long sessionId, int timeoutMs)              |  sessions (zkd sorts by id)
	+------------------------------------------------------------------+
	| tree body, written and read by package tree:                     |
	|   int n, n x (long aclId, vector<ACL>)       the ACL cache       |
	|   per node, parents first: ustring path ("" for the root),       |
	|     buffer data, long aclId, StatPersisted (60 bytes)            |
	|   ustring "/"                                 end of nodes       |
	+------------------------------------------------------------------+
	| long Adler32 of every byte above | 00 00 00 01 2F ("/")          |  seal
	+------------------------------------------------------------------+
	| long zxid | int digestVersion 2 | long digest                    |  ZxidDigest (if digest enabled)
	+------------------------------------------------------------------+
	| long Adler32 of every byte above | 00 00 00 01 2F ("/")          |  seal
	+------------------------------------------------------------------+
	| long lastProcessedZxid | seal                                    |  ZooKeeper 3.9 only; read, never written
	+------------------------------------------------------------------+

The checksums run over the uncompressed bytes. A snapshot counts as complete
only if it ends with 00 00 00 01 2F, which an uncompressed file's last
bytes show before anything else is read. The file is then read as a
stream, through a window of 256 KiB (inflated on the way when
compressed), never whole: each seal's Adler32 is computed as the bytes go
by and checked where the seal sits, so the tree body is parsed before the
file is known to be sound, and a tree built from a snapshot whose seal
then fails is thrown away. Loading tries the newest snapshot first and
walks back (at most 100); one that fails is renamed "<name>.broken" and
logged (etcd's snapshotter; ZooKeeper just skips it). A read that fails
(the disk, not the bytes) stops the load and renames nothing.

Compression (zookeeper.snapshot.compression.method): ".gz" is a gzip
stream (java.util.zip.GZIPOutputStream); ".snappy" is snappy-java's
SnappyOutputStream framing, not the snappy framing format:

	+----------------------------+----------------+----------------+
	| 82 53 4E 41 50 50 59 00    | version 1      | compatible 1   |  16-byte stream header
	+----------------------------+----------------+----------------+
	| int n | n bytes: one raw snappy block of up to 32 KiB input  |  repeated
	+-------------------------------------------------------------+

# Epoch and myid files

currentEpoch and acceptedEpoch hold a decimal long without a newline, and
are replaced atomically ("<name>.tmp", fsync, rename, directory fsync). A
leftover currentEpoch.tmp is what ZooKeeper consults when currentEpoch is
behind the last logged epoch. myid and the epoch files are parsed like
Java's readLine + Long.parseLong: the first line, untrimmed.

# Retention

Purge keeps the newest N (>= 3) snapshots that pass the completeness check
and deletes snapshot and log files named below the oldest kept one, except
the log holding that snapshot's zxid (PurgeTxnLog's rule).
*/
package storage
