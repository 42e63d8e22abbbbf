package minihack

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/maestro-rl/maestro/envs/nethack"
)

// MiniHack's hand-drawn levels (Memento, ExploreMaze, Quest, LavaCross) are des files in MiniHack's
// package data. Maestro does not ship them: it reads them from a MiniHack 1.0.2 install, found
// by DataDir, and checks each against the sha256 of 1.0.2's copy, so that a level is MiniHack's
// to the byte or the task refuses to start.

// EnvDataDir names the variable that points at a MiniHack install's data folder
// (<site-packages>/minihack/dat).
const EnvDataDir = "MAESTRO_MINIHACK_DAT"

// dataFiles are the des files the data-file tasks read, with their sha256 in minihack 1.0.2.
var dataFiles = map[string]string{
	"memento_short.des":             "7233ec100940575ce4ec11ade3cb9d9365b06d2e5c25d48c5145749ee93553f0",
	"memento_easy.des":              "79326822f2d957423b2d4379b3e10aa6b558c5a765c5b2458629000e0a8591e2",
	"memento_hard.des":              "15df562a383ac7e3c4d55fa54095ebcdd8a5a27fcdc4d6da4eb53fcea132b5b3",
	"exploremazeeasy.des":           "25673df23fe60cfa74728ce371243cc272cd539bf9558aafff153664b6c1bfdc",
	"exploremazehard.des":           "93ae09053594aaf44a29c40612d9ef0543e20d9bd214a6a57e1f7af3e058ac00",
	"exploremazeeasy_premapped.des": "0b0a3431f16848b299fcdb80a6d6b20717a8c9b9392452657f6a2ec3c5fab20f",
	"exploremazehard_premapped.des": "279689f5ac15b7f28135236ad2aeae14396aebd7794b418184031b32c6dd6e66",
	"quest_easy.des":                "3459acbb0ce6ab84638172e79fde9f50e0083f4a1eeb420434985abd201fe865",
	"quest_medium.des":              "bbbfae8340a10017cf3e70a7f1a4d48178358071fb19114e64f6dd4640dc9f6a",
	"quest_hard.des":                "655e8e41f2b31f5dcba5f25911630f8ebde88aa79f816ccc9d401a528d8a3f2c",
	"lava_crossing.des":             "1c375a83e09e696940296ab91bd1363751619e2039e2fb31ff7b91bf60d24caa",
}

// DataDir returns the data folder of a MiniHack install: $MAESTRO_MINIHACK_DAT, else the
// MiniHack that `scripts/setup.sh --peer` (or --bench) installs into Maestro's cache. The error
// says how to get one.
func DataDir() (string, error) {
	if d := os.Getenv(EnvDataDir); d != "" {
		if _, err := os.Stat(filepath.Join(d, "memento_easy.des")); err != nil {
			return "", fmt.Errorf("minihack: %s=%s holds no MiniHack level files (%v); point it at <site-packages>/minihack/dat of an install of minihack==1.0.2", EnvDataDir, d, err)
		}
		return d, nil
	}
	cache := nethack.DefaultCacheDir()
	var found []string
	for _, venv := range []string{"peer-nle-*", "peer-bench"} {
		m, _ := filepath.Glob(filepath.Join(cache, venv, "lib", "python3*", "site-packages", "minihack", "dat"))
		found = append(found, m...)
	}
	sort.Strings(found)
	for _, d := range found {
		if _, err := os.Stat(filepath.Join(d, "memento_easy.des")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("minihack: this task's level is one of MiniHack's own des files, which Maestro does not ship: run scripts/setup.sh --peer (it installs minihack 1.0.2 under %s), or pip install minihack==1.0.2 and set %s=<site-packages>/minihack/dat", cache, EnvDataDir)
}

// dataLevel returns a Level reading file from DataDir, checked against minihack 1.0.2's copy.
func dataLevel(file string) func(*rand.Rand) (string, error) {
	return func(*rand.Rand) (string, error) {
		dir, err := DataDir()
		if err != nil {
			return "", err
		}
		path := filepath.Join(dir, file)
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("minihack: %w (a MiniHack install without its level files? reinstall minihack==1.0.2)", err)
		}
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:]); got != dataFiles[file] {
			return "", fmt.Errorf("minihack: %s has sha256 %s, not minihack 1.0.2's %s: use an install of minihack==1.0.2 (the tasks are defined by its levels)", path, got, dataFiles[file])
		}
		return string(b), nil
	}
}

// stairsDownReward is ExploreMaze's custom reward: 1 on each step the hero stands on the stairs
// down (NLE's internal observation, entry 4), else 0.
func stairsDownReward(s *StepView) float64 {
	if in := s.Env.Obs().Internal; len(in) > 4 && in[4] != 0 {
		return 1
	}
	return 0
}

func init() {
	// Memento: remember which corridor holds the grid bug to kill; a squeaky board on the
	// wrong one ends the episode with -1.
	for _, m := range []struct{ name, file string }{
		{"MiniHack-Memento-Short-F2-v0", "memento_short.des"},
		{"MiniHack-Memento-F2-v0", "memento_easy.des"},
		{"MiniHack-Memento-F4-v0", "memento_hard.des"},
	} {
		t := Navigation(m.name, 5000, nil)
		t.LevelFile = m.file
		t.Rewards = func() *RewardManager {
			return NewRewardManager().
				Add(MessageEvent{[]string{"squeak"}}, EventOptions{Reward: -1, Required: true, Sufficient: true}).
				Add(KillEvent("grid bug"), EventOptions{Reward: 1, Required: true, Sufficient: true})
		}
		mustRegister(t)
	}
	// ExploreMaze: apples (0.5 each) in a maze, 1 for each step on the stairs down, 500 steps;
	// an event that never fires keeps the episode going to the limit.
	for _, m := range []struct{ name, file string }{
		{"MiniHack-ExploreMaze-Easy-v0", "exploremazeeasy.des"},
		{"MiniHack-ExploreMaze-Hard-v0", "exploremazehard.des"},
		{"MiniHack-ExploreMaze-Easy-Mapped-v0", "exploremazeeasy_premapped.des"},
		{"MiniHack-ExploreMaze-Hard-Mapped-v0", "exploremazehard_premapped.des"},
	} {
		t := Navigation(m.name, 500, nil)
		t.LevelFile = m.file
		t.Actions = append(slices.Clone(NavigateActions), 'e')
		t.Autopickup, t.AllowAllYNQuestions = false, true
		t.GameKeys = []string{"internal"}
		t.Rewards = func() *RewardManager {
			return NewRewardManager().
				Add(EatEvent("apple"), EventOptions{Reward: 0.5, Repeatable: true}).
				Add(MessageEvent{[]string{"Mission Complete."}}, EventOptions{Reward: 1, Required: true, Sufficient: true}).
				AddFunc(stairsDownReward)
		}
		mustRegister(t)
	}
	// Quest: MiniHack's skill quests, reaching the stairs down.
	for _, q := range []struct {
		name, file, character string
		steps                 int
		autopickup            bool
	}{
		{"MiniHack-Quest-Easy-v0", "quest_easy.des", "", 500, true},
		{"MiniHack-Quest-Medium-v0", "quest_medium.des", "kni-hum-law-fem", 1000, true},
		{"MiniHack-Quest-Hard-v0", "quest_hard.des", "", 1000, false},
	} {
		t := Skill(q.name, nil, nil)
		t.LevelFile = q.file
		t.MaxEpisodeSteps, t.Autopickup = q.steps, q.autopickup
		if q.character != "" {
			t.Character = q.character
		}
		mustRegister(t)
	}
}

// IsDataTask reports whether a registered task's level is one of MiniHack's des files
// (TaskSpec.LevelFile, read through DataDir).
func IsDataTask(name string) bool { return registry[name].LevelFile != "" }
