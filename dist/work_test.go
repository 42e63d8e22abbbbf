package dist

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// TestJob: a worker that takes a task and dies (its connection closed mid-task, so it stops
// renewing) loses nothing: after AckWait the task goes to the other worker, and every Ask gets
// its own answer once. A failing task is dead-lettered after MaxDeliver tries, a Permanent
// error at once; a restarted coordinator gets the answers already given without asking
// again; deleting the job stops its workers.
func TestJob(t *testing.T) {
	ctx := context.Background()
	e, nc := start(t, t.TempDir(), "127.0.0.1:0")
	defer e.Close()
	defer nc.Close()
	job, err := CreateJob(ctx, nc, "j", JobOptions{AckWait: time.Second, MaxDeliver: 3, Meta: map[string]string{"model": "m1"}})
	if err != nil {
		t.Fatal(err)
	}
	dial := func() *nats.Conn {
		c, err := Connect(e.URL(), ConnectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// Worker A takes one task and hangs on it until its connection goes.
	ncA := dial()
	wa, err := OpenJob(ctx, ncA, "j")
	if err != nil {
		t.Fatal(err)
	}
	if wa.Meta["model"] != "m1" {
		t.Fatalf("the worker reads the job's meta %v, want model m1", wa.Meta)
	}
	taken := make(chan string, 1)
	go wa.Serve(ctx, ServeOptions{}, func(c context.Context, id string, task []byte) ([]byte, error) {
		taken <- id
		<-c.Done()
		return nil, c.Err()
	})
	var mu sync.Mutex
	calls := map[string]int{}
	ncB := dial()
	defer ncB.Close()
	wb, err := OpenJob(ctx, ncB, "j")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() {
		served <- wb.Serve(ctx, ServeOptions{Concurrency: 2}, func(c context.Context, id string, task []byte) ([]byte, error) {
			mu.Lock()
			calls[id]++
			mu.Unlock()
			switch id {
			case "bad":
				return nil, errors.New("the LLM said no")
			case "perm":
				return nil, Permanent(errors.New("malformed"))
			}
			return []byte("answer to " + string(task)), nil
		})
	}()
	const n = 20
	var wg sync.WaitGroup
	var wrong atomic.Int32
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			got, err := job.Ask(c, fmt.Sprint("t", i), []byte(fmt.Sprint("task ", i)))
			if err != nil || string(got) != fmt.Sprint("answer to task ", i) {
				t.Errorf("task %d: %q, %v", i, got, err)
				wrong.Add(1)
			}
		}()
	}
	held := <-taken
	ncA.Close() // worker A dies holding a task
	wg.Wait()
	mu.Lock()
	if calls[held] != 1 {
		t.Errorf("the task worker A died on was answered %d times by B, want once", calls[held])
	}
	if len(calls) != n {
		t.Errorf("worker B answered %d tasks, want %d", len(calls), n)
	}
	mu.Unlock()
	if info, err := job.Results.Info(ctx); err != nil || info.State.Msgs != n {
		t.Errorf("the results stream holds %v answers (%v), want %d", info.State.Msgs, err, n)
	}
	_, err = job.Ask(ctx, "bad", []byte("x"))
	if err == nil || !strings.Contains(err.Error(), "the LLM said no") || !strings.Contains(err.Error(), "3 times") {
		t.Errorf("a task that always fails: %v, want it dead after 3 tries with the reason", err)
	}
	_, err = job.Ask(ctx, "perm", []byte("x"))
	if err == nil || !strings.Contains(err.Error(), "malformed") {
		t.Errorf("a permanently failing task: %v", err)
	}
	mu.Lock()
	if calls["bad"] != 3 || calls["perm"] != 1 {
		t.Errorf("tries: bad %d (want 3), perm %d (want 1)", calls["bad"], calls["perm"])
	}
	mu.Unlock()
	// A restarted coordinator: the answers given are served from the results stream.
	job.Close()
	job2, err := CreateJob(ctx, nc, "j", JobOptions{AckWait: time.Second, MaxDeliver: 3})
	if err != nil {
		t.Fatal(err)
	}
	got, err := job2.Ask(ctx, "t3", []byte("task 3"))
	if err != nil || string(got) != "answer to task 3" {
		t.Errorf("a restarted coordinator's Ask of an answered task: %q, %v", got, err)
	}
	mu.Lock()
	if calls["t3"] != 1 {
		t.Errorf("t3 asked %d times, want once", calls["t3"])
	}
	mu.Unlock()
	if err := job2.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-served:
		if !errors.Is(err, ErrJobGone) {
			t.Errorf("a worker of a deleted job: %v, want ErrJobGone", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("the worker did not stop after the job was deleted")
	}
}
