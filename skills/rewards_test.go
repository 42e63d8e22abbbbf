package skills

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestShippedRewardModels: Maestro ships one diffstats reward model per skill of the default
// spec (made by scripts/make-skill-rewards.sh), each with its provenance file, and they load.
func TestShippedRewardModels(t *testing.T) {
	spec, _ := DefaultSpec()
	models, err := RewardModels(spec, "default")
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range models {
		name := spec.Skills[i].Name
		if !m.UsesDiffStats() || m.Delta != 100 || !slices.IsSorted(m.Quant) || m.Std <= 0 {
			t.Errorf("%s: diffstats %v, delta %d, quantiles sorted %v, std %g", name, m.UsesDiffStats(), m.Delta, slices.IsSorted(m.Quant), m.Std)
		}
		b, err := os.ReadFile(filepath.Join("rewards", name+".json"))
		if err != nil || !strings.Contains(string(b), `"skill": "`+name+`"`) {
			t.Errorf("%s: provenance file: %v", name, err)
		}
	}
	if _, err := RewardModels(spec, t.TempDir()); err == nil || !strings.Contains(err.Error(), "discoverer") {
		t.Errorf("an empty folder: %v", err)
	}
}
