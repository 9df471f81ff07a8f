// Package embedded is the default [twin.Store]: an embedded key-value store
// (pebble, the LSM engine of CockroachDB, also used by go-ethereum) in a
// local directory. There is no server to install or run.
//
//	db, err := embedded.Open("/var/lib/custos/store")
//	if err != nil { … }
//	defer db.Close()
//
// Open takes functional options ([WithLogger], [WithCacheSize],
// [WithMemTableSize]): they are optional knobs with sensible defaults, each
// validated when Open runs.
//
// # Durability
//
// [DB.Commit] writes a whole [twin.Batch] as one pebble batch and syncs the
// write-ahead log before returning. After a crash (kill -9, power loss) a
// batch is either entirely present or entirely absent. Commits of disjoint
// sets of twins overlap and share WAL syncs (pebble's group commit); a
// commit that writes a twin of a batch still in flight waits for it.
// Readers never block commits and see whole batches only.
//
// # Key layout
//
// The first byte of a key names its space. Twin ids are 1–128 characters
// of [A-Za-z0-9_-]; where an id is followed by more key bytes it is ended by
// 0x00, which sorts below every id character, so the keys of twin "a" never
// interleave with those of "a-" or "ab". Integers are big-endian so that
// byte order is numeric order.
//
//	's' id                                    → snapshot (encoding below)
//	'h' id 0x00 seq(u64)                      → history record
//	'a' id 0x00 n(u64)                        → alert
//	't' time(u64) id 0x00 n(u64)              → empty: alerts of all twins by time
//	'i' field len(uvarint) value id           → empty: secondary index
//	'p' id                                    → empty: twins with processing-time timers
//	'm' name                                  → store metadata ('m' 'p': the 'p' space is complete)
//
// with field 's' (status), 'k' (kind) or 'c' (custodian), and time the Unix
// nanoseconds with the sign bit flipped (so that it sorts), 0 for the zero
// time. Empty values are not indexed.
//
// The queries map onto prefix scans:
//   - Twin: one point read of 's' id.
//   - Twins without filter: scan 's' from After. With filters: scan the
//     index of custodian (else kind, else status) from After, read each
//     snapshot and check the other filters on it. Listing a page of 100 out
//     of a million twins reads about 100 keys.
//   - History: seek 'h' id 0x00 (AfterSeq+1), read forward; a time range is
//     checked record by record, since event time need not follow seq.
//   - Alerts of one twin: seek 'a' id 0x00 (AfterN+1), read forward.
//   - Alerts of all twins: scan 't' backwards between From and To, reading
//     each alert by its 'a' key (and skipping an index entry whose time no
//     longer matches, left by an alert re-committed with another time).
//
// Commit keeps the indexes right when a snapshot's status, kind or
// custodian changes: a snapshot the batch marks [twin.Batch].Same keeps
// them and needs nothing; otherwise Commit knows the indexed fields of
// recently committed twins (an in-memory map, bounded, lost on restart) or
// reads the stored snapshot (a point read) and decodes only its first
// fields, which are the indexed ones, to delete the stale entries. Listing
// re-checks every filter on the snapshot all the same.
//
// The 'p' space lists the twins whose snapshot holds processing-time
// timers ([DB.TimerTwins], a [twin.TimerIndex]): a start loads their timers
// without reading every twin. Every snapshot write sets or deletes its
// entry. A store written before the space existed has no 'm' 'p' mark;
// Open then fills the space once from the snapshots.
//
// # Value encoding
//
// Values are compact, versioned binary (the first byte is the format
// version): the snapshot codec is on the ingest hot path. See codec.go for
// the layouts. Decoders check every length against the bytes present and
// fail with [ErrCorrupt] rather than panic; FuzzDecodeSnapshot holds them to
// that.
package embedded
