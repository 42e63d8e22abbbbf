package dist

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// What happened to an unroll the learner received (Record.Status).
const (
	Used      = "used"
	Stale     = "stale"     // older than MaxPolicyLag: dropped, acked with the checkpoint
	Duplicate = "duplicate" // consumed before (a redelivery after a crash): dropped
	Dead      = "dead"      // did not decode: moved to the dead-letter stream
	Refused   = "refused"   // acted under another run config: terminated
)

// Record describes one unroll the learner received.
type Record struct {
	ID      ID
	Version int64 // the weights' version it was acted with
	Lag     int64 // the learner's version when it arrived, less Version
	Status  string
	Reason  string // for Dead and Refused
	// Latency is the time from the actor's first publish attempt to the learner's receipt
	// (0 when the header is missing; across machines it includes their clocks' offset).
	Latency time.Duration
}

// SourceOptions configure a learner's Source.
type SourceOptions struct {
	// Width unrolls of Steps steps make a batch [Steps, Width].
	Width, Steps int
	// Config is the learner's run config and ConfigHash its hash: an unroll with another
	// hash is refused, naming the fields that differ (from the actor's lease).
	Config     any
	ConfigHash string
	// MaxPolicyLag drops unrolls acted with weights more than this many versions old (0:
	// keep all; V-trace corrects for the lag).
	MaxPolicyLag int64
	// Version returns the learner's current weights version.
	Version func() int64
	// Log, when set, sees every unroll received, in order.
	Log func(Record)
	// Warn, when set, gets messages for the user (refused actors, waiting for actors).
	Warn func(string)
}

// Counts are the unrolls a Source received, by what became of them.
type Counts struct {
	Used       int `json:"used"`
	Stale      int `json:"stale"`
	Duplicates int `json:"duplicates"`
	Dead       int `json:"dead"`
	Refused    int `json:"refused"`
}

type sourceState struct {
	Frames int               `json:"frames"`
	HWM    map[string]uint64 `json:"hwm"` // per actor/incarnation, the highest Seq consumed
	Counts Counts            `json:"counts"`
}

type leaf struct {
	key   string
	dtype tensor.DType
	shape []int // per step
	row   int   // bytes per step
}

// Source is the learner's collector: batches [Steps, Width] assembled from unrolls [Steps, 1]
// pulled from the run's stream. Nothing is acked until Commit (see the package doc).
type Source struct {
	ctx  context.Context
	r    *Run
	cons jetstream.Consumer
	o    SourceOptions

	st        sourceState
	held      []jetstream.Msg // received, not yet acked
	heldBytes int64
	snapHeld  int // len(held) at the last Snapshot: what Commit acks
	template  []leaf
	pending   []*tensordict.Dict
	out       *tensordict.Dict
	warned    map[string]bool
	lastData  time.Time
	received  uint64 // the highest stream sequence received
}

// learnerConsumer is the learner's durable consumer on the unroll stream.
const learnerConsumer = "learner"

// NewSource starts a fresh consumer on the run's unrolls (delivery from the oldest unacked
// message); ctx ends a Next that is waiting.
func (r *Run) NewSource(ctx context.Context, o SourceOptions) (*Source, error) {
	if o.Width < 1 || o.Steps < 1 {
		return nil, fmt.Errorf("dist: SourceOptions.Width %d and Steps %d must be positive", o.Width, o.Steps)
	}
	if o.Version == nil {
		o.Version = func() int64 { return 0 }
	}
	if err := r.Unrolls.DeleteConsumer(ctx, learnerConsumer); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, fmt.Errorf("dist: reset the learner's consumer: %w", err)
	}
	cons, err := r.Unrolls.CreateConsumer(ctx, jetstream.ConsumerConfig{Durable: learnerConsumer, AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: time.Hour, MaxAckPending: -1, DeliverPolicy: jetstream.DeliverAllPolicy, MaxRequestBatch: 0})
	if err != nil {
		return nil, fmt.Errorf("dist: the learner's consumer: %w", err)
	}
	return &Source{ctx: ctx, r: r, cons: cons, o: o, st: sourceState{HWM: map[string]uint64{}}, warned: map[string]bool{}, lastData: time.Now()}, nil
}

// Frames returns the frames of the batches Next has returned.
func (s *Source) Frames() int { return s.st.Frames }

// Counts returns what became of the unrolls received so far.
func (s *Source) Counts() Counts { return s.st.Counts }

// Received returns the highest stream sequence this Source has received (the learner
// publishes it with Run.SetReceived: actors hold back against it).
func (s *Source) Received() uint64 { return s.received }

// Held returns the unrolls received and not yet acked, and their bytes.
func (s *Source) Held() (int, int64) { return len(s.held), s.heldBytes }

// NeedsCommit reports whether so much is held unacked that a checkpoint (then Commit) should
// come now: a full stream would stop the actors.
func (s *Source) NeedsCommit() bool {
	return s.heldBytes > s.r.o.MaxBytes/2 || len(s.held) > 50_000
}

// Next returns the next batch [Steps, Width], valid until the next call.
func (s *Source) Next() (*tensordict.Dict, error) {
	for len(s.pending) < s.o.Width {
		if err := s.ctx.Err(); err != nil {
			return nil, err
		}
		mb, err := s.cons.Fetch(s.o.Width-len(s.pending), jetstream.FetchMaxWait(time.Second))
		if err != nil {
			if s.ctx.Err() != nil {
				return nil, s.ctx.Err()
			}
			time.Sleep(100 * time.Millisecond) // the broker is away: the client reconnects
			continue
		}
		n := 0
		for m := range mb.Messages() {
			n++
			if err := s.receive(m); err != nil {
				return nil, err
			}
		}
		if n == 0 && time.Since(s.lastData) > 10*time.Second && s.o.Warn != nil {
			s.lastData = time.Now()
			members, _ := s.r.ListMembers(s.ctx)
			s.o.Warn(fmt.Sprintf("waiting for unrolls: %d actors hold a lease on run %s (start some: train actor --broker URL --run %s)", len(members), s.r.Name, s.r.Name))
		}
	}
	b, err := s.assemble(s.pending[:s.o.Width])
	s.pending = s.pending[s.o.Width:]
	if err != nil {
		return nil, err
	}
	s.st.Frames += s.o.Steps * s.o.Width
	return b, nil
}

func (s *Source) receive(m jetstream.Msg) error {
	s.lastData = time.Now()
	if md, err := m.Metadata(); err == nil {
		s.received = max(s.received, md.Sequence.Stream)
	}
	id, version, hash, err := parseID(m.Headers())
	if err != nil {
		return s.dead(m, ID{}, err.Error())
	}
	rec := Record{ID: id, Version: version, Lag: s.o.Version() - version}
	if ns, err := strconv.ParseInt(m.Headers().Get(HdrSent), 10, 64); err == nil {
		rec.Latency = time.Since(time.Unix(0, ns))
	}
	if hash != s.o.ConfigHash {
		rec.Status, rec.Reason = Refused, "config "+hash+", the learner's "+s.o.ConfigHash
		s.st.Counts.Refused++
		s.refuse(id, hash)
		s.log(rec)
		return m.Term()
	}
	k := id.stream()
	if id.Seq <= s.st.HWM[k] {
		rec.Status = Duplicate
		s.st.Counts.Duplicates++
		s.hold(m)
		s.log(rec)
		return nil
	}
	if s.o.MaxPolicyLag > 0 && rec.Lag > s.o.MaxPolicyLag {
		rec.Status = Stale
		s.st.Counts.Stale++
		s.st.HWM[k] = id.Seq
		s.hold(m)
		s.log(rec)
		return nil
	}
	d, err := tensordict.Unmarshal(m.Data())
	if err == nil {
		err = s.check(d)
	}
	if err != nil {
		return s.dead(m, id, err.Error())
	}
	rec.Status = Used
	s.st.Counts.Used++
	s.st.HWM[k] = id.Seq
	s.hold(m)
	s.pending = append(s.pending, d)
	s.log(rec)
	return nil
}

func (s *Source) log(r Record) {
	if s.o.Log != nil {
		s.o.Log(r)
	}
}

func (s *Source) hold(m jetstream.Msg) {
	s.held = append(s.held, m)
	s.heldBytes += int64(len(m.Data()))
}

// dead moves an undecodable unroll to the dead-letter stream with the reason, and goes on.
func (s *Source) dead(m jetstream.Msg, id ID, reason string) error {
	s.st.Counts.Dead++
	dm := &nats.Msg{Subject: "maestro." + s.r.Name + ".dead", Data: m.Data(), Header: nats.Header{}}
	for k, v := range m.Headers() {
		dm.Header[k] = v
	}
	dm.Header.Set(HdrReason, reason)
	if _, err := s.r.JS.PublishMsg(s.ctx, dm); err != nil {
		return fmt.Errorf("dist: dead-letter %s: %w", id, err)
	}
	if s.o.Warn != nil && s.st.Counts.Dead <= 5 {
		s.o.Warn(fmt.Sprintf("unroll %s does not decode (%s): moved to stream %s-dead", id, reason, s.r.Name))
	}
	s.log(Record{ID: id, Status: Dead, Reason: reason})
	return m.Term()
}

func (s *Source) refuse(id ID, hash string) {
	if s.warned[id.stream()] || s.o.Warn == nil {
		return
	}
	s.warned[id.stream()] = true
	why := "its lease is gone"
	if e, err := s.r.Members.Get(s.ctx, id.Actor); err == nil {
		var m Member
		if json.Unmarshal(e.Value(), &m) == nil {
			if diff, err := ConfigDiff(s.o.Config, m.Config); err == nil && len(diff) > 0 {
				why = strings.Join(diff, "; ")
			} else if err == nil {
				why = "same fields, another code version"
			}
		}
	}
	s.o.Warn(fmt.Sprintf("refused the unrolls of actor %s (config %s, the learner's %s): %s; restart it with the learner's flags", id.stream(), hash, s.o.ConfigHash, why))
}

// check validates an unroll against the first one's layout: batch [Steps, 1], the same keys
// with the same dtypes and shapes, tensors only.
func (s *Source) check(d *tensordict.Dict) error {
	if bs := d.BatchShape(); !slices.Equal(bs, []int{s.o.Steps, 1}) {
		return fmt.Errorf("batch shape %v, the learner wants [%d 1] (--frames-per-batch differs?)", bs, s.o.Steps)
	}
	keys := d.LeafKeys()
	if s.template == nil {
		for _, k := range keys {
			t, err := d.Get(k)
			if err != nil {
				return fmt.Errorf("leaf %s: %v (only tensors travel in unrolls)", k, err)
			}
			sh := t.Shape()[2:]
			n := t.DType().Size()
			for _, x := range sh {
				n *= x
			}
			s.template = append(s.template, leaf{key: k, dtype: t.DType(), shape: sh, row: n})
		}
		return nil
	}
	if len(keys) != len(s.template) {
		return fmt.Errorf("%d leaves, the first unroll had %d", len(keys), len(s.template))
	}
	for _, l := range s.template {
		t, err := d.Get(l.key)
		if err != nil {
			return fmt.Errorf("no leaf %s", l.key)
		}
		if t.DType() != l.dtype || !slices.Equal(t.Shape()[2:], l.shape) {
			return fmt.Errorf("leaf %s is %v %v, the first unroll's %v %v", l.key, t.DType(), t.Shape()[2:], l.dtype, l.shape)
		}
	}
	return nil
}

// assemble writes unrolls [Steps, 1] side by side into the batch [Steps, Width].
func (s *Source) assemble(us []*tensordict.Dict) (*tensordict.Dict, error) {
	T, B := s.o.Steps, s.o.Width
	if s.out == nil {
		s.out = tensordict.New(T, B)
		for _, l := range s.template {
			t, err := tensor.New(l.dtype, append([]int{T, B}, l.shape...)...)
			if err != nil {
				return nil, err
			}
			if err := s.out.Set(l.key, t); err != nil {
				return nil, err
			}
		}
	}
	for _, l := range s.template {
		dst, _ := s.out.Get(l.key)
		db := dst.Bytes()
		for b, u := range us {
			src, _ := u.Get(l.key)
			sb := src.Bytes()
			for t := 0; t < T; t++ {
				copy(db[(t*B+b)*l.row:(t*B+b+1)*l.row], sb[t*l.row:(t+1)*l.row])
			}
		}
	}
	return s.out, nil
}

// Snapshot saves the frames, counts and high-water marks; the messages held now are those
// Commit acks once the checkpoint holding this snapshot is on disk.
func (s *Source) Snapshot() ([]byte, error) {
	if len(s.pending) > 0 { // Next fetches no more than a batch needs, so none are left between calls
		return nil, fmt.Errorf("dist: snapshot with %d unrolls received but not in a batch", len(s.pending))
	}
	s.snapHeld = len(s.held)
	return json.Marshal(s.st)
}

// Restore restores a Snapshot (before the first Next).
func (s *Source) Restore(b []byte) error {
	var st sourceState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("dist: source state: %w (a checkpoint of a run without --broker?)", err)
	}
	if st.HWM == nil {
		return errors.New("dist: source state has no high-water marks: the checkpoint is of a run without --broker")
	}
	s.st = st
	return nil
}

// Commit acks the messages held at the last Snapshot; call it after that checkpoint is on
// disk. Pending unrolls not yet in a batch stay held.
func (s *Source) Commit() error {
	n := s.snapHeld
	if n == 0 {
		return nil
	}
	for _, m := range s.held[:n] {
		if err := m.Ack(); err != nil {
			return fmt.Errorf("dist: ack: %w", err)
		}
		s.heldBytes -= int64(len(m.Data()))
	}
	last, err := s.held[n-1].Metadata()
	s.held = append(s.held[:0], s.held[n:]...)
	s.snapHeld = 0
	if err != nil {
		return fmt.Errorf("dist: ack: %w", err)
	}
	// Acks are fire-and-forget: wait until the broker's ack floor covers them, so a Commit
	// that returns means the stream has let go of them.
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	for {
		info, err := s.cons.Info(ctx)
		if err == nil && info.AckFloor.Stream >= last.Sequence.Stream {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("dist: the broker did not confirm the acks up to stream sequence %d within 30s (%v); they will be redelivered and dropped as duplicates", last.Sequence.Stream, err)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// Close leaves the held messages unacked (they go to the next learner process).
func (s *Source) Close() error { return nil }
