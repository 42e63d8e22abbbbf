// Package dist carries a training run past one process over NATS JetStream: actors publish
// unrolls to a stream that the learner pulls with explicit acks, the learner publishes its
// weights (Object Store blob, KV version) that actors refresh between unrolls, actors hold a
// lease in a KV bucket with a TTL, and a work queue spreads jobs (caption pairs to label) over
// any number of workers. Embedded starts an in-process NATS server with its store on disk, so
// one machine runs the same code path as a cluster.
//
// # Layout on the broker
//
// A run named R (Validate's characters) owns:
//   - stream "R-unrolls" (subjects maestro.R.unrolls.<actor>), work-queue retention, MaxBytes
//     with DiscardNew (a full stream refuses a publish: the actor waits, the disk stays
//     bounded), duplicate window over message IDs "<actor>/<incarnation>/<seq>";
//   - stream "R-dead" (subject maestro.R.dead): unrolls that did not decode, with the reason;
//   - KV bucket "R-run": the run's config and the weights' version; object store "R-weights";
//   - KV bucket "R-members" with a TTL: one key per live actor.
//
// Every stream and bucket carries the protocol version in its metadata; a run created by
// another version is refused with both versions named.
//
// # Exactly once
//
// An actor numbers its messages per incarnation and publishes one at a time, waiting for the
// broker's ack, so within an incarnation sequence numbers reach the stream in order. The
// learner acks nothing until its checkpoint holds what it learnt from them (Source.Commit,
// after the checkpoint is on disk), keeps per incarnation the highest sequence number it has
// consumed in that checkpoint, and starts each process with a fresh consumer, so delivery
// restarts at the oldest unacked message in stream order: anything at or below the high-water
// mark was consumed before a crash and is dropped as a duplicate; anything above it is new.
// A kill -9 of an actor, of the learner or of the broker therefore loses and repeats nothing
// that the broker acknowledged.
//
// # Invariants
//   - Credentials in a broker URL never reach logs or files: Redact is applied to every URL
//     that is printed or stored.
//   - Source is not safe for concurrent use; Publisher is not either (one per actor).
package dist
