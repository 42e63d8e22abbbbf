package skills

import (
	_ "embed"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/maestro-rl/maestro/envs/nethack"
)

// Spec is a skills specification: skills described in language, the character and action set
// that play them, and tasks with their success checks.
type Spec struct {
	Character string  `yaml:"character"`
	Actions   string  `yaml:"actions"`
	MaxSteps  int     `yaml:"max_steps"`
	Skills    []Skill `yaml:"skills"`
	Tasks     []Task  `yaml:"tasks"`
}

// Skill is one skill: what it does (for the coder LLM) and the preference the judge seeks (for
// its reward model), with the quantile threshold of its intrinsic reward.
type Skill struct {
	Name        string  `yaml:"name"`
	Description string  `yaml:"description"`
	Preference  string  `yaml:"preference"`
	Threshold   float64 `yaml:"threshold"`
}

// Task is an evaluation task.
type Task struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Success     *Check `yaml:"success"`
}

// Check is a success check; exactly one field is set.
type Check struct {
	OverviewContains string       `yaml:"overview_contains"` // the #overview screen mentions it
	OverviewMatches  string       `yaml:"overview_matches"`  // a regular expression on its text
	MessageCount     *MessageRule `yaml:"message_count"`     // messages matching a pattern
	StatAtLeast      *StatRule    `yaml:"stat_at_least"`
	StatAtMost       *StatRule    `yaml:"stat_at_most"`
	All              []Check      `yaml:"all"`
	overviewRE       *regexp.Regexp
}

// MessageRule counts messages matching Pattern (a Go regular expression).
type MessageRule struct {
	Pattern string `yaml:"pattern"`
	AtLeast int    `yaml:"at_least"`
	re      *regexp.Regexp
}

// StatRule compares a bottom-line statistic (StatNames) with Value.
type StatRule struct {
	Stat  string `yaml:"stat"`
	Value int64  `yaml:"value"`
}

// StatNames maps the statistics a check may read to their blstats index.
var StatNames = map[string]int{"depth": nethack.BlDepth, "gold": nethack.BlGold, "hit_points": nethack.BlHP,
	"experience_level": nethack.BlXP, "hunger": nethack.BlHunger, "score": nethack.BlScore, "turns": nethack.BlTime,
	"dungeon_number": nethack.BlDNum, "level_number": nethack.BlDLevel}

// ActionSets are the action sets a spec may name.
var ActionSets = map[string]func() []uint8{
	"motif": nethack.TaskActions,
	"maestromotif": func() []uint8 {
		// NLE's task actions plus cast (Z), enhance (M-e), pray (M-p), quaff (q) and drop (d).
		return append(nethack.TaskActions(), 'Z', 0x80|'e', 0x80|'p', 'q', 'd')
	},
}

//go:embed specs/maestromotif.yaml
var defaultSpec []byte

// DefaultSpec returns MaestroMotif's five skills and evaluation tasks.
func DefaultSpec() (*Spec, error) { return ParseSpec("maestromotif.yaml", defaultSpec) }

// LoadSpec reads a spec file ("default" means DefaultSpec).
func LoadSpec(path string) (*Spec, error) {
	if path == "default" {
		return DefaultSpec()
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("skills: spec: %w", err)
	}
	return ParseSpec(path, b)
}

// ParseSpec parses and checks a spec; errors name the place (file, skill or task, field).
func ParseSpec(name string, b []byte) (*Spec, error) {
	var s Spec
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("skills: %s: %w", name, err)
	}
	if s.Character == "" {
		s.Character = "mon-hum-neu-mal"
	}
	if s.Actions == "" {
		s.Actions = "maestromotif"
	}
	if _, ok := ActionSets[s.Actions]; !ok {
		return nil, fmt.Errorf("skills: %s: actions %q; use one of %s", name, s.Actions, keys(ActionSets))
	}
	if len(s.Skills) == 0 {
		return nil, fmt.Errorf("skills: %s defines no skills", name)
	}
	seen := map[string]bool{}
	for i, sk := range s.Skills {
		where := fmt.Sprintf("skills: %s: skill %d (%q)", name, i+1, sk.Name)
		switch {
		case sk.Name == "" || strings.ContainsAny(sk.Name, " \t"):
			return nil, fmt.Errorf("%s: a skill needs a name without spaces", where)
		case seen[sk.Name]:
			return nil, fmt.Errorf("%s: the name is used twice", where)
		case sk.Description == "" || sk.Preference == "":
			return nil, fmt.Errorf("%s: needs a description (for the coder) and a preference (for the judge)", where)
		case sk.Threshold <= 0 || sk.Threshold >= 1:
			return nil, fmt.Errorf("%s: threshold %g must be a quantile level in (0, 1), e.g. 0.85", where, sk.Threshold)
		}
		seen[sk.Name] = true
	}
	for i, t := range s.Tasks {
		where := fmt.Sprintf("skills: %s: task %d (%q)", name, i+1, t.Name)
		if t.Name == "" || t.Description == "" {
			return nil, fmt.Errorf("%s: a task needs a name and a description", where)
		}
		if t.Success == nil {
			return nil, fmt.Errorf("%s: no success check (success: overview_contains, overview_matches, message_count, stat_at_least, stat_at_most or all)", where)
		}
		if err := t.Success.check(); err != nil {
			return nil, fmt.Errorf("%s: success: %w", where, err)
		}
	}
	return &s, nil
}

func (c *Check) check() error {
	set := 0
	if c.OverviewContains != "" {
		set++
	}
	if c.OverviewMatches != "" {
		set++
		re, err := regexp.Compile(c.OverviewMatches)
		if err != nil {
			return fmt.Errorf("overview_matches %q: %v", c.OverviewMatches, err)
		}
		c.overviewRE = re
	}
	if c.MessageCount != nil {
		set++
		re, err := regexp.Compile(c.MessageCount.Pattern)
		if err != nil || c.MessageCount.Pattern == "" {
			return fmt.Errorf("message_count pattern %q: %v", c.MessageCount.Pattern, err)
		}
		c.MessageCount.re = re
		if c.MessageCount.AtLeast < 1 {
			return fmt.Errorf("message_count needs at_least >= 1")
		}
	}
	for _, r := range []*StatRule{c.StatAtLeast, c.StatAtMost} {
		if r != nil {
			set++
			if _, ok := StatNames[r.Stat]; !ok {
				return fmt.Errorf("unknown stat %q; known: %s", r.Stat, keys(StatNames))
			}
		}
	}
	if c.All != nil {
		set++
		if len(c.All) == 0 {
			return fmt.Errorf("all: needs at least one check")
		}
		for i := range c.All {
			if err := c.All[i].check(); err != nil {
				return fmt.Errorf("all[%d]: %w", i, err)
			}
		}
	}
	if set != 1 {
		return fmt.Errorf("a check sets exactly one of overview_contains, overview_matches, message_count, stat_at_least, stat_at_most, all (this one sets %d)", set)
	}
	return nil
}

// Skill returns the named skill's index, or an error listing the skills.
func (s *Spec) Skill(name string) (int, error) {
	for i, sk := range s.Skills {
		if sk.Name == name {
			return i, nil
		}
	}
	names := make([]string, len(s.Skills))
	for i, sk := range s.Skills {
		names[i] = sk.Name
	}
	return -1, fmt.Errorf("skills: unknown skill %q; the spec has %s", name, strings.Join(names, ", "))
}

func keys[V any](m map[string]V) string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}
