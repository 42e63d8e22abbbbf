package layering

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/maestro-rl/maestro/"

// layer gives each package's layer; a package may import its own layer's ancestors and lower
// layers only. Binaries (cmd/, bench/) sit on top.
var layer = map[string]int{
	"tensor":                      0,
	"tensordict":                  1,
	"envs":                        2,
	"envs/envtest":                3,
	"envs/cartpole":               3,
	"envs/nethack/internal/nledl": 0,
	"nn/internal/par":             0,
	"nn/internal/blas":            1,
	"nn/internal/kern":            1,
	"internal/atomicfile":         0,
	"internal/validate":           0,
	"internal/proctest":           0,
	"nn":                          2,
	"envs/nethack":                3,
	"replaybuffer":                3,
	"collectors":                  4,
	"rl":                          5,
	"llm":                         0,
	"llm/llmtest":                 1,
	"rewards/motif":               5,
	"skills":                      6,
	"recipe":                      7,
	"logs":                        1,
	"checkpoint":                  1,
	"agents/nethackagent":         4,
	"agents/minihackagent":        4,
	"agents/internal/replaytest":  6,
	"envs/minihack":               4,
	"dist":                        3,
}

func TestImportsGoDownward(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", "../../...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	checked := 0
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(p.ImportPath, module)
		if strings.HasPrefix(name, "cmd/") || strings.HasPrefix(name, "bench/") || strings.HasPrefix(name, "internal/layering") {
			continue
		}
		own, ok := layer[name]
		if !ok {
			t.Errorf("package %s has no layer: add it to the table in this test (and DESIGN.md's map)", name)
			continue
		}
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			dep := strings.TrimPrefix(imp, module)
			if l, ok := layer[dep]; ok && l >= own && !strings.HasPrefix(name, dep+"/") {
				t.Errorf("%s (layer %d) imports %s (layer %d): imports must go to lower layers", name, own, dep, l)
			}
		}
		checked++
	}
	if checked < len(layer) {
		t.Errorf("checked %d packages, the table lists %d", checked, len(layer))
	}
}
