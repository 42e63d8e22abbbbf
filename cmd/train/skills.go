package main

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/maestro-rl/maestro/logs"
	"github.com/maestro-rl/maestro/rewards/motif"
	"github.com/maestro-rl/maestro/skills"
)

// skillLog writes the per-skill figures of a --skills run: for every batch and skill, the
// skill segments that ended (count, mean length in steps, mean intrinsic return) and the
// skill's share of the steps, to skills.csv and TensorBoard (skills/<name>/...), with the
// failures of the skill code. A run without skills has a skillLog that does nothing.
type skillLog struct {
	spec  *skills.Spec
	f     *os.File
	w     *csv.Writer
	segs  []int
	steps []int
	ret   []float64
	total []int // steps per skill over the whole run (for the summary)
}

func newSkillLog(runDir string, spec *skills.Spec, resume bool, frames int) (*skillLog, error) {
	l := &skillLog{spec: spec}
	if spec == nil {
		return l, nil
	}
	path := filepath.Join(runDir, "skills.csv")
	if resume {
		if err := truncateLog(path, frames); err != nil {
			return nil, err
		}
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	l.f, l.w = f, csv.NewWriter(f)
	if st, _ := f.Stat(); st.Size() == 0 {
		l.w.Write([]string{"frames", "skill", "segments_ended", "steps", "mean_segment_steps", "mean_segment_return"})
	}
	n := len(spec.Skills)
	l.segs, l.steps, l.ret, l.total = make([]int, n), make([]int, n), make([]float64, n), make([]int, n)
	return l, nil
}

// add counts finished segments.
func (l *skillLog) add(segs []motif.Segment) {
	if l.spec == nil {
		return
	}
	for _, s := range segs {
		l.segs[s.Skill]++
		l.steps[s.Skill] += s.Steps
		l.ret[s.Skill] += s.Return
		l.total[s.Skill] += s.Steps
	}
}

// write logs the segments counted since the last call and the controllers' code failures.
func (l *skillLog) write(tb *logs.TensorBoard, step int64, ctls []*skills.Controller) error {
	if l.spec == nil {
		return nil
	}
	all := 0
	for _, n := range l.steps {
		all += n
	}
	for k, sk := range l.spec.Skills {
		meanSteps, meanRet := 0.0, 0.0
		if l.segs[k] > 0 {
			meanSteps, meanRet = float64(l.steps[k])/float64(l.segs[k]), l.ret[k]/float64(l.segs[k])
			tb.Scalar("skills/"+sk.Name+"/mean_segment_steps", step, meanSteps)
			tb.Scalar("skills/"+sk.Name+"/mean_segment_return", step, meanRet)
		}
		if all > 0 {
			tb.Scalar("skills/"+sk.Name+"/share_of_steps", step, float64(l.steps[k])/float64(all))
		}
		l.w.Write([]string{strconv.FormatInt(step, 10), sk.Name, strconv.Itoa(l.segs[k]), strconv.Itoa(l.steps[k]), f(meanSteps), f(meanRet)})
		l.segs[k], l.steps[k], l.ret[k] = 0, 0, 0
	}
	errs := 0
	for _, c := range ctls {
		for _, n := range c.Stats().Errors {
			errs += n
		}
	}
	tb.Scalar("skills/code_errors", step, float64(errs))
	l.w.Flush()
	return l.w.Error()
}

// summary is one line on how the run's steps were shared among the skills.
func (l *skillLog) summary() string {
	if l.spec == nil {
		return ""
	}
	all := 0
	for _, n := range l.total {
		all += n
	}
	s := "skills: share of the steps in finished segments:"
	for k, sk := range l.spec.Skills {
		s += fmt.Sprintf(" %s %.0f%%", sk.Name, 100*float64(l.total[k])/float64(max(all, 1)))
	}
	return s
}

func (l *skillLog) close() {
	if l.f != nil {
		l.w.Flush()
		l.f.Close()
	}
}
