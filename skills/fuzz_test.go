package skills

import (
	"strings"
	"testing"
)

// FuzzParseSpec: any bytes given as a skills spec (YAML) parse into a spec or an error, never
// a panic; a spec that parses names its skills and can look each up.
func FuzzParseSpec(f *testing.F) {
	f.Add(defaultSpec)
	f.Add([]byte("skills:\n  - name: a\n    description: x\n"))
	f.Add([]byte("a: &a [*a, *a, *a]\nb: &b [*a, *a, *a]\n")) // alias expansion
	f.Add([]byte("skills: [{name: a, threshold: .nan}]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSpec("fuzz.yaml", b)
		if err != nil {
			return
		}
		if len(s.Skills) == 0 {
			t.Fatalf("a spec with no skills parsed: %q", b)
		}
		for i, sk := range s.Skills {
			if k, err := s.Skill(sk.Name); err != nil || k != i {
				t.Fatalf("skill %q: Skill gives %d, %v; want %d", sk.Name, k, err, i)
			}
		}
	})
}

// FuzzExtractCode: code extraction from any LLM answer returns part of the answer (and a
// final newline).
func FuzzExtractCode(f *testing.F) {
	for _, s := range []string{"```python\ndef f():\n    return 1\n```", "no fence", "```\n```", "```py\nx = 1\n``` and ```python\ny = 2\nz = 3\n```", "def f(x):\n  return x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		code := ExtractCode(s)
		if len(code) > len(s)+1 || !strings.Contains(s, strings.TrimSpace(code)) {
			t.Fatalf("ExtractCode(%q) = %q, not part of the answer", s, code)
		}
	})
}

// FuzzSandboxFrame: whatever bytes a sandbox process sends back, decoding them is an error
// or a value, never a panic or an allocation the frame cannot hold.
func FuzzSandboxFrame(f *testing.F) {
	e := &encoder{}
	obs, _ := ToValue(map[string]any{"depth": 3, "window": []string{"..@", "..."}, "gold": 1.5})
	e.value(obs, 0, 0)
	f.Add(e.b)
	f.Add([]byte{tagList, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{tagBigInt, 3, '1', '2', 'x'})
	f.Add([]byte{tagDict, 1, tagList, 0, tagNone})
	f.Fuzz(func(t *testing.T, b []byte) {
		d := &decoder{b: b}
		d.value(0)
	})
}
