package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	openai "github.com/sashabaranov/go-openai"

	"github.com/maestro-rl/maestro/llm/llmtest"
)

// TestCompose runs compose against a stand-in coder that answers with working code (a real
// small model cannot write it on demand): both functions pass their harnesses and are saved.
func TestCompose(t *testing.T) {
	srv := llmtest.Start(t, func(_ int, msgs []openai.ChatCompletionMessage) string {
		if strings.Contains(msgs[0].Content, "def can_start") {
			return "```python\ndef can_start(skill, obs):\n    seen = ''.join(obs['window'])\n    if skill == 'worshipper':\n        return '_' in seen and obs['new_items'] > 0\n    if skill == 'merchant':\n        return seen.count('@') > 1 and obs['new_items'] > 0\n    return True\n```"
		}
		if strings.Contains(msgs[0].Content, "def should_stop") {
			return "```python\ndef should_stop(skill, start, now, turns):\n    if skill == 'descender':\n        return now['depth'] > start['depth']\n    if skill == 'ascender':\n        return now['depth'] < start['depth']\n    if skill == 'discoverer':\n        return turns >= 500\n    return turns >= 10000\n```"
		}
		return "```python\ndef select_skill(obs, state):\n    seen = state.get('seen', [])\n    if obs['depth'] in seen:\n        return ('descender', state)\n    return ('discoverer', {'seen': seen + [obs['depth']]})\n```"
	})
	out := filepath.Join(t.TempDir(), "c")
	if err := run(context.Background(), []string{"--task", "gnomish-mines", "--llm-url", srv.URL, "--llm-model", "stand-in", "--out", out}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"initiation.star", "termination.star", "termination.json", "policy.star", "policy.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	for _, kind := range []string{"initiation", "termination", "policy"} {
		if b, _ := os.ReadFile(filepath.Join(out, kind+".json")); !strings.Contains(string(b), `"score": 1`) {
			t.Errorf("%s report:\n%s", kind, b)
		}
	}
	if err := run(context.Background(), []string{"--llm-url", srv.URL}); err == nil || !strings.Contains(err.Error(), "--task") {
		t.Errorf("no task: %v", err)
	}
}
