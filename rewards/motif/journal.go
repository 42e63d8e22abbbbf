package motif

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sync"
	"time"

	"github.com/maestro-rl/maestro/internal/atomicfile"
)

// Answer is what one request (one order of one caption pair) gave.
type Answer struct {
	Key string `json:"k"`
	// Label in the asked order (generative), or Unknown.
	Label int8 `json:"l"`
	// Margin is log p("1") - log p("2") (scored); OK says whether it is valid.
	Margin float64 `json:"m,omitempty"`
	// Rating is the expected 1-9 rating of the caption (pointwise) and Mass the probability
	// the answer token's distribution put on the digits 1-9.
	Rating float64 `json:"s,omitempty"`
	Mass   float64 `json:"p,omitempty"`
	// Harm is the harm aspect's p(yes) (pointwise mode with a harm template; Mass is then
	// p(yes) + p(no)).
	Harm   float64 `json:"h,omitempty"`
	OK     bool    `json:"ok"`
	Tokens int     `json:"t,omitempty"`
	// Retried: the first answer could not be parsed and the model was asked again.
	Retried bool `json:"r,omitempty"`
}

// Journal is an append-only file of answers, one JSON line each, so a killed annotation job
// loses at most the requests in flight: a rerun reads the journal back and asks only what is
// missing. A torn last line (a write cut by the kill) is ignored. Compact rewrites it with one
// line per key, atomically.
type Journal struct {
	mu      sync.Mutex
	path    string
	f       *os.File
	w       *bufio.Writer
	answers map[string]Answer
	lines   int
	invalid int
	synced  time.Time
}

// valid says whether an answer read back could have been written by Annotate: a label of
// First, Second, Tie or Unknown, a scored margin within the bounds ScoreAnswer gives, a
// rating on the 1-9 scale and a probability mass within [0, 1].
func (a Answer) valid() bool {
	switch {
	case a.Label < First || a.Label > Unknown:
		return false
	case math.IsNaN(a.Margin) || math.Abs(a.Margin) > 1e4:
		return false
	case a.Rating != 0 && (a.Rating < 1 || a.Rating > 9), math.IsNaN(a.Rating):
		return false
	case a.Harm < 0 || a.Harm > 1 || math.IsNaN(a.Harm):
		return false
	case a.Mass < 0 || a.Mass > 1+1e-6 || math.IsNaN(a.Mass):
		return false
	}
	return true
}

// Check refuses an answer Annotate could not have made (valid's bounds), naming its key: an
// answer from an annotation worker is checked before it enters the journal.
func (a Answer) Check() error {
	if !a.valid() {
		return fmt.Errorf("motif: answer %s is impossible (label %d, margin %g, rating %g, harm %g, mass %g)", a.Key, a.Label, a.Margin, a.Rating, a.Harm, a.Mass)
	}
	return nil
}

// Invalid is the number of journal lines that parsed but held impossible answers (a label
// outside 0..3, a rating off the 1-9 scale, ...): they were dropped, so their requests are
// asked again.
func (j *Journal) Invalid() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.invalid
}

// OpenJournal opens (creating) the journal at path and reads its answers.
func OpenJournal(path string) (*Journal, error) {
	j := &Journal{path: path, answers: map[string]Answer{}}
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("motif: journal: %w", err)
	}
	tailKept := false // the last line, when it has no newline, parsed as an answer
	for _, line := range bytes.Split(b, []byte("\n")) {
		var a Answer
		tailKept = false
		if len(line) == 0 || json.Unmarshal(line, &a) != nil || a.Key == "" {
			continue // a torn line from a killed writer
		}
		if !a.valid() {
			j.invalid++ // never trusted: the request is asked again
			continue
		}
		j.answers[a.Key] = a
		j.lines++
		tailKept = true
	}
	if n := len(b); n > 0 && b[n-1] != '\n' {
		// The writer died before the newline: a tail that parsed is whole and gets its
		// newline; any other tail is cut, so the next line starts cleanly.
		if tailKept {
			b = append(b, '\n')
		} else if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			b = b[:i+1]
		} else {
			b = nil
		}
		if err := atomicfile.WriteFile(path, b); err != nil {
			return nil, err
		}
	}
	if j.f, err = os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
		return nil, fmt.Errorf("motif: journal: %w", err)
	}
	j.w = bufio.NewWriter(j.f)
	return j, nil
}

// Get returns the answer recorded under key.
func (j *Journal) Get(key string) (Answer, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	a, ok := j.answers[key]
	return a, ok
}

// Len is the number of distinct answers.
func (j *Journal) Len() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.answers)
}

// Add records an answer: written through to the file at once (a SIGKILL cannot lose it; the
// file is synced to disk at most once a second).
func (j *Journal) Add(a Answer) error {
	if !finite(a.Margin) || !finite(a.Rating) || !finite(a.Mass) {
		// JSON cannot hold it, and it is no answer: unknown for this run, not journaled, so
		// a rerun asks again.
		a.Margin, a.Rating, a.Mass, a.OK, a.Label = 0, 0, 0, false, Unknown
		j.mu.Lock()
		j.answers[a.Key] = a
		j.invalid++
		j.mu.Unlock()
		return nil
	}
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.answers[a.Key] = a
	j.lines++
	j.w.Write(append(b, '\n'))
	if err := j.w.Flush(); err != nil {
		return fmt.Errorf("motif: journal %s: %w", j.path, err)
	}
	if time.Since(j.synced) > time.Second {
		j.synced = time.Now()
		return j.f.Sync()
	}
	return nil
}

// Compact rewrites the journal with one line per key when it holds duplicates.
func (j *Journal) Compact() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.lines == len(j.answers) {
		return nil
	}
	var buf bytes.Buffer
	for _, a := range j.answers {
		b, _ := json.Marshal(a)
		buf.Write(append(b, '\n'))
	}
	if err := atomicfile.WriteFile(j.path, buf.Bytes()); err != nil {
		return err
	}
	j.f.Close()
	f, err := os.OpenFile(j.path, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	j.f, j.w, j.lines = f, bufio.NewWriter(f), len(j.answers)
	return nil
}

// Close syncs and closes the file.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.w.Flush(); err != nil {
		return err
	}
	if err := j.f.Sync(); err != nil {
		return err
	}
	return j.f.Close()
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
