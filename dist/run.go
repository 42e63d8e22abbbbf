package dist

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const protocolKey = "maestro_protocol"

var runName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// RunOptions size a run's objects on the broker.
type RunOptions struct {
	// MaxBytes bounds the unroll stream's storage (0: 1 GiB); a full stream refuses publishes
	// until the learner acks, so a slow learner never fills the disk.
	MaxBytes int64
	// MaxAhead bounds the unrolls published after the last one the learner has said it
	// received (Run.SetReceived, which Reset starts; 0: no bound but MaxBytes): actors that
	// find that many ahead hold back, so they run at most about this far ahead of the learner. That bounds the policy lag, and spends no cores on unrolls the
	// learner would reach only when they are stale. The learner's CreateRun sets it for all.
	MaxAhead int64
	// LeaseTTL is how long an actor's membership lasts without renewal (0: 15s).
	LeaseTTL time.Duration
}

// Run is a training run's streams and buckets on a broker.
type Run struct {
	Name    string
	NC      *nats.Conn
	JS      jetstream.JetStream
	Unrolls jetstream.Stream
	Dead    jetstream.Stream
	KV      jetstream.KeyValue // "config", "weights", "status"
	Members jetstream.KeyValue
	Weights jetstream.ObjectStore
	o       RunOptions

	published []int64 // weights versions this process stored, oldest first
}

func (r *Run) subject() string { return "maestro." + r.Name + ".unrolls" }

// CreateRun makes (or opens, when they exist and are of this protocol) run name's objects.
func CreateRun(ctx context.Context, nc *nats.Conn, name string, o RunOptions) (*Run, error) {
	return openRun(ctx, nc, name, o, true)
}

// OpenRun opens run name's objects, which the learner created; it waits for them up to the
// context's deadline (actors may start before the learner).
func OpenRun(ctx context.Context, nc *nats.Conn, name string) (*Run, error) {
	for {
		r, err := openRun(ctx, nc, name, RunOptions{}, false)
		if err == nil || !errors.Is(err, jetstream.ErrStreamNotFound) && !errors.Is(err, jetstream.ErrBucketNotFound) {
			return r, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("dist: no run %q on the broker (%v): start the learner (train --broker ... --run %s) first", name, err, name)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func openRun(ctx context.Context, nc *nats.Conn, name string, o RunOptions, create bool) (*Run, error) {
	if !runName.MatchString(name) {
		return nil, fmt.Errorf("dist: run name %q: use 1-64 letters, digits, - or _", name)
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = 1 << 30
	}
	if o.LeaseTTL == 0 {
		o.LeaseTTL = 15 * time.Second
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	r := &Run{Name: name, NC: nc, JS: js, o: o}
	meta := map[string]string{protocolKey: Protocol}
	stream := func(cfg jetstream.StreamConfig) (jetstream.Stream, error) {
		s, err := js.Stream(ctx, cfg.Name)
		if err == nil {
			old := s.CachedInfo().Config
			if err := checkProtocol("stream "+cfg.Name, old.Metadata); err != nil {
				return nil, err
			}
			if create && (old.MaxBytes != cfg.MaxBytes || old.MaxMsgs != cfg.MaxMsgs) {
				old.MaxBytes, old.MaxMsgs = cfg.MaxBytes, cfg.MaxMsgs // a resumed learner's bounds
				return js.UpdateStream(ctx, old)
			}
			return s, nil
		}
		if !create || !errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, fmt.Errorf("dist: stream %s: %w", cfg.Name, err)
		}
		cfg.Metadata = meta
		return js.CreateStream(ctx, cfg)
	}
	if r.Unrolls, err = stream(jetstream.StreamConfig{Name: name + "-unrolls", Subjects: []string{r.subject() + ".>"},
		Retention: jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage, MaxBytes: o.MaxBytes, MaxMsgs: -1, Discard: jetstream.DiscardNew,
		Duplicates: 10 * time.Minute, MaxMsgSize: -1}); err != nil {
		return nil, err
	}
	if r.Dead, err = stream(jetstream.StreamConfig{Name: name + "-dead", Subjects: []string{"maestro." + name + ".dead"},
		Storage: jetstream.FileStorage, MaxBytes: 256 << 20, MaxMsgs: -1, Discard: jetstream.DiscardOld}); err != nil {
		return nil, err
	}
	kv := func(cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
		b, err := js.KeyValue(ctx, cfg.Bucket)
		if err == nil {
			st, err := js.Stream(ctx, "KV_"+cfg.Bucket)
			if err != nil {
				return nil, err
			}
			return b, checkProtocol("bucket "+cfg.Bucket, st.CachedInfo().Config.Metadata)
		}
		if !create || !errors.Is(err, jetstream.ErrBucketNotFound) {
			return nil, fmt.Errorf("dist: bucket %s: %w", cfg.Bucket, err)
		}
		cfg.Metadata = meta
		return js.CreateKeyValue(ctx, cfg)
	}
	if r.KV, err = kv(jetstream.KeyValueConfig{Bucket: name + "-run", Storage: jetstream.FileStorage}); err != nil {
		return nil, err
	}
	if r.Members, err = kv(jetstream.KeyValueConfig{Bucket: name + "-members", TTL: o.LeaseTTL, Storage: jetstream.FileStorage}); err != nil {
		return nil, err
	}
	if r.Weights, err = js.ObjectStore(ctx, name+"-weights"); errors.Is(err, jetstream.ErrBucketNotFound) && create {
		r.Weights, err = js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: name + "-weights", Storage: jetstream.FileStorage, Metadata: meta})
	}
	if err != nil {
		return nil, fmt.Errorf("dist: weights store %s-weights: %w", name, err)
	}
	if create {
		if _, err := r.KV.Put(ctx, "max_ahead", []byte(strconv.FormatInt(o.MaxAhead, 10))); err != nil {
			return nil, fmt.Errorf("dist: run %s: %w", name, err)
		}
	}
	return r, nil
}

// maxAhead reads the learner's MaxAhead (0 when it has set none).
func (r *Run) maxAhead(ctx context.Context) int64 {
	n, _, _ := r.getInt(ctx, "max_ahead")
	return n
}

// getInt reads an integer key of the run's bucket (ok false: the key is not set).
func (r *Run) getInt(ctx context.Context, key string) (n int64, ok bool, err error) {
	e, err := r.KV.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	n, err = strconv.ParseInt(string(e.Value()), 10, 64)
	return n, err == nil, err
}

// SetReceived records the highest stream sequence the learner has received (Source.Received);
// actors count what is ahead of the learner from it.
func (r *Run) SetReceived(ctx context.Context, seq uint64) error {
	_, err := r.KV.Put(ctx, "received", []byte(strconv.FormatUint(seq, 10)))
	return err
}

// received reads the learner's received mark (ok false: none).
func (r *Run) received(ctx context.Context) (seq uint64, ok bool, err error) {
	n, ok, err := r.getInt(ctx, "received")
	return uint64(n), ok, err
}

// checkProtocol refuses an object made by another protocol version (or not by Maestro).
func checkProtocol(what string, meta map[string]string) error {
	v := meta[protocolKey]
	if v == Protocol {
		return nil
	}
	if v == "" {
		v = "none (not made by Maestro)"
	}
	return fmt.Errorf("dist: %s was created by Maestro broker protocol %s, this Maestro speaks %s; use another --run name or delete the run's streams", what, v, Protocol)
}

// Reset empties the run's unrolls, dead letters and keys (a new run under an old name), and
// marks all the stream ever held as received (its sequence numbers go on after a purge).
func (r *Run) Reset(ctx context.Context) error {
	for _, s := range []jetstream.Stream{r.Unrolls, r.Dead} {
		if err := s.Purge(ctx); err != nil {
			return fmt.Errorf("dist: purge %s: %w", s.CachedInfo().Config.Name, err)
		}
	}
	for _, k := range []string{"config", "weights", "status"} {
		if err := r.KV.Purge(ctx, k); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return err
		}
	}
	info, err := r.Unrolls.Info(ctx)
	if err != nil {
		return err
	}
	return r.SetReceived(ctx, info.State.LastSeq)
}

// SetConfig records the run's config (a JSON object) for actors to check theirs against.
func (r *Run) SetConfig(ctx context.Context, cfg any) error {
	b, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	_, err = r.KV.Put(ctx, "config", b)
	return err
}

// Config reads the run's config into cfg.
func (r *Run) Config(ctx context.Context, cfg any) error {
	e, err := r.KV.Get(ctx, "config")
	if err != nil {
		return fmt.Errorf("dist: run %s has no config yet (%v): is its learner running?", r.Name, err)
	}
	return json.Unmarshal(e.Value(), cfg)
}

// SetDone tells actors the learner has finished; Done reports it.
func (r *Run) SetDone(ctx context.Context) error {
	_, err := r.KV.Put(ctx, "status", []byte("done"))
	return err
}

// Done reports whether the learner said it has finished.
func (r *Run) Done(ctx context.Context) bool {
	e, err := r.KV.Get(ctx, "status")
	return err == nil && string(e.Value()) == "done"
}

// ConfigDiff names the fields in which two JSON objects differ ("env: learner X, actor Y"),
// sorted; nil when they agree.
func ConfigDiff(learner, actor any) ([]string, error) {
	var a, b map[string]any
	for _, p := range []struct {
		v   any
		dst *map[string]any
	}{{learner, &a}, {actor, &b}} {
		raw, err := json.Marshal(p.v)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(raw, p.dst); err != nil {
			return nil, err
		}
	}
	var diff []string
	for k, va := range a {
		vb, ok := b[k]
		ja, _ := json.Marshal(va)
		jb, _ := json.Marshal(vb)
		if !ok || string(ja) != string(jb) {
			diff = append(diff, fmt.Sprintf("%s: learner %s, actor %s", k, ja, jb))
		}
	}
	for k, vb := range b {
		if _, ok := a[k]; !ok {
			jb, _ := json.Marshal(vb)
			diff = append(diff, fmt.Sprintf("%s: learner none, actor %s", k, jb))
		}
	}
	sort.Strings(diff)
	return diff, nil
}
