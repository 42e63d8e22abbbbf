package dist

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A Job is a queue of independent tasks, each named by an ID its content decides (annotation
// requests: the journal key), that workers on any machine take, do and answer. Its coordinator
// (CreateJob) asks with Ask; workers (OpenJob) answer with Serve.
//
// Broker objects of job J: stream job-J-tasks (work queue; a task republished under the same ID
// within 10 minutes is dropped), stream job-J-results (every answer, read back from the start
// by a restarted coordinator: an answer a worker sent is never lost), stream job-J-dead (tasks
// that failed MaxDeliver times, with the reason) and the workers' shared durable consumer.
//
// A worker renews a task it is working on every AckWait/3 (an LLM answer may take minutes); a
// worker killed mid-task stops renewing, and after AckWait the task goes to another worker. A
// worker killed after sending its answer but before acking the task makes another worker
// answer it again: the result stream drops the repeat by its ID, and the coordinator keeps the
// first. A task is asked at least once and answered to the coordinator exactly once.
type Job struct {
	Name    string
	NC      *nats.Conn
	JS      jetstream.JetStream
	Tasks   jetstream.Stream
	Results jetstream.Stream
	Dead    jetstream.Stream
	Meta    map[string]string // JobOptions.Meta, as the coordinator set it

	inc     string // the coordinator's incarnation: its tasks' message IDs carry it
	mu      sync.Mutex
	waiters map[string]chan outcome
	early   map[string]outcome
	watch   sync.Once
	cancel  context.CancelFunc
	caught  chan struct{} // closed once the answers the job held at the first Ask are read
}

// JobOptions configure a job (its coordinator sets them; workers read them).
type JobOptions struct {
	// AckWait is how long a task taken by a worker that neither answers nor renews it stays
	// with that worker (0: 30s).
	AckWait time.Duration
	// MaxDeliver is the tries a failing task gets before it is dead-lettered (0: 5).
	MaxDeliver int
	// Meta is what workers must agree with (the model the answers are for, say).
	Meta map[string]string
}

type outcome struct {
	result []byte
	err    error
}

// Headers of job messages.
const (
	HdrTask   = "Maestro-Task"
	hdrTries  = "Maestro-Tries"
	hdrAsker  = "Maestro-Asker"
	workers   = "workers"
	jobPrefix = "job-"
)

var jobMetaKey = func(k string) string { return "maestro_job_" + k }

func jobSubject(name, what string) string { return "maestro.job." + name + "." + what }

// CreateJob makes (or opens, when it exists and is of this protocol) job name's streams and
// the workers' consumer, with o's settings.
func CreateJob(ctx context.Context, nc *nats.Conn, name string, o JobOptions) (*Job, error) {
	if !runName.MatchString(name) {
		return nil, fmt.Errorf("dist: job name %q: use 1-64 letters, digits, - or _", name)
	}
	if o.AckWait == 0 {
		o.AckWait = 30 * time.Second
	}
	if o.MaxDeliver == 0 {
		o.MaxDeliver = 5
	}
	if o.AckWait < time.Second || o.MaxDeliver < 1 {
		return nil, fmt.Errorf("dist: job %s: AckWait %v (want at least 1s) and MaxDeliver %d (want at least 1)", name, o.AckWait, o.MaxDeliver)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	meta := map[string]string{protocolKey: Protocol}
	for k, v := range o.Meta {
		meta[jobMetaKey(k)] = v
	}
	j := &Job{Name: name, NC: nc, JS: js, Meta: o.Meta}
	stream := func(what string, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
		cfg.Name, cfg.Subjects, cfg.Storage, cfg.Metadata = jobPrefix+name+"-"+what, []string{jobSubject(name, what)}, jetstream.FileStorage, meta
		s, err := js.Stream(ctx, cfg.Name)
		if err == nil {
			if err := checkProtocol("stream "+cfg.Name, s.CachedInfo().Config.Metadata); err != nil {
				return nil, err
			}
			return js.UpdateStream(ctx, cfg) // this coordinator's Meta
		}
		if !errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, fmt.Errorf("dist: stream %s: %w", cfg.Name, err)
		}
		return js.CreateStream(ctx, cfg)
	}
	if j.Tasks, err = stream("tasks", jetstream.StreamConfig{Retention: jetstream.WorkQueuePolicy, Duplicates: 10 * time.Minute, MaxBytes: 1 << 30, Discard: jetstream.DiscardNew}); err != nil {
		return nil, err
	}
	if j.Results, err = stream("results", jetstream.StreamConfig{Duplicates: 10 * time.Minute, MaxBytes: 1 << 30, Discard: jetstream.DiscardNew}); err != nil {
		return nil, err
	}
	if j.Dead, err = stream("dead", jetstream.StreamConfig{Duplicates: 10 * time.Minute, MaxBytes: 256 << 20, Discard: jetstream.DiscardOld}); err != nil {
		return nil, err
	}
	// A coordinator (re)starting asks again what it lacks: the tasks an earlier one queued go
	// (a worker answering one still sends its answer, which counts).
	if err := j.Tasks.Purge(ctx); err != nil {
		return nil, fmt.Errorf("dist: job %s: %w", name, err)
	}
	j.inc = strconv.FormatInt(time.Now().UnixNano(), 36)
	if _, err := j.Tasks.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: workers, AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: o.AckWait, MaxDeliver: o.MaxDeliver, MaxAckPending: -1}); err != nil {
		return nil, fmt.Errorf("dist: job %s: the workers' consumer: %w", name, err)
	}
	return j, nil
}

// OpenJob opens job name for a worker, waiting (until ctx ends) for its coordinator to create it.
func OpenJob(ctx context.Context, nc *nats.Conn, name string) (*Job, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	j := &Job{Name: name, NC: nc, JS: js, Meta: map[string]string{}}
	for { // the job is ready once its coordinator has made the workers' consumer, the last thing
		if _, err = js.Consumer(ctx, jobPrefix+name+"-tasks", workers); err == nil {
			j.Tasks, err = js.Stream(ctx, jobPrefix+name+"-tasks")
		}
		if err == nil {
			break
		}
		if !errors.Is(err, jetstream.ErrStreamNotFound) && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return nil, fmt.Errorf("dist: job %s: %w", name, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("dist: no job %q on the broker: start its coordinator (annotate label --broker ... --job %s)", name, name)
		case <-time.After(250 * time.Millisecond):
		}
	}
	md := j.Tasks.CachedInfo().Config.Metadata
	if err := checkProtocol("stream "+jobPrefix+name+"-tasks", md); err != nil {
		return nil, err
	}
	for k, v := range md {
		if k, ok := strings.CutPrefix(k, jobMetaKey("")); ok {
			j.Meta[k] = v
		}
	}
	if j.Results, err = js.Stream(ctx, jobPrefix+name+"-results"); err != nil {
		return nil, fmt.Errorf("dist: job %s: %w", name, err)
	}
	if j.Dead, err = js.Stream(ctx, jobPrefix+name+"-dead"); err != nil {
		return nil, fmt.Errorf("dist: job %s: %w", name, err)
	}
	return j, nil
}

// publish stores m under msgID, retrying while the broker is away, until ctx ends.
func publish(ctx context.Context, js jetstream.JetStream, m *nats.Msg, msgID string) error {
	wait := 50 * time.Millisecond
	for {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := js.PublishMsg(pctx, m, jetstream.WithMsgID(msgID))
		cancel()
		if err == nil {
			return nil
		}
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && permanent[apiErr.ErrorCode] || errors.Is(err, nats.ErrConnectionClosed) {
			return fmt.Errorf("dist: publish %s: %w", msgID, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// Ask queues task id (unless the job already holds its answer) and returns the answer a worker
// gives, or the reason it was dead-lettered. Many Asks may wait at once; only the job's
// CreateJob handle may ask.
func (j *Job) Ask(ctx context.Context, id string, task []byte) ([]byte, error) {
	if j.inc == "" {
		return nil, errors.New("dist: Ask on a job opened by OpenJob: workers answer, the coordinator (CreateJob) asks")
	}
	j.watch.Do(func() { j.startWatching(ctx) })
	select { // an answer already given is not asked again
	case <-j.caught:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	ch := make(chan outcome, 1)
	j.mu.Lock()
	if o, ok := j.early[id]; ok {
		delete(j.early, id)
		j.mu.Unlock()
		return o.result, o.err
	}
	j.waiters[id] = ch
	j.mu.Unlock()
	defer func() {
		j.mu.Lock()
		delete(j.waiters, id)
		j.mu.Unlock()
	}()
	m := &nats.Msg{Subject: jobSubject(j.Name, "tasks"), Data: task, Header: nats.Header{}}
	m.Header.Set(HdrTask, id)
	m.Header.Set(hdrAsker, j.inc)
	if err := publish(ctx, j.JS, m, id+"@"+j.inc); err != nil {
		return nil, err
	}
	select {
	case o := <-ch:
		return o.result, o.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// startWatching reads the results and dead letters from the start, handing each to its Ask.
func (j *Job) startWatching(askCtx context.Context) {
	j.waiters, j.early, j.caught = map[string]chan outcome{}, map[string]outcome{}, make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	j.cancel = cancel
	var upTo uint64 // the results held now
	for {
		info, err := j.Results.Info(askCtx)
		if err == nil {
			upTo = info.State.LastSeq
			if info.State.Msgs == 0 {
				upTo = 0
			}
			break
		}
		if askCtx.Err() != nil {
			break // the Ask fails on its context
		}
		time.Sleep(250 * time.Millisecond)
	}
	var once sync.Once
	caughtUp := func() { once.Do(func() { close(j.caught) }) }
	if upTo == 0 {
		caughtUp()
	}
	deliver := func(id string, o outcome) {
		j.mu.Lock()
		defer j.mu.Unlock()
		if ch, ok := j.waiters[id]; ok {
			delete(j.waiters, id)
			ch <- o
		} else if _, seen := j.early[id]; !seen && o.err == nil {
			j.early[id] = o // answered for an earlier coordinator, or before this one asked
		}
	}
	for _, s := range []jetstream.Stream{j.Results, j.Dead} {
		dead := s == j.Dead
		go func() {
			for ctx.Err() == nil {
				c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
				if err != nil {
					time.Sleep(250 * time.Millisecond) // the broker is away
					continue
				}
				cc, err := c.Consume(func(m jetstream.Msg) {
					id := m.Headers().Get(HdrTask)
					if dead && m.Headers().Get(hdrAsker) != j.inc {
						return // an earlier coordinator's: this one asks again
					}
					if dead {
						deliver(id, outcome{err: fmt.Errorf("dist: task %s failed %s times on the workers: %s", id, m.Headers().Get(hdrTries), m.Headers().Get(HdrReason))})
					} else {
						deliver(id, outcome{result: m.Data()})
						if md, err := m.Metadata(); err == nil && md.Sequence.Stream >= upTo {
							caughtUp()
						}
					}
				})
				if err != nil {
					time.Sleep(250 * time.Millisecond)
					continue
				}
				<-ctx.Done()
				cc.Stop()
			}
		}()
	}
}

// Delete removes the job's streams (its coordinator, when every answer is in): workers serving
// it stop.
func (j *Job) Delete(ctx context.Context) error {
	j.Close()
	for _, s := range []string{"tasks", "results", "dead"} {
		if err := j.JS.DeleteStream(ctx, jobPrefix+j.Name+"-"+s); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("dist: delete job %s: %w", j.Name, err)
		}
	}
	return nil
}

// Close stops reading answers.
func (j *Job) Close() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.cancel != nil {
		j.cancel()
	}
}

// ErrJobGone is what Serve returns when the job's streams are deleted: it is over.
var ErrJobGone = errors.New("dist: the job is over (its streams were deleted)")

// Permanent marks an error that another try cannot mend (a malformed task): the task is
// dead-lettered at once.
func Permanent(err error) error { return permanentError{err} }

type permanentError struct{ error }

func (e permanentError) Unwrap() error { return e.error }

// ServeOptions configure a worker.
type ServeOptions struct {
	// Concurrency is the tasks done at once (0: 1).
	Concurrency int
	// Done, when set, is called after each task with its ID and error (nil: answered).
	Done func(id string, err error)
}

// Serve takes tasks and answers them with do until ctx ends (then the tasks in hand are
// handed back at once) or the job is deleted (ErrJobGone). A task do fails is tried again
// later (by any worker) until its MaxDeliver tries are spent, then dead-lettered with the
// error; a Permanent error dead-letters it at once.
func (j *Job) Serve(ctx context.Context, o ServeOptions, do func(ctx context.Context, id string, task []byte) ([]byte, error)) error {
	cons, err := j.Tasks.Consumer(ctx, workers)
	if err != nil {
		if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
			return ErrJobGone
		}
		return fmt.Errorf("dist: job %s: %w", j.Name, err)
	}
	cfg := cons.CachedInfo().Config
	renew := max(cfg.AckWait/3, 100*time.Millisecond)
	var wg sync.WaitGroup
	errs := make(chan error, max(o.Concurrency, 1))
	for w := 0; w < max(o.Concurrency, 1); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lastCheck := time.Now()
			for ctx.Err() == nil {
				mb, err := cons.Fetch(1, jetstream.FetchMaxWait(2*time.Second))
				n := 0
				if err == nil {
					for m := range mb.Messages() {
						n++
						if err := j.serveOne(ctx, m, cfg.MaxDeliver, renew, o.Done, do); err != nil {
							errs <- err
							return
						}
					}
				}
				if n == 0 && time.Since(lastCheck) > 2*time.Second { // idle: is the job still there?
					lastCheck = time.Now()
					if gone(ctx, j) {
						errs <- ErrJobGone
						return
					}
				}
				if err != nil {
					time.Sleep(250 * time.Millisecond) // the broker is away: the client reconnects
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return err
	}
	return ctx.Err()
}

// gone says whether the job's task stream or the workers' consumer no longer exists.
func gone(ctx context.Context, j *Job) bool {
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := j.JS.Consumer(c, j.Tasks.CachedInfo().Config.Name, workers)
	return errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrConsumerNotFound)
}

func (j *Job) serveOne(ctx context.Context, m jetstream.Msg, maxDeliver int, renew time.Duration, done func(string, error), do func(context.Context, string, []byte) ([]byte, error)) error {
	id := m.Headers().Get(HdrTask)
	md, err := m.Metadata()
	if err != nil {
		return fmt.Errorf("dist: job %s: a task without metadata: %w", j.Name, err)
	}
	stop := make(chan struct{})
	go func() { // renew the task while do works on it
		t := time.NewTicker(renew)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				m.InProgress()
			}
		}
	}()
	var result []byte
	if id == "" {
		err = Permanent(errors.New("the task has no " + HdrTask + " header"))
	} else {
		result, err = do(ctx, id, m.Data())
	}
	close(stop)
	if done != nil {
		done(id, err)
	}
	if err == nil {
		r := &nats.Msg{Subject: jobSubject(j.Name, "results"), Data: result, Header: nats.Header{}}
		r.Header.Set(HdrTask, id)
		if err := publish(ctx, j.JS, r, id); err != nil {
			m.Nak()
			return nil // ctx ended (or the job is gone: the next Fetch says so)
		}
		m.DoubleAck(ctx) // lost: another worker answers it again, and that answer is dropped
		return nil
	}
	if ctx.Err() != nil { // stopping: hand it back at once
		m.Nak()
		return nil
	}
	var perm permanentError
	if errors.As(err, &perm) || int(md.NumDelivered) >= maxDeliver {
		d := &nats.Msg{Subject: jobSubject(j.Name, "dead"), Data: m.Data(), Header: nats.Header{}}
		d.Header.Set(HdrTask, id)
		d.Header.Set(hdrAsker, m.Headers().Get(hdrAsker))
		d.Header.Set(HdrReason, err.Error())
		d.Header.Set(hdrTries, strconv.FormatUint(md.NumDelivered, 10))
		if perr := publish(ctx, j.JS, d, id+"@"+m.Headers().Get(hdrAsker)+"/dead"); perr != nil {
			m.Nak()
			return nil
		}
		m.Term()
		return nil
	}
	m.NakWithDelay(time.Duration(md.NumDelivered) * time.Second)
	return nil
}
