package dist

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/maestro-rl/maestro/tensordict"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Headers of an unroll message.
const (
	HdrActor       = "Maestro-Actor"
	HdrIncarnation = "Maestro-Incarnation"
	HdrSeq         = "Maestro-Seq"
	HdrVersion     = "Maestro-Version" // the weights' version the unroll was acted with
	HdrConfig      = "Maestro-Config"  // the hash of the actor's run config
	HdrReason      = "Maestro-Reason"  // why a dead letter died
	HdrSent        = "Maestro-Sent"    // when the actor first published it (Unix nanoseconds)
)

// ID names one unroll: the actor, its incarnation (a new one each time the process starts)
// and the unroll's number within it, from 1.
type ID struct {
	Actor       string
	Incarnation uint64
	Seq         uint64
}

func (id ID) String() string { return fmt.Sprintf("%s/%d/%d", id.Actor, id.Incarnation, id.Seq) }

func (id ID) stream() string { return fmt.Sprintf("%s/%d", id.Actor, id.Incarnation) }

// Publisher is an actor's side of the unroll stream.
type Publisher struct {
	r      *Run
	id     ID
	config string
	// Published counts the unrolls the broker acknowledged; Retries the publishes repeated
	// (broker away, stream full).
	Published, Retries int
	// HeldBack is the time Publish spent waiting for the learner to catch up (RunOptions.MaxAhead).
	HeldBack time.Duration

	maxAhead  int64
	limitRead time.Time
	lastSeq   uint64 // the stream sequence of this actor's newest unroll
	recv      uint64 // the learner's received mark, as last read
}

// NewPublisher publishes for actor (letters, digits, - and _), incarnation inc, under the
// run config hash config.
func (r *Run) NewPublisher(actor string, inc uint64, config string) (*Publisher, error) {
	if !runName.MatchString(actor) {
		return nil, fmt.Errorf("dist: actor name %q: use 1-64 letters, digits, - or _", actor)
	}
	return &Publisher{r: r, id: ID{Actor: actor, Incarnation: inc}, config: config}, nil
}

// Next returns the ID the next Publish will use.
func (p *Publisher) Next() ID { id := p.id; id.Seq++; return id }

// Publish sends one unroll acted with weights version, and returns its ID once the broker
// has stored it. While the broker is away or the stream is full it retries the same message
// (the broker drops a repeat by its ID) until ctx ends.
func (p *Publisher) Publish(ctx context.Context, unroll *tensordict.Dict, version int64) (ID, error) {
	data, err := tensordict.Marshal(unroll)
	if err != nil {
		return ID{}, err
	}
	id := p.Next()
	if max := p.r.NC.MaxPayload(); int64(len(data)) > max-4096 {
		return ID{}, fmt.Errorf("dist: an unroll of %d bytes exceeds the broker's max payload %d; use fewer --frames-per-batch or fewer envs per actor", len(data), max)
	}
	m := &nats.Msg{Subject: p.r.subject() + "." + id.Actor, Data: data, Header: nats.Header{}}
	m.Header.Set(HdrActor, id.Actor)
	m.Header.Set(HdrIncarnation, strconv.FormatUint(id.Incarnation, 10))
	m.Header.Set(HdrSeq, strconv.FormatUint(id.Seq, 10))
	m.Header.Set(HdrVersion, strconv.FormatInt(version, 10))
	m.Header.Set(HdrConfig, p.config)
	if err := p.holdBack(ctx); err != nil {
		return ID{}, err
	}
	m.Header.Set(HdrSent, strconv.FormatInt(time.Now().UnixNano(), 10))
	wait := 50 * time.Millisecond
	for {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		ack, err := p.r.JS.PublishMsg(pctx, m, jetstream.WithMsgID(id.String()))
		cancel()
		if err == nil {
			p.lastSeq = max(p.lastSeq, ack.Sequence)
			p.id = id
			p.Published++
			return id, nil
		}
		if ctx.Err() != nil {
			return ID{}, ctx.Err()
		}
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && permanent[apiErr.ErrorCode] || errors.Is(err, nats.ErrConnectionClosed) {
			return ID{}, fmt.Errorf("dist: publish %s: %w", id, err)
		}
		p.Retries++ // the broker is away (restarting) or the stream is full (a slow learner)
		select {
		case <-ctx.Done():
			return ID{}, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// holdBack waits while MaxAhead unrolls or more are ahead of the learner: from the stream
// sequence of this actor's last publish (other actors' since then are not counted) to the
// learner's received mark. It asks the broker only when the mark it last read says so, so an
// actor with room makes no extra round trips. A broker that does not answer is not waited for
// here: Publish's retries ride that out.
func (p *Publisher) holdBack(ctx context.Context) error {
	if time.Since(p.limitRead) > 5*time.Second { // the learner may restart with another bound
		p.maxAhead, p.limitRead = p.r.maxAhead(ctx), time.Now()
	}
	if p.maxAhead <= 0 || p.lastSeq < p.recv+uint64(p.maxAhead) {
		return nil
	}
	start := time.Now()
	defer func() { p.HeldBack += time.Since(start) }()
	for pause := time.Millisecond; ; pause = min(2*pause, 50*time.Millisecond) {
		recv, ok, err := p.r.received(ctx)
		if err != nil || !ok { // no mark: a learner of no bound
			return nil
		}
		if p.recv = recv; p.lastSeq < recv+uint64(p.maxAhead) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
	}
}

// permanent are the publish errors a retry cannot mend (anything else: the broker restarting,
// a timeout, a full stream, code 10077, is retried).
var permanent = map[jetstream.ErrorCode]bool{jetstream.JSErrCodeBadRequest: true, jetstream.JSErrCodeStreamNotFound: true,
	jetstream.JSErrCodeStreamMessageExceedsMaximum: true}

// parseID reads an unroll's ID, weights version and config hash from its headers.
func parseID(h nats.Header) (ID, int64, string, error) {
	id := ID{Actor: h.Get(HdrActor)}
	if id.Actor == "" {
		return ID{}, 0, "", errors.New("no " + HdrActor + " header")
	}
	var err error
	if id.Incarnation, err = strconv.ParseUint(h.Get(HdrIncarnation), 10, 64); err != nil {
		return ID{}, 0, "", fmt.Errorf("header %s: %v", HdrIncarnation, err)
	}
	if id.Seq, err = strconv.ParseUint(h.Get(HdrSeq), 10, 64); err != nil || id.Seq == 0 {
		return ID{}, 0, "", fmt.Errorf("header %s %q: want a positive integer", HdrSeq, h.Get(HdrSeq))
	}
	v, err := strconv.ParseInt(h.Get(HdrVersion), 10, 64)
	if err != nil || v < 0 {
		return ID{}, 0, "", fmt.Errorf("header %s %q: want a non-negative integer", HdrVersion, h.Get(HdrVersion))
	}
	return id, v, h.Get(HdrConfig), nil
}
