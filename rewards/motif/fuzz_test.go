package motif

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

// FuzzScoreAndRateAnswers: whatever top log-probabilities a server sends (NaN, +-Inf, +-1e308,
// positive), a scored margin is finite and bounded, and a rating lies on 1-9 with a mass in
// (0, 1], when they are usable at all.
func FuzzScoreAndRateAnswers(f *testing.F) {
	f.Add("1", -0.5, "2", -2.0, "7", -0.1)
	f.Add(" 1", 1e308, "2", -1e308, "None", math.Inf(1))
	f.Add("9", math.NaN(), "5", 0.0, "x", -1e-9)
	f.Fuzz(func(t *testing.T, a string, x float64, b string, y float64, c string, z float64) {
		top := map[string]float64{a: x, b: y, c: z}
		if m, ok := ScoreAnswer(top); ok && (math.IsNaN(m) || math.Abs(m) > 2e4) {
			t.Fatalf("ScoreAnswer(%v) = %v", top, m)
		}
		if r, mass, ok := RateAnswer(top); ok && (r < 1 || r > 9 || !(mass > 0 && mass <= 1+1e-9)) {
			t.Fatalf("RateAnswer(%v) = %v, %v", top, r, mass)
		}
	})
}

// FuzzParseRewardModel: any bytes given as a reward model load or fail, never panic; a model
// that loads scores finitely.
func FuzzParseRewardModel(f *testing.F) {
	f.Add(defaultModel)
	f.Add(defaultModel[:len(defaultModel)/2])
	f.Add([]byte("MTDv\x02\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rm, err := ParseRewardModel(b, "fuzz")
		if err != nil {
			return
		}
		if math.IsNaN(rm.Mean) || !(rm.Std > 0) {
			t.Fatalf("a model with mean %v std %v loaded", rm.Mean, rm.Std)
		}
	})
}

// FuzzJournal: any file given as a journal opens; every answer it keeps is valid, and opening
// it again (after the torn tail was cut) keeps the same answers.
func FuzzJournal(f *testing.F) {
	f.Add([]byte("{\"k\":\"a\",\"l\":1,\"ok\":true}\n{\"k\":\"b\",\"s\":6.5,\"p\":0.9,\"ok\":true}\n{\"k\":\"c\",\"l\":7"))
	f.Add([]byte("{\"k\":\"a\",\"m\":1e999}\n\n{}\n"))
	f.Add([]byte("\x00\xff{\"k\":\"\"}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), "j")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		j, err := OpenJournal(path)
		if err != nil {
			t.Fatalf("OpenJournal: %v", err)
		}
		n := j.Len()
		for _, a := range j.answers {
			if !a.valid() {
				t.Fatalf("kept an impossible answer %+v", a)
			}
		}
		j.Close()
		j, err = OpenJournal(path)
		if err != nil || j.Len() != n {
			t.Fatalf("reopened: %d answers, %v; want %d", j.Len(), err, n)
		}
		j.Close()
	})
}
