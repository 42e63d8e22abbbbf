package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func newFlags(name, example string) *flag.FlagSet {
	fs := flag.NewFlagSet("annotate "+name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: annotate %s [flags]\n\nExample:\n  %s\n\nFlags:\n", name, example)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args and requires the named flags to be set.
func parse(fs *flag.FlagSet, args []string, required ...string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	var missing []string
	for _, n := range required {
		if fs.Lookup(n).Value.String() == "" {
			missing = append(missing, "--"+n)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s: %s required (see --help)", fs.Name(), strings.Join(missing, " and ")+map[bool]string{true: " is", false: " are"}[len(missing) == 1])
	}
	if err := checkNumbers(fs); err != nil {
		return err
	}
	if f := fs.Lookup("out"); f != nil && f.Value.String() != "" {
		name := strings.Fields(fs.Name())
		return checkOut(name[len(name)-1], f.Value.String())
	}
	return nil
}

// numberRanges are the allowed values of the commands' numeric flags (any flag of these names
// that a subcommand has); every float flag must also be finite.
var numberRanges = map[string]struct {
	ok   func(float64) bool
	want string
}{
	"tie-margin":  {func(v float64) bool { return v == -1 || v >= 0 }, "a margin of 0 or more (-1: the mode's default)"},
	"harm-weight": {func(v float64) bool { return v == -1 || v >= 0 }, "a weight of 0 or more (-1: the default, 5 in pointwise mode)"},
	"lr":          {func(v float64) bool { return v > 0 }, "a positive learning rate such as 1e-5"},
	"epochs":      {func(v float64) bool { return v >= 1 }, "at least 1"},
	"batch":       {func(v float64) bool { return v >= 1 }, "at least 1"},
	"concurrency": {func(v float64) bool { return v >= 1 }, "at least 1 request in flight"},
	"max-tokens":  {func(v float64) bool { return v >= 1 }, "at least 1"},
	"pairs":       {func(v float64) bool { return v >= 0 }, "0 (all) or more"},
	"stride":      {func(v float64) bool { return v >= 1 }, "at least 1"},
	"delta":       {func(v float64) bool { return v >= 0 }, "0 (single observations) or more steps"},
	"events":      {func(v float64) bool { return v >= 0 && v <= 1 }, "a share from 0 to 1"},
	"show-wrong":  {func(v float64) bool { return v >= 0 }, "0 or more"},
}

// checkNumbers refuses NaN, infinite and out-of-range numeric flags before any work, naming
// the flag and what it takes.
func checkNumbers(fs *flag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		v, perr := strconv.ParseFloat(f.Value.String(), 64)
		if err != nil || perr != nil {
			return
		}
		r, ranged := numberRanges[f.Name]
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0):
			err = fmt.Errorf("--%s %v: want a finite number", f.Name, v)
		case ranged && !r.ok(v):
			err = fmt.Errorf("--%s %v: want %s", f.Name, f.Value, r.want)
		}
	})
	return err
}

// checkOut makes sure --out can be written before any work starts (a folder given as --out
// once failed only after a whole collection): it must not be a folder, and its folder must
// exist or be creatable, and be writable.
func checkOut(cmd, out string) error {
	if st, err := os.Stat(out); err == nil && st.IsDir() {
		return fmt.Errorf("%s: --out %s is a folder; give a file path such as %s", cmd, out, filepath.Join(out, cmd+".mtd"))
	}
	dir := filepath.Dir(out)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%s: --out %s: cannot make its folder: %w", cmd, out, err)
	}
	f, err := os.CreateTemp(dir, ".write-test-*")
	if err != nil {
		return fmt.Errorf("%s: --out %s: its folder is not writable: %w", cmd, out, err)
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// flagSet says whether the command line set the flag.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// bar prints a one-line progress bar.
func bar(what string, done, total int, start time.Time, extra string) {
	const width = 24
	k := min(width, done*width/max(total, 1))
	el := time.Since(start).Seconds()
	rate := float64(done) / max(el, 1e-9)
	eta := float64(total-done) / max(rate, 1e-9)
	fmt.Fprintf(os.Stderr, "\r%s [%s%s] %d/%d  %.1f/s  ETA %.0fs %s ", what, strings.Repeat("#", k), strings.Repeat(".", width-k), done, total, rate, eta, extra)
}
