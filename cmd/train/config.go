package main

import (
	"flag"
	"fmt"
	"github.com/maestro-rl/maestro/dist"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/maestro-rl/maestro/internal/atomicfile"
	"gopkg.in/yaml.v3"
)

// applyConfigFile sets, from a YAML file of flag-name: value pairs, every flag the command
// line did not set (flags override the file). An unknown key is an error naming it and the
// nearest known flag.
func applyConfigFile(fs *flag.FlagSet, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	var kv map[string]any
	if err := yaml.Unmarshal(b, &kv); err != nil {
		return fmt.Errorf("--config %s: not YAML of flag: value pairs: %w", path, err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		name := strings.ReplaceAll(k, "_", "-")
		f := fs.Lookup(name)
		if f == nil || name == "config" {
			return fmt.Errorf("--config %s: unknown key %q; did you mean %q? (keys are the flags of `train -help`)", path, k, nearest(name, fs))
		}
		if set[name] {
			continue
		}
		v := fmt.Sprint(kv[k])
		if x, ok := kv[k].(float64); ok && x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			v = strconv.FormatFloat(x, 'f', -1, 64) // total_frames: 1e6 is 1000000, not "1e+06"
		}
		if err := fs.Set(name, v); err != nil {
			return fmt.Errorf("--config %s: key %q: %w", path, k, err)
		}
	}
	return nil
}

// writeResolved saves every flag's final value as YAML (what the run actually used).
func writeResolved(fs *flag.FlagSet, path string) error {
	out := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name != "config" && f.Name != "resume" && f.Name != "force" {
			out[f.Name] = f.Value.String()
			if f.Name == "broker" {
				out[f.Name] = dist.Redact(f.Value.String()) // URLs may carry credentials
			}
		}
	})
	b, err := yaml.Marshal(out)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, b)
}

func nearest(name string, fs *flag.FlagSet) string {
	best, bestD := "", 1<<30
	fs.VisitAll(func(f *flag.Flag) {
		if d := levenshtein(name, f.Name); d < bestD {
			best, bestD = f.Name, d
		}
	})
	return best
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
