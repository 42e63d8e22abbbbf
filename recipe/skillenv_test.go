package recipe

import (
	"slices"
	"strings"
	"testing"

	"github.com/maestro-rl/maestro/skills"
	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

// TestSkillEnvsLetTheAgentAnswer: the skills' envs leave questions to the agent (which item to
// drop, to quaff, to sell), where NLE's tasks would cancel them.
func TestSkillEnvsLetTheAgentAnswer(t *testing.T) {
	b, err := Build(Options{Algo: "appo", Env: "score", NumEnvs: 1, Seed: 1, Skills: "default", SkillCode: "default"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Env.Close()
	drop := slices.Index(skills.ActionSets["maestromotif"](), 'd')
	td, err := b.Env.Reset()
	if err != nil {
		t.Fatal(err)
	}
	a, _ := td.Get("action")
	if a == nil {
		td.Set("action", tensor.Zeros(tensor.Int64, 1))
		a, _ = td.Get("action")
	}
	a.SetAt(0, float64(drop))
	stepped, err := b.Env.Step(td)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := tensordict.GetAs[uint8](stepped, "next/message")
	if !strings.Contains(string(msg), "What do you want to drop?") {
		t.Errorf("after 'd' the message is %q; want the question left open", strings.TrimRight(string(msg), "\x00"))
	}
}
