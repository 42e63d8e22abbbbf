package dist

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/maestro-rl/maestro/nn"
	"github.com/maestro-rl/maestro/tensordict"
	"github.com/nats-io/nats.go/jetstream"
)

// weightsObject names version v's object. Each version has its own, and the store keeps the
// newest keepWeights: replacing one object in place would purge its chunks under an actor
// still reading them (its read then times out).
func weightsObject(v int64) string { return "params-" + strconv.FormatInt(v, 10) }

const keepWeights = 3

// PublishWeights stores params as the run's weights of version (the object first, then the
// version key that actors watch), and deletes the object keepWeights versions back. The blob
// carries its own version. Versions must increase.
func (r *Run) PublishWeights(ctx context.Context, version int64, params []*nn.Param) error {
	blob, err := EncodeWeights(version, params)
	if err != nil {
		return err
	}
	return r.PutWeights(ctx, version, blob)
}

// EncodeWeights is the blob PutWeights stores: a copy of params, so the learner may go on
// updating them while another goroutine publishes it.
func EncodeWeights(version int64, params []*nn.Param) ([]byte, error) {
	d, err := nn.ParamsDict(params)
	if err != nil {
		return nil, err
	}
	b, err := tensordict.Marshal(d)
	if err != nil {
		return nil, err
	}
	blob := binary.LittleEndian.AppendUint64(make([]byte, 0, 8+len(b)), uint64(version))
	return append(blob, b...), nil
}

// PutWeights stores an EncodeWeights blob of version (see PublishWeights).
func (r *Run) PutWeights(ctx context.Context, version int64, blob []byte) error {
	if len(blob) < 8 || int64(binary.LittleEndian.Uint64(blob)) != version {
		return fmt.Errorf("dist: PutWeights v%d: the blob is not EncodeWeights' of that version", version)
	}
	if _, err := r.Weights.PutBytes(ctx, weightsObject(version), blob); err != nil {
		return fmt.Errorf("dist: publish weights v%d: %w", version, err)
	}
	if _, err := r.KV.Put(ctx, "weights", []byte(strconv.FormatInt(version, 10))); err != nil {
		return fmt.Errorf("dist: publish weights v%d: %w", version, err)
	}
	if r.published == nil { // a learner's first: a previous learner's versions go
		if infos, err := r.Weights.List(ctx); err == nil {
			for _, in := range infos {
				if in.Name != weightsObject(version) {
					r.Weights.Delete(ctx, in.Name)
				}
			}
		}
	}
	r.published = append(r.published, version)
	for len(r.published) > keepWeights {
		if err := r.Weights.Delete(ctx, weightsObject(r.published[0])); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			return fmt.Errorf("dist: delete weights v%d: %w", r.published[0], err)
		}
		r.published = r.published[1:]
	}
	return nil
}

// WeightsVersion returns the version of the newest published weights (ok false: none yet).
func (r *Run) WeightsVersion(ctx context.Context) (v int64, ok bool, err error) {
	return r.getInt(ctx, "weights")
}

// FetchWeights copies the newest published weights into params and returns their version;
// weights of another architecture are refused naming the parameter (params unchanged).
func (r *Run) FetchWeights(ctx context.Context, params []*nn.Param) (int64, error) {
	var blob []byte
	for try := 0; ; try++ {
		v, ok, err := r.WeightsVersion(ctx)
		if err == nil && !ok {
			err = errors.New("no weights published yet")
		}
		if err == nil {
			gctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			blob, err = r.Weights.GetBytes(gctx, weightsObject(v))
			cancel()
		}
		if err == nil {
			break
		}
		if ctx.Err() != nil || try == 4 { // a version deleted while read (a learner far ahead) is retried with the newest
			return 0, fmt.Errorf("dist: fetch weights: %w", err)
		}
	}
	if len(blob) < 8 {
		return 0, fmt.Errorf("dist: weights blob of %d bytes: torn", len(blob))
	}
	d, err := tensordict.Unmarshal(blob[8:])
	if err != nil {
		return 0, fmt.Errorf("dist: weights blob: %w", err)
	}
	v := int64(binary.LittleEndian.Uint64(blob))
	return v, nn.SetParams(d, params, fmt.Sprintf("run %s's weights v%d", r.Name, v))
}

// Member is what an actor's lease says about it.
type Member struct {
	Actor       string    `json:"actor"`
	Incarnation uint64    `json:"incarnation"`
	Host        string    `json:"host"`
	PID         int       `json:"pid"`
	Envs        int       `json:"envs"`
	Started     time.Time `json:"started"`
	Config      any       `json:"config"`
	ConfigHash  string    `json:"config_hash"`
}

// Lease holds an actor's membership: the key lives while Renew runs (at a third of the TTL).
type Lease struct {
	r   *Run
	m   Member
	buf []byte
	rev uint64 // of this lease's last write
}

// Join registers m; the lease expires unless renewed within the run's LeaseTTL.
func (r *Run) Join(ctx context.Context, m Member) (*Lease, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	l := &Lease{r: r, m: m, buf: b}
	return l, l.Renew(ctx)
}

// Renew refreshes the lease.
func (l *Lease) Renew(ctx context.Context) error {
	rev, err := l.r.Members.Put(ctx, l.m.Actor, l.buf)
	if err == nil {
		l.rev = rev
	}
	return err
}

// Leave ends the lease at once, unless a newer incarnation of the actor has written it since.
func (l *Lease) Leave(ctx context.Context) error {
	err := l.r.Members.Delete(ctx, l.m.Actor, jetstream.LastRevision(l.rev))
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
		return nil // another incarnation holds the name now
	}
	return err
}

// Members lists the live actors' leases, by actor name.
func (r *Run) ListMembers(ctx context.Context) (map[string]Member, error) {
	keys, err := r.Members.Keys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return map[string]Member{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string]Member{}
	for _, k := range keys {
		e, err := r.Members.Get(ctx, k)
		if err != nil {
			continue // expired meanwhile
		}
		var m Member
		if json.Unmarshal(e.Value(), &m) == nil {
			out[k] = m
		}
	}
	return out, nil
}
