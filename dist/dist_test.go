package dist

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maestro-rl/maestro/nn"
	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const steps = 4

// unroll is a [steps, 1] unroll whose "obs" says who made it: obs[t] = (actor, seq, t).
func unroll(t *testing.T, actor, seq int) *tensordict.Dict {
	t.Helper()
	obs := make([]float32, 0, steps*3)
	for s := 0; s < steps; s++ {
		obs = append(obs, float32(actor), float32(seq), float32(s))
	}
	ot, err := tensor.FromSlice(obs, steps, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	d := tensordict.New(steps, 1)
	if err := d.Set("obs", ot); err != nil {
		t.Fatal(err)
	}
	return d
}

// authors reads back which (actor, seq) unrolls a batch [steps, B] holds, checking that each
// column is one unroll intact.
func authors(t *testing.T, b *tensordict.Dict) [][2]int {
	t.Helper()
	ot, err := b.Get("obs")
	if err != nil {
		t.Fatal(err)
	}
	obs, err := tensor.Data[float32](ot)
	if err != nil {
		t.Fatal(err)
	}
	B := b.BatchShape()[1]
	var out [][2]int
	for col := 0; col < B; col++ {
		a, s := int(obs[col*3]), int(obs[col*3+1])
		for st := 0; st < steps; st++ {
			o := obs[(st*B+col)*3:]
			if int(o[0]) != a || int(o[1]) != s || int(o[2]) != st {
				t.Fatalf("batch column %d step %d holds %v, want unroll (%d, %d) step %d: columns mixed", col, st, o[:3], a, s, st)
			}
		}
		out = append(out, [2]int{a, s})
	}
	return out
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func start(t *testing.T, dir, addr string) (*Embedded, *nats.Conn) {
	t.Helper()
	e, err := StartEmbedded(dir, addr, "")
	if err != nil {
		t.Fatal(err)
	}
	nc, err := Connect(e.URL(), ConnectOptions{Name: t.Name()})
	if err != nil {
		e.Close()
		t.Fatal(err)
	}
	return e, nc
}

// TestExactlyOnceThroughCrashes feeds a learner's Source from two actors and crashes the
// learner twice, once after a checkpoint whose acks never went out, and restarts the broker
// in between: every unroll must end in exactly one trained batch, whole.
func TestExactlyOnceThroughCrashes(t *testing.T) {
	ctx := context.Background()
	dir, addr := t.TempDir(), freeAddr(t)
	e, nc := start(t, dir, addr)
	r, err := CreateRun(ctx, nc, "t", RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const perActor = 30
	for a := 0; a < 2; a++ {
		p, err := r.NewPublisher(fmt.Sprintf("actor%d", a), 7, "h")
		if err != nil {
			t.Fatal(err)
		}
		for s := 1; s <= perActor; s++ {
			if _, err := p.Publish(ctx, unroll(t, a, s), 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	opts := SourceOptions{Width: 2, Steps: steps, ConfigHash: "h"}
	take := func(s *Source, n int) (got [][2]int) {
		for i := 0; i < n; i++ {
			b, err := s.Next()
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, authors(t, b)...)
		}
		return got
	}
	src, err := r.NewSource(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	kept := take(src, 3)
	if _, err := src.Snapshot(); err != nil {
		t.Fatal(err)
	}
	if err := src.Commit(); err != nil { // checkpoint 1 on disk, its 6 unrolls acked
		t.Fatal(err)
	}
	kept = append(kept, take(src, 3)...)
	snap, err := src.Snapshot() // checkpoint 2 on disk; the learner dies before Commit
	if err != nil {
		t.Fatal(err)
	}
	take(src, 4) // learnt by the crashed process only: lost with it
	nc.Close()
	e.Close()

	e, nc = start(t, dir, addr) // the broker restarts on its store
	defer e.Close()
	defer nc.Close()
	if r, err = OpenRun(ctx, nc, "t"); err != nil {
		t.Fatal(err)
	}
	if src, err = r.NewSource(ctx, opts); err != nil {
		t.Fatal(err)
	}
	if err := src.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if src.Frames() != 6*2*steps {
		t.Fatalf("restored frames %d, want checkpoint 2's %d", src.Frames(), 6*2*steps)
	}
	kept = append(kept, take(src, perActor-6)...)
	seen := map[[2]int]int{}
	for _, id := range kept {
		seen[id]++
	}
	for a := 0; a < 2; a++ {
		for s := 1; s <= perActor; s++ {
			if n := seen[[2]int{a, s}]; n != 1 {
				t.Errorf("unroll (actor%d, %d) is in %d of the batches the final weights learnt from, want 1", a, s, n)
			}
		}
	}
	if n := src.Counts(); n.Duplicates != 6 || n.Used != 2*perActor {
		t.Errorf("the resumed source counted %+v, want the 6 unacked unrolls of checkpoint 2 as duplicates and %d used in all", n, 2*perActor)
	}
	if _, err := src.Snapshot(); err != nil {
		t.Fatal(err)
	}
	if err := src.Commit(); err != nil {
		t.Fatal(err)
	}
	info, err := r.Unrolls.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 0 {
		t.Errorf("%d unrolls left in the stream after the last commit, want 0", info.State.Msgs)
	}
}

// rawPublish sends data with the given headers straight to the run's stream, as a buggy or
// foreign client might.
func rawPublish(t *testing.T, r *Run, h map[string]string, data []byte) {
	t.Helper()
	m := &nats.Msg{Subject: r.subject() + ".x", Data: data, Header: nats.Header{}}
	for k, v := range h {
		m.Header.Set(k, v)
	}
	if _, err := r.JS.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
}

// TestBadUnrollsAreSetAside sends the learner what it must not train on: no headers, bytes
// that are no tensordict, a wrong batch shape, a leaf of another shape, another run config.
// Each is counted, the undecodable ones land in the dead-letter stream with the reason, and
// the good unrolls around them still make batches.
func TestBadUnrollsAreSetAside(t *testing.T) {
	ctx := context.Background()
	e, nc := start(t, t.TempDir(), "127.0.0.1:0")
	defer e.Close()
	defer nc.Close()
	r, err := CreateRun(ctx, nc, "bad", RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	good, err := tensordict.Marshal(unroll(t, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	hdr := func(seq int, config string) map[string]string {
		return map[string]string{HdrActor: "a", HdrIncarnation: "1", HdrSeq: fmt.Sprint(seq), HdrVersion: "0", HdrConfig: config}
	}
	long := tensordict.New(steps+1, 1)
	lt, _ := tensor.FromSlice(make([]float32, (steps+1)*3), steps+1, 1, 3)
	long.Set("obs", lt)
	longB, _ := tensordict.Marshal(long)
	wide := tensordict.New(steps, 1)
	wt, _ := tensor.FromSlice(make([]float32, steps*4), steps, 1, 4)
	wide.Set("obs", wt)
	wideB, _ := tensordict.Marshal(wide)

	rawPublish(t, r, hdr(1, "h"), good)
	rawPublish(t, r, nil, good)                                                                                                 // dead: no headers
	rawPublish(t, r, hdr(2, "h"), []byte("not a tensordict"))                                                                   // dead
	rawPublish(t, r, hdr(3, "h"), longB)                                                                                        // dead: [5 1]
	rawPublish(t, r, hdr(4, "h"), wideB)                                                                                        // dead: obs [1 4]
	rawPublish(t, r, hdr(5, "other"), good)                                                                                     // refused
	rawPublish(t, r, map[string]string{HdrActor: "a", HdrIncarnation: "1", HdrSeq: "0", HdrVersion: "0", HdrConfig: "h"}, good) // dead: seq 0
	rawPublish(t, r, hdr(6, "h"), good)
	var warnings []string
	src, err := r.NewSource(ctx, SourceOptions{Width: 2, Steps: steps, ConfigHash: "h", Warn: func(s string) { warnings = append(warnings, s) }})
	if err != nil {
		t.Fatal(err)
	}
	b, err := src.Next()
	if err != nil {
		t.Fatal(err)
	}
	authors(t, b)
	want := Counts{Used: 2, Dead: 5, Refused: 1}
	if got := src.Counts(); got != want {
		t.Errorf("counts %+v, want %+v", got, want)
	}
	info, err := r.Dead.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 5 {
		t.Fatalf("%d dead letters, want 5", info.State.Msgs)
	}
	var reasons []string
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := r.Dead.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		reasons = append(reasons, m.Header.Get(HdrReason))
	}
	for i, w := range []string{"no " + HdrActor, "tensordict", "batch shape [5 1]", "leaf obs", HdrSeq} {
		if !strings.Contains(reasons[i], w) {
			t.Errorf("dead letter %d's reason %q does not name %q", i, reasons[i], w)
		}
	}
	if !strings.Contains(strings.Join(warnings, "\n"), "refused the unrolls of actor a/1") {
		t.Errorf("no warning names the refused actor: %q", warnings)
	}
	// Dead and refused messages are terminated: a new learner does not see them again.
	if _, err := src.Snapshot(); err != nil {
		t.Fatal(err)
	}
	if err := src.Commit(); err != nil {
		t.Fatal(err)
	}
	info, err = r.Unrolls.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 0 {
		t.Errorf("%d messages left in the unroll stream, want 0", info.State.Msgs)
	}
}

// TestProtocolMismatchIsRefused: a stream made by another protocol version is not used.
func TestProtocolMismatchIsRefused(t *testing.T) {
	ctx := context.Background()
	e, nc := start(t, t.TempDir(), "127.0.0.1:0")
	defer e.Close()
	defer nc.Close()
	js, _ := jetstream.New(nc)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "old-unrolls", Subjects: []string{"maestro.old.unrolls.>"},
		Metadata: map[string]string{protocolKey: "0"}}); err != nil {
		t.Fatal(err)
	}
	_, err := CreateRun(ctx, nc, "old", RunOptions{})
	if err == nil || !strings.Contains(err.Error(), "protocol 0") || !strings.Contains(err.Error(), "speaks "+Protocol) {
		t.Errorf("a protocol-0 stream: %v, want a refusal naming both versions", err)
	}
	if _, err := CreateRun(ctx, nc, "no/slash", RunOptions{}); err == nil || !strings.Contains(err.Error(), "no/slash") {
		t.Errorf("a bad run name: %v", err)
	}
}

// TestWeights publishes several versions: an actor reads the newest, the store keeps only the
// last few, and weights of another architecture are refused by name.
func TestWeights(t *testing.T) {
	ctx := context.Background()
	e, nc := start(t, t.TempDir(), "127.0.0.1:0")
	defer e.Close()
	defer nc.Close()
	r, err := CreateRun(ctx, nc, "w", RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := r.WeightsVersion(ctx); ok || err != nil {
		t.Fatalf("weights before any were published: ok %v, %v", ok, err)
	}
	p := nn.NewParam("fc.w", 3, 2)
	for v := int64(1); v <= 6; v++ {
		for i := range p.Data {
			p.Data[i] = float32(v*10) + float32(i)
		}
		if err := r.PublishWeights(ctx, v, []*nn.Param{p}); err != nil {
			t.Fatal(err)
		}
	}
	q := nn.NewParam("fc.w", 3, 2)
	v, err := r.FetchWeights(ctx, []*nn.Param{q})
	if err != nil || v != 6 || q.Data[5] != 65 {
		t.Fatalf("fetched v%d %v (%v), want v6 [60 ... 65]", v, q.Data, err)
	}
	infos, err := r.Weights.List(ctx)
	if err != nil || len(infos) != keepWeights {
		t.Errorf("the weights store holds %d objects (%v), want the newest %d", len(infos), err, keepWeights)
	}
	other := nn.NewParam("fc.w", 2, 3)
	if _, err := r.FetchWeights(ctx, []*nn.Param{other}); err == nil || !strings.Contains(err.Error(), "fc.w") {
		t.Errorf("weights of another shape: %v, want a refusal naming fc.w", err)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"nats://127.0.0.1:4222":                     "nats://127.0.0.1:4222",
		"nats://bob:s3cret@host:4222":               "nats://bob:xxxxx@host:4222",
		"nats://T0KEN@host:4222,nats://a:b@h2:4222": "nats://xxxxx@host:4222,nats://a:xxxxx@h2:4222",
		"nats://x:%zz@host":                         "xxxxx@host",
	} {
		if got := Redact(in); got != want || strings.Contains(got, "s3cret") || strings.Contains(got, "T0KEN") {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestConnectErrors: no broker, a wrong token and an empty token file each fail at once with
// an error that says what to do, and never print the secret.
func TestConnectErrors(t *testing.T) {
	addr := freeAddr(t) // nothing listens here now
	_, err := Connect("nats://user:hunter2@"+addr, ConnectOptions{Timeout: time.Second})
	if err == nil || !strings.Contains(err.Error(), addr) || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "train broker") {
		t.Errorf("no broker: %v", err)
	}
	dir := t.TempDir()
	e, err := StartEmbedded(filepath.Join(dir, "store"), "127.0.0.1:0", "right-token")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, err := Connect(e.URL(), ConnectOptions{}); err == nil || !strings.Contains(err.Error(), "--broker-token-file") {
		t.Errorf("no token for a broker that wants one: %v", err)
	}
	tok := filepath.Join(dir, "tok")
	os.WriteFile(tok, []byte("wrong-token\n"), 0o600)
	if _, err := Connect(e.URL(), ConnectOptions{TokenFile: tok}); err == nil || strings.Contains(err.Error(), "wrong-token") {
		t.Errorf("a wrong token: %v", err)
	}
	os.WriteFile(tok, []byte("right-token\n"), 0o600)
	nc, err := Connect(e.URL(), ConnectOptions{TokenFile: tok})
	if err != nil {
		t.Fatalf("the right token: %v", err)
	}
	nc.Close()
	os.WriteFile(tok, []byte(" \n"), 0o600)
	if _, err := Connect(e.URL(), ConnectOptions{TokenFile: tok}); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("an empty token file: %v", err)
	}
}

// TestLeaveSparesANewerIncarnation: an old incarnation leaving (say, stopping slowly after its
// replacement joined under the same name) does not end the new one's lease.
func TestLeaveSparesANewerIncarnation(t *testing.T) {
	ctx := context.Background()
	e, nc := start(t, t.TempDir(), "127.0.0.1:0")
	defer e.Close()
	defer nc.Close()
	r, err := CreateRun(ctx, nc, "l", RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	old, err := r.Join(ctx, Member{Actor: "a", Incarnation: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Join(ctx, Member{Actor: "a", Incarnation: 2}); err != nil {
		t.Fatal(err)
	}
	if err := old.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	m, err := r.ListMembers(ctx)
	if err != nil || m["a"].Incarnation != 2 {
		t.Fatalf("after the old incarnation left: %+v (%v), want incarnation 2's lease", m, err)
	}
	newer, _ := r.Join(ctx, Member{Actor: "b", Incarnation: 3})
	if err := newer.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if m, _ := r.ListMembers(ctx); len(m) != 1 {
		t.Errorf("after b left: %+v, want only a", m)
	}
}

// TestConnectWaitsForALateBroker: with Wait, a client started before its broker connects once
// the broker comes up (processes of a run start in any order), and gives up with the wait in
// the error when none does.
func TestConnectWaitsForALateBroker(t *testing.T) {
	addr := freeAddr(t)
	dir := t.TempDir()
	started := make(chan *Embedded, 1)
	go func() {
		time.Sleep(time.Second)
		e, err := StartEmbedded(filepath.Join(dir, "store"), addr, "")
		if err != nil {
			t.Error(err)
		}
		started <- e
	}()
	nc, err := Connect("nats://"+addr, ConnectOptions{Wait: time.Minute})
	e := <-started
	if e != nil {
		defer e.Close()
	}
	if err != nil {
		t.Fatalf("a broker that starts a second late: %v", err)
	}
	nc.Close()
	_, err = Connect("nats://"+freeAddr(t), ConnectOptions{Wait: 500 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "500ms") || !strings.Contains(err.Error(), "--broker-wait") {
		t.Errorf("no broker within the wait: %v", err)
	}
}

// TestActorsHoldBackForTheLearner: with MaxAhead 3 an actor publishes three unrolls, then waits
// until the learner says it has received one (Run.SetReceived).
func TestActorsHoldBackForTheLearner(t *testing.T) {
	ctx := context.Background()
	e, nc := start(t, t.TempDir(), "127.0.0.1:0")
	defer e.Close()
	defer nc.Close()
	r, err := CreateRun(ctx, nc, "ahead", RunOptions{MaxAhead: 3})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Reset(ctx); err != nil { // a new run: the received mark starts
		t.Fatal(err)
	}
	p, err := r.NewPublisher("a", 1, "h")
	if err != nil {
		t.Fatal(err)
	}
	publish := func(seq int, within time.Duration) error {
		c, cancel := context.WithTimeout(ctx, within)
		defer cancel()
		_, err := p.Publish(c, unroll(t, 0, seq), 0)
		return err
	}
	for s := 1; s <= 3; s++ {
		if err := publish(s, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if err := publish(4, time.Second); err != context.DeadlineExceeded {
		t.Fatalf("a fourth unroll with 3 waiting and no learner: %v, want it held back", err)
	}
	src, err := r.NewSource(ctx, SourceOptions{Width: 1, Steps: steps, ConfigHash: "h"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Next(); err != nil {
		t.Fatal(err)
	}
	if err := publish(4, time.Second); err != context.DeadlineExceeded {
		t.Fatalf("a fourth unroll before the learner says it received one: %v, want it held back", err)
	}
	if err := r.SetReceived(ctx, src.Received()); err != nil {
		t.Fatal(err)
	}
	if err := publish(4, 10*time.Second); err != nil {
		t.Fatalf("a fourth unroll once the learner has taken one: %v", err)
	}
	if p.Published != 4 || p.HeldBack < 2*time.Second {
		t.Errorf("published %d, held back %v; want 4 and at least the 2s of the two refused tries", p.Published, p.HeldBack)
	}
	for want := 2; want <= 4; want++ {
		b, err := src.Next()
		if err != nil {
			t.Fatal(err)
		}
		if got := authors(t, b); got[0] != [2]int{0, want} {
			t.Fatalf("unroll %v, want (0, %d): the held-back one must come once, in order", got, want)
		}
	}
}

// TestAFullStreamHoldsActorsBack: with no MaxAhead, a stream at MaxBytes refuses the next
// unroll and the actor retries it until the learner's Commit makes room; nothing is lost.
func TestAFullStreamHoldsActorsBack(t *testing.T) {
	ctx := context.Background()
	e, nc := start(t, t.TempDir(), "127.0.0.1:0")
	defer e.Close()
	defer nc.Close()
	r, err := CreateRun(ctx, nc, "full", RunOptions{MaxBytes: 2000})
	if err != nil {
		t.Fatal(err)
	}
	p, err := r.NewPublisher("a", 1, "h")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for ; n < 100; n++ {
		c, cancel := context.WithTimeout(ctx, time.Second)
		_, err := p.Publish(c, unroll(t, 0, n+1), 0)
		cancel()
		if err == context.DeadlineExceeded {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if n == 0 || n == 100 || p.Retries == 0 {
		t.Fatalf("%d unrolls went into a 2000-byte stream with %d retries; want it to fill and refuse", n, p.Retries)
	}
	src, err := r.NewSource(ctx, SourceOptions{Width: n, Steps: steps, ConfigHash: "h"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Snapshot(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := p.Publish(ctx, unroll(t, 0, n+1), 0); done <- err }()
	select {
	case err := <-done:
		t.Fatalf("published into a full stream before any ack: %v", err)
	case <-time.After(500 * time.Millisecond):
	}
	if err := src.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the refused unroll once the learner acked: %v", err)
	}
	info, err := r.Unrolls.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("stream holds %d messages, want the one retried unroll", info.State.Msgs)
	}
}
