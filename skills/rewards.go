package skills

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/maestro-rl/maestro/rewards/motif"
)

//go:embed rewards
var shippedRewards embed.FS

// RewardModels returns one reward model per skill of spec, in the spec's order: dir's
// <skill>.mtd files (annotate train's output), or the models Maestro ships for dir "default"
// (skills/rewards, made by scripts/make-skill-rewards.sh).
func RewardModels(spec *Spec, dir string) ([]*motif.RewardModel, error) {
	var out []*motif.RewardModel
	for _, sk := range spec.Skills {
		var m *motif.RewardModel
		var err error
		if dir == "default" {
			var b []byte
			if b, err = fs.ReadFile(shippedRewards, "rewards/"+sk.Name+".mtd"); errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("skills: Maestro ships no reward model for skill %q; train one (annotate label --skill %s, annotate train; see scripts/make-skill-rewards.sh) and pass a folder of <skill>.mtd files", sk.Name, sk.Name)
			}
			if err == nil {
				m, err = motif.ParseRewardModel(b, "the shipped reward model of "+sk.Name)
			}
		} else {
			path := filepath.Join(dir, sk.Name+".mtd")
			if _, serr := os.Stat(path); serr != nil {
				return nil, fmt.Errorf("skills: no reward model for skill %q: %v (the folder holds one <skill>.mtd per skill, from annotate train)", sk.Name, serr)
			}
			m, err = motif.LoadRewardModel(path)
		}
		if err != nil {
			return nil, fmt.Errorf("skills: skill %q: %w", sk.Name, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// Thresholds returns each skill's quantile level, in the spec's order.
func (s *Spec) Thresholds() []float64 {
	out := make([]float64, len(s.Skills))
	for i, sk := range s.Skills {
		out[i] = sk.Threshold
	}
	return out
}
