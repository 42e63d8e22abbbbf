package main

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/maestro-rl/maestro/collectors"
	"github.com/maestro-rl/maestro/dist"
	"github.com/maestro-rl/maestro/nn"
	"github.com/nats-io/nats.go"
)

// actorConfig is the part of a run's identity an actor must share with its learner (the
// learner's batch width, frame budget and learning rate are its own).
func actorConfig(c config) config {
	id := c.identity()
	id.NumEnvs, id.TotalFrames, id.LR = 0, 0, 0
	return id
}

// setIdentity copies the identity fields an actor takes from its learner into c.
func (c *config) setIdentity(id config) {
	c.Algo, c.Env, c.Frames, c.Seed, c.Reward, c.RewardModel, c.Motif = id.Algo, id.Env, id.Frames, id.Seed, id.Reward, id.RewardModel, id.Motif
	c.Skills, c.SkillCode, c.SkillRewards, c.ClipValueLoss, c.RecomputeValues = id.Skills, id.SkillCode, id.SkillRewards, id.ClipValueLoss, id.RecomputeValues
}

func configHash(c config) string {
	b, _ := json.Marshal(actorConfig(c))
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

// brokerCollector is the learner's collector over a broker: dist.Source plus the connection,
// the embedded broker (--broker embedded), the weights it publishes and unrolls.csv.
type brokerCollector struct {
	*dist.Source
	r         *dist.Run
	nc        *nats.Conn
	emb       *dist.Embedded
	ctx       context.Context
	cancel    context.CancelFunc
	logFile   *os.File
	log       *csv.Writer
	batch     int // frames per batch
	lags      []float64
	latencies []float64 // ms, of the unrolls used by this process

	// The weights publisher: publishWeights leaves the newest blob here and a goroutine
	// stores it, so the learner never waits on the broker (a version the goroutine had no time
	// for is skipped: actors want the newest).
	wmu     sync.Mutex
	wnext   []byte
	wver    int64
	wrecv   uint64 // Source.Received when wnext was encoded
	wkick   chan struct{}
	wdone   chan struct{}
	skipped atomic.Int64
}

// connectBroker connects to c.broker, starting the embedded one first when asked.
func connectBroker(c config, name string) (*nats.Conn, *dist.Embedded, error) {
	url := c.broker
	var emb *dist.Embedded
	if c.broker == "embedded" {
		if c.actor {
			return nil, nil, errors.New("--broker embedded runs the broker inside the learner; give actors its URL (the learner's broker.url)")
		}
		var tok string
		var err error
		if c.brokerToken != "" {
			if tok, err = dist.ReadToken(c.brokerToken); err != nil {
				return nil, nil, err
			}
		}
		if emb, err = dist.StartEmbedded(filepath.Join(c.runDir, "broker"), c.brokerListen, tok); err != nil {
			return nil, nil, err
		}
		url = emb.URL()
		if err := os.WriteFile(filepath.Join(c.runDir, "broker.url"), []byte(url+"\n"), 0o644); err != nil {
			emb.Close()
			return nil, nil, err
		}
		fmt.Fprintf(os.Stderr, "train: embedded broker at %s (store %s); start actors with: train actor --broker %s --run %s\n", url, filepath.Join(c.runDir, "broker"), url, c.brokerRun)
	}
	nc, err := dist.Connect(url, dist.ConnectOptions{Name: name, TokenFile: c.brokerToken, Wait: c.brokerWait})
	if err != nil {
		if emb != nil {
			emb.Close()
		}
		return nil, nil, err
	}
	return nc, emb, nil
}

// newBrokerCollector opens the run on the broker for the learner: a new run starts empty, a
// resumed one keeps the stream (the unrolls not yet acked are its next ones).
func newBrokerCollector(c config, l learner) (*brokerCollector, error) {
	nc, emb, err := connectBroker(c, "maestro-learner")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	bc := &brokerCollector{nc: nc, emb: emb, ctx: ctx, cancel: cancel, batch: c.NumEnvs * c.Frames}
	fail := func(err error) (*brokerCollector, error) {
		bc.Close()
		return nil, err
	}
	if bc.r, err = dist.CreateRun(ctx, nc, c.brokerRun, dist.RunOptions{MaxBytes: c.brokerMaxBytes, MaxAhead: int64(c.brokerMaxAhead * c.NumEnvs)}); err != nil {
		return fail(err)
	}
	if !c.resume {
		if err := bc.r.Reset(ctx); err != nil {
			return fail(err)
		}
	}
	if err := bc.r.SetConfig(ctx, actorConfig(c)); err != nil {
		return fail(err)
	}
	path := filepath.Join(c.runDir, "unrolls.csv")
	if c.resume {
		if _, err := os.Stat(path); err == nil {
			if err := truncateLog(path, c.resumedAt); err != nil {
				return fail(err)
			}
		}
	}
	if bc.logFile, err = os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
		return fail(err)
	}
	bc.log = csv.NewWriter(bc.logFile)
	if st, _ := bc.logFile.Stat(); st.Size() == 0 {
		bc.log.Write([]string{"frames", "actor", "incarnation", "seq", "version", "lag", "status", "reason", "latency_ms"})
	}
	warn := func(s string) { fmt.Fprintf(os.Stderr, "\ntrain: %s\n", s) }
	bc.Source, err = bc.r.NewSource(ctx, dist.SourceOptions{Width: c.NumEnvs, Steps: c.Frames, Config: actorConfig(c), ConfigHash: configHash(c),
		MaxPolicyLag: int64(c.maxPolicyLag), Version: bc.version, Warn: warn, Log: func(r dist.Record) {
			bc.log.Write([]string{strconv.Itoa(bc.Frames() + bc.batch), r.ID.Actor, strconv.FormatUint(r.ID.Incarnation, 10),
				strconv.FormatUint(r.ID.Seq, 10), strconv.FormatInt(r.Version, 10), strconv.FormatInt(r.Lag, 10), r.Status, r.Reason,
				strconv.FormatFloat(r.Latency.Seconds()*1000, 'f', 2, 64)})
			if r.Status == dist.Used {
				bc.lags = append(bc.lags, float64(r.Lag))
				if r.Latency > 0 {
					bc.latencies = append(bc.latencies, r.Latency.Seconds()*1000)
				}
			}
		}})
	if err != nil {
		return fail(err)
	}
	return bc, nil
}

// version is the learner's weights version: the batches it has learnt from.
func (b *brokerCollector) version() int64 { return int64(b.Frames() / b.batch) }

// Restore restores the source's state and publishes the restored weights under their version.
func (b *brokerCollector) restoreAndPublish(state []byte, l learner) error {
	if state != nil {
		if err := b.Source.Restore(state); err != nil {
			return err
		}
	}
	return b.r.PublishWeights(b.ctx, b.version(), l.Params())
}

// Commit acks what the checkpoint just saved holds, then flushes unrolls.csv.
func (b *brokerCollector) Commit() error {
	b.log.Flush()
	if err := b.log.Error(); err != nil {
		return fmt.Errorf("unrolls.csv: %w", err)
	}
	if err := b.Source.Commit(); err != nil { // not fatal: unconfirmed acks come back as duplicates
		fmt.Fprintf(os.Stderr, "\ntrain: %v\n", err)
	}
	return nil
}

// Snapshot flushes unrolls.csv before the source's state is saved.
func (b *brokerCollector) Snapshot() ([]byte, error) {
	b.log.Flush()
	return b.Source.Snapshot()
}

// meanLag returns the mean policy lag of the unrolls used since the last call.
func (b *brokerCollector) meanLag() float64 {
	m := 0.0
	for _, x := range b.lags {
		m += x / float64(len(b.lags))
	}
	b.lags = b.lags[:0]
	return m
}

// publishWeights offers the actors the learner's new weights and tells them how far it has
// received (they hold back --broker-max-ahead batches ahead of it): it copies the weights and
// returns; a goroutine stores them. A broker away (restarting) is not fatal: the actors act with older
// weights meanwhile (their lag is logged).
func (b *brokerCollector) publishWeights(params []*nn.Param) {
	v := b.version()
	blob, err := dist.EncodeWeights(v, params)
	if err != nil {
		fmt.Fprintf(os.Stderr, "\ntrain: encode weights v%d: %v\n", v, err)
		return
	}
	b.wmu.Lock()
	if b.wnext != nil {
		b.skipped.Add(1)
	}
	b.wnext, b.wver, b.wrecv = blob, v, b.Received()
	b.wmu.Unlock()
	if b.wkick == nil {
		b.wkick, b.wdone = make(chan struct{}, 1), make(chan struct{})
		go b.weightsLoop()
	}
	select {
	case b.wkick <- struct{}{}:
	default:
	}
}

func (b *brokerCollector) weightsLoop() {
	defer close(b.wdone)
	var lastWarn time.Time
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-b.wkick:
		}
		b.wmu.Lock()
		blob, v, recv := b.wnext, b.wver, b.wrecv
		b.wnext = nil
		b.wmu.Unlock()
		if blob == nil {
			continue
		}
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		err := b.r.PutWeights(ctx, v, blob)
		if err == nil {
			err = b.r.SetReceived(ctx, recv) // how far ahead of the learner the actors are
		}
		cancel()
		if err != nil && b.ctx.Err() == nil && time.Since(lastWarn) > 10*time.Second {
			lastWarn = time.Now()
			fmt.Fprintf(os.Stderr, "\ntrain: %v (the actors go on with older weights)\n", err)
		}
	}
}

// latency returns the median and 99th percentile of the used unrolls' latencies in ms.
func (b *brokerCollector) latency() (p50, p99 float64, ok bool) {
	if len(b.latencies) == 0 {
		return 0, 0, false
	}
	l := slices.Clone(b.latencies)
	slices.Sort(l)
	at := func(q float64) float64 { return l[min(len(l)-1, int(q*float64(len(l))))] }
	return at(0.5), at(0.99), true
}

// finish tells the actors the run is over and gives them a few seconds to read it and leave
// (an embedded broker ends with this process; an actor that could not read the news would
// retry its publish until stopped).
func (b *brokerCollector) finish() error {
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	for err := b.r.SetDone(ctx); err != nil; err = b.r.SetDone(ctx) { // the broker may be restarting
		if ctx.Err() != nil {
			return fmt.Errorf("tell the actors the run is over: %w", err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if m, err := b.r.ListMembers(b.ctx); err != nil || len(m) == 0 {
			break
		}
	}
	return nil
}

func (b *brokerCollector) Close() error {
	b.cancel()
	if b.wdone != nil {
		<-b.wdone // the weights goroutine is done with the connection
	}
	if b.log != nil {
		b.log.Flush()
		b.logFile.Close()
	}
	if b.nc != nil {
		b.nc.Close()
	}
	if b.emb != nil {
		b.emb.Close()
	}
	return nil
}

var actorName = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// actorMain is `train actor`: collect with the learner's newest weights and publish unrolls.
// actorFlags defines `train actor`'s flags, writing into c; it returns --actor-id and --actor-log.
func actorFlags(c *config) (fs *flag.FlagSet, id, actorLog *string) {
	fs = flag.NewFlagSet("train actor", flag.ContinueOnError)
	trainFlags(fs, c)
	host, _ := os.Hostname()
	id = fs.String("actor-id", actorName.ReplaceAllString(fmt.Sprintf("%s-%d", host, os.Getpid()), "-"), "this actor's name on the broker (letters, digits, - and _; default host-pid); a restarted actor may reuse it: each start is a new incarnation")
	actorLog = fs.String("actor-log", "", "append \"try ID\" before and \"ok ID\" after each unroll's publish to this file (an audit of what reached the broker)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "train actor: collect for a learner over NATS JetStream.\n\nThe actor reads the run's config from the broker: flags left out take the learner's values; a flag that\ncontradicts the learner is refused with the difference. --num-envs is this actor's own (envs stepped\ntogether; each env's unroll of --frames-per-batch steps is one message). It stops when the learner finishes,\nor on Ctrl-C/SIGTERM after the unroll in flight.\n\nUsage:\n  train actor --broker nats://HOST:4222 --run NAME [--num-envs N] [--actor-id ID]\n\nFlags:\n")
		fs.PrintDefaults()
	}
	return fs, id, actorLog
}

func actorMain(args []string) error {
	var c config
	fs, id, actorLog := actorFlags(&c)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.broker == "" {
		return errors.New("--broker URL is required: the learner's broker (its broker.url with --broker embedded)")
	}
	c.actor = true
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	nc, _, err := connectBroker(c, "maestro-actor-"+*id)
	if err != nil {
		return err
	}
	defer nc.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	octx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	r, err := dist.OpenRun(octx, nc, c.brokerRun)
	if err == nil {
		var lc config
		for err = r.Config(octx, &lc); err != nil && octx.Err() == nil; err = r.Config(octx, &lc) {
			time.Sleep(250 * time.Millisecond)
		}
		c.setIdentity(lc)
		if err == nil {
			err = fs.Parse(args) // the actor's own flags over the learner's values
		}
		if err == nil {
			var hack bool
			if hack, err = parseEnv(&c); err == nil {
				_, err = intrinsicFor(&c, hack)
			}
		}
		if err == nil {
			var diff []string
			if diff, err = dist.ConfigDiff(actorConfig(lc), actorConfig(c)); err == nil && len(diff) > 0 {
				err = fmt.Errorf("refused: this actor's flags contradict the learner's run %s: %s; leave them out (actors take the learner's values)", c.brokerRun, strings.Join(diff, "; "))
			}
		}
	}
	cancel()
	if err != nil {
		return err
	}
	return runActor(ctx, c, r, *id, *actorLog)
}

func runActor(ctx context.Context, c config, r *dist.Run, id, logPath string) error {
	hack, err := parseEnv(&c)
	if err != nil {
		return err
	}
	intr, err := intrinsicFor(&c, hack)
	if err != nil {
		return err
	}
	hash, own := configHash(c), actorConfig(c) // the run's identity, before this incarnation's seed
	inc := uint64(time.Now().UnixNano())
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%s/%d", c.Seed, id, inc)
	c.Seed = h.Sum64() >> 1 // this incarnation's games and action stream
	b, err := buildRecording(c, "")
	if err != nil {
		return err
	}
	co := collectors.Options{FramesPerBatch: c.NumEnvs * c.Frames}
	if intr != nil {
		co.Postproc = intr.Postproc
	}
	col, err := collectors.NewSync(b.Env, b.Learner, co)
	if err != nil {
		b.Env.Close()
		return err
	}
	defer col.Close()
	pub, err := r.NewPublisher(id, inc, hash)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	lease, err := r.Join(ctx, dist.Member{Actor: id, Incarnation: inc, Host: host, PID: os.Getpid(), Envs: c.NumEnvs, Started: time.Now(),
		Config: own, ConfigHash: hash})
	if err != nil {
		return fmt.Errorf("join run %s: %w", r.Name, err)
	}
	defer lease.Leave(context.Background())
	ctx, stopActing := context.WithCancel(ctx)
	defer stopActing()
	var finished atomic.Bool
	go func() { // watch for the learner's end each second; renew the lease at a third of its TTL
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for n := 1; ; n++ {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if r.Done(ctx) {
				finished.Store(true)
				stopActing() // also ends a publish waiting on a full stream
				return
			}
			if n%5 == 0 {
				lease.Renew(ctx)
			}
		}
	}()
	var audit *os.File
	if logPath != "" {
		if audit, err = os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
			return err
		}
		defer audit.Close()
	}
	version := int64(-1)
	start, lastPrint := time.Now(), time.Time{}
	fmt.Fprintf(os.Stderr, "train actor %s (incarnation %d): %d envs of %s, unrolls of %d steps to run %s\n", id, inc, c.NumEnvs, c.Env, c.Frames, r.Name)
act:
	for ctx.Err() == nil {
		v, ok, err := r.WeightsVersion(ctx)
		if err != nil || !ok {
			if version < 0 { // no weights yet: the learner is starting
				select {
				case <-ctx.Done():
				case <-time.After(200 * time.Millisecond):
				}
				continue
			}
		} else if v > version {
			if version, err = r.FetchWeights(ctx, b.Learner.Params()); err != nil {
				if ctx.Err() != nil {
					break act
				}
				return err
			}
		}
		batch, err := col.Next()
		if err != nil {
			return err
		}
		for e := 0; e < c.NumEnvs; e++ {
			one, err := batch.IndexDim(1, e)
			if err == nil {
				one, err = one.ReshapeBatch(c.Frames, 1)
			}
			if err != nil {
				return err
			}
			if audit != nil {
				fmt.Fprintf(audit, "try %s\n", pub.Next())
			}
			uid, err := pub.Publish(ctx, one, version)
			if ctx.Err() != nil {
				break act // the learner finished, or Ctrl-C: this unroll may or may not have reached the broker
			}
			if err != nil {
				return err
			}
			if audit != nil {
				fmt.Fprintf(audit, "ok %s\n", uid)
			}
		}
		if time.Since(lastPrint) > time.Second {
			lastPrint = time.Now()
			el := time.Since(start)
			fmt.Fprintf(os.Stderr, "\rtrain actor %s: %d unrolls, %.0f frames/s, weights v%d, %d publish retries, %.0f%% of the time held back for the learner ", id, pub.Published,
				float64(pub.Published*c.Frames)/el.Seconds(), version, pub.Retries, 100*pub.HeldBack.Seconds()/el.Seconds())
		}
	}
	if finished.Load() {
		fmt.Fprintf(os.Stderr, "\ntrain actor %s: the learner has finished; %d unrolls published\n", id, pub.Published)
	} else {
		fmt.Fprintf(os.Stderr, "\ntrain actor %s: stopped; %d unrolls published\n", id, pub.Published)
	}
	return nil
}

// brokerMain is `train broker`: a standalone NATS JetStream server for runs on several
// machines (or for tests that kill the broker).
// brokerFlags defines `train broker`'s flags.
func brokerFlags() (fs *flag.FlagSet, store, listen, urlFile, tokenFile *string) {
	fs = flag.NewFlagSet("train broker", flag.ContinueOnError)
	store = fs.String("store", "broker", "folder of the broker's JetStream store (streams, buckets); a restart on the same folder keeps everything acknowledged")
	listen = fs.String("listen", "127.0.0.1:4222", "host:port to listen on (0.0.0.0:4222 for other machines; port 0 picks one)")
	urlFile = fs.String("url-file", "", "write the client URL here once listening")
	tokenFile = fs.String("token-file", "", "require the token in this file of every client (learner and actors then pass --broker-token-file); without it anyone who reaches the port may connect")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "train broker: a NATS server with JetStream for Maestro's learner, actors and annotation workers.\n\nUsage:\n  train broker --store DIR --listen HOST:PORT\n\nFlags:\n")
		fs.PrintDefaults()
	}
	return fs, store, listen, urlFile, tokenFile
}

func brokerMain(args []string) error {
	fs, store, listen, urlFile, tokenFile := brokerFlags()
	if err := fs.Parse(args); err != nil {
		return err
	}
	var tok string
	if *tokenFile != "" {
		var err error
		if tok, err = dist.ReadToken(*tokenFile); err != nil {
			return err
		}
	}
	e, err := dist.StartEmbedded(*store, *listen, tok)
	if err != nil {
		return err
	}
	defer e.Close()
	if *urlFile != "" {
		if err := os.WriteFile(*urlFile, []byte(e.URL()+"\n"), 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "train broker: listening at %s, store %s (Ctrl-C stops)\n", e.URL(), *store)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return nil
}
