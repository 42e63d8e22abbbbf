package skills

import (
	"strings"
	"testing"
)

func TestDefaultSpec(t *testing.T) {
	s, err := DefaultSpec()
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Skills) != 5 || len(s.Tasks) != 9 || s.Character != "mon-hum-neu-mal" || len(ActionSets[s.Actions]()) != 28 {
		t.Errorf("default spec: %d skills, %d tasks, %s, %d actions; want 5, 9, mon-hum-neu-mal, 28", len(s.Skills), len(s.Tasks), s.Character, len(ActionSets[s.Actions]()))
	}
	if i, err := s.Skill("descender"); err != nil || i != 1 {
		t.Errorf("descender at %d (%v)", i, err)
	}
	if _, err := s.Skill("swimmer"); err == nil || !strings.Contains(err.Error(), "discoverer, descender") {
		t.Errorf("unknown skill: %v", err)
	}
}

func TestSpecErrors(t *testing.T) {
	const skill = "skills:\n  - {name: a, description: d, preference: p, threshold: 0.9}\n"
	for _, c := range []struct{ yaml, want string }{
		{"skills: []\n", "defines no skills"},
		{skill + "tasks:\n  - {name: t, description: d}\n", `task 1 ("t"): no success check`},
		{skill + "tasks:\n  - {name: t, description: d, sucess: {overview_contains: x}}\n", "field sucess not found"},
		{skill + "tasks:\n  - {name: t, description: d, success: {stat_at_least: {stat: mana, value: 3}}}\n", `unknown stat "mana"`},
		{skill + "tasks:\n  - {name: t, description: d, success: {message_count: {pattern: \"(\", at_least: 1}}}\n", "message_count pattern"},
		{skill + "tasks:\n  - {name: t, description: d, success: {overview_contains: x, stat_at_most: {stat: gold, value: 1}}}\n", "exactly one"},
		{skill + "tasks:\n  - {name: t, description: d, success: {all: [{stat_at_least: {stat: hp, value: 1}}]}}\n", `all[0]: unknown stat "hp"`},
		{skill + "  - {name: a, description: d, preference: p, threshold: 0.9}\n", "used twice"},
		{"skills:\n  - {name: a, description: d, preference: p, threshold: 2}\n", "threshold 2"},
		{"skills:\n  - {name: a, description: d, threshold: 0.5}\n", "preference"},
		{"actions: all\n" + skill, `actions "all"`},
	} {
		_, err := ParseSpec("x.yaml", []byte(c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("spec\n%s: error %v; want one saying %q", c.yaml, err, c.want)
		}
	}
}
