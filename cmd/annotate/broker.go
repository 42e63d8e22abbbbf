package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/maestro-rl/maestro/dist"
	"github.com/maestro-rl/maestro/llm"
	"github.com/maestro-rl/maestro/rewards/motif"
	"github.com/nats-io/nats.go"
)

// brokerConfig holds the flags that put label's requests, or a worker, on a broker.
type brokerConfig struct {
	url, job, tokenFile string
	wait, ackWait       time.Duration
}

func brokerFlags(fs *flag.FlagSet, coordinator bool) *brokerConfig {
	b := &brokerConfig{}
	if coordinator {
		fs.StringVar(&b.url, "broker", "", "queue the requests on this NATS JetStream broker (nats://host:4222; `train broker` runs one) for `annotate worker`s on any machine to answer, instead of asking an LLM from this process; the journal, resume and labels are as without it")
		fs.DurationVar(&b.ackWait, "task-ack-wait", 30*time.Second, "with --broker: a request taken by a worker that stops renewing it (killed, cut off) goes to another worker after this long")
	} else {
		fs.StringVar(&b.url, "broker", "", "the broker the requests are queued on (required)")
	}
	fs.StringVar(&b.job, "job", "label", "with --broker: the job's name on the broker; label and its workers pass the same")
	fs.StringVar(&b.tokenFile, "broker-token-file", "", "a file holding the broker's auth token (never logged)")
	fs.DurationVar(&b.wait, "broker-wait", 30*time.Second, "how long to keep trying a broker that refuses connections at start")
	return b
}

func (b *brokerConfig) connect(name string) (*nats.Conn, error) {
	if b.wait < 0 || b.ackWait < 0 {
		return nil, fmt.Errorf("--broker-wait %v and --task-ack-wait %v must not be negative", b.wait, b.ackWait)
	}
	return dist.Connect(b.url, dist.ConnectOptions{Name: name, TokenFile: b.tokenFile, Wait: b.wait})
}

// remoteModel is the model label --broker names its answers by: --llm-model, or the served
// name of the embedded --judge (what a worker without --llm-url serves).
func remoteModel(j *judgeConfig) (string, error) {
	if j.model != "" {
		return j.model, nil
	}
	if j.urls == "" {
		if m, err := llm.FindEmbeddedModel(j.judge); err == nil {
			return m.Name, nil
		}
	}
	return "", errors.New("label --broker: name the model the workers serve with --llm-model (it names the answers in the journal)")
}

// remoteAsker opens (creating) the job and returns the Ask that queues each request on it.
func remoteAsker(ctx context.Context, b *brokerConfig, model string) (func(context.Context, motif.Request) (motif.Answer, error), *dist.Job, func(), error) {
	nc, err := b.connect("maestro-annotate-label")
	if err != nil {
		return nil, nil, nil, err
	}
	job, err := dist.CreateJob(ctx, nc, b.job, dist.JobOptions{AckWait: b.ackWait, Meta: map[string]string{"model": model}})
	if err != nil {
		nc.Close()
		return nil, nil, nil, err
	}
	ask := func(ctx context.Context, r motif.Request) (motif.Answer, error) {
		task, err := json.Marshal(r)
		if err != nil {
			return motif.Answer{}, err
		}
		res, err := job.Ask(ctx, r.Key, task)
		if err != nil {
			return motif.Answer{}, err
		}
		var a motif.Answer
		dec := json.NewDecoder(bytes.NewReader(res))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&a); err != nil {
			return motif.Answer{}, fmt.Errorf("label: a worker's answer to %s is not an answer (%v); is every worker this version of Maestro?", r.Key, err)
		}
		a.Key = r.Key
		return a, a.Check()
	}
	return ask, job, func() { job.Close(); nc.Close() }, nil
}

func worker(ctx context.Context, args []string) error {
	fs := newFlags("worker", "annotate worker --broker nats://host:4222 --job label --llm-url http://gpu1:8000/v1 --llm-model Qwen2.5-7B-Instruct")
	jf := &judgeConfig{}
	llmFlags(fs, jf)
	b := brokerFlags(fs, false)
	conc := fs.Int("concurrency", 2, "requests this worker has its LLM answer at once")
	if err := parse(fs, args, "broker"); err != nil {
		return err
	}
	client, stopLLM, err := jf.connect(ctx, *conc, "worker")
	if err != nil {
		return err
	}
	defer stopLLM()
	model := client.Model()
	nc, err := b.connect("maestro-annotate-worker")
	if err != nil {
		return err
	}
	defer nc.Close()
	fmt.Fprintf(os.Stderr, "worker: waiting for job %s on %s\n", b.job, dist.Redact(b.url))
	job, err := dist.OpenJob(ctx, nc, b.job)
	if err != nil {
		return err
	}
	if want := job.Meta["model"]; want != model {
		return fmt.Errorf("worker: job %s wants answers of model %q; this worker's LLM serves %q (set --llm-url and --llm-model, or --judge, to serve %q)", b.job, want, model, want)
	}
	fmt.Fprintf(os.Stderr, "worker: answering job %s with %s (%d at once)\n", b.job, model, *conc)
	var answered, failed atomic.Int64
	start, last := time.Now(), atomic.Int64{}
	err = job.Serve(ctx, dist.ServeOptions{Concurrency: *conc, Done: func(id string, err error) {
		if err != nil {
			failed.Add(1)
			fmt.Fprintf(os.Stderr, "\nworker: request %s: %v\n", id, err)
		} else {
			answered.Add(1)
		}
		if now := time.Now().UnixNano(); now-last.Load() > int64(time.Second) {
			last.Store(now)
			fmt.Fprintf(os.Stderr, "worker: answered %d, failed %d, %.2f/s\n", answered.Load(), failed.Load(), float64(answered.Load())/time.Since(start).Seconds())
		}
	}}, func(ctx context.Context, id string, task []byte) ([]byte, error) {
		var r motif.Request
		dec := json.NewDecoder(bytes.NewReader(task))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			return nil, dist.Permanent(fmt.Errorf("not a request: %v", err))
		}
		if err := r.Validate(); err != nil {
			return nil, dist.Permanent(err)
		}
		if r.Key != id || r.Model != model {
			return nil, dist.Permanent(fmt.Errorf("request %s is for key %s of model %q; this worker answers %q", id, r.Key, r.Model, model))
		}
		a, err := motif.Ask(ctx, client, r)
		if err != nil {
			return nil, err // tried again, here or elsewhere
		}
		a.Key = r.Key
		return json.Marshal(a)
	})
	fmt.Fprintf(os.Stderr, "worker: answered %d, failed %d\n", answered.Load(), failed.Load())
	if errors.Is(err, dist.ErrJobGone) {
		fmt.Fprintf(os.Stderr, "worker: job %s is over\n", b.job)
		return nil
	}
	if ctx.Err() != nil {
		return nil // stopped (Ctrl-C, SIGTERM): the requests in hand went back to the queue
	}
	return err
}
