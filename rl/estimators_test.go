package rl

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

func TestEstimatorsMatchTorchRL(t *testing.T) {
	b, err := os.ReadFile("testdata/estimators.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		T         int       `json:"T"`
		B         int       `json:"B"`
		Reward    []float32 `json:"reward"`
		Value     []float32 `json:"value"`
		NextValue []float32 `json:"next_value"`
		LogPi     []float32 `json:"log_pi"`
		LogMu     []float32 `json:"log_mu"`
		Done      []float32 `json:"done"`
		Term      []float32 `json:"terminated"`
		TD0       []float32 `json:"td0"`
		TDL       []float32 `json:"tdl"`
		VS        []float32 `json:"vs"`
		Adv       []float32 `json:"adv"`
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	n := ref.T * ref.B
	done, term := make([]bool, n), make([]bool, n)
	for i := range done {
		done[i], term[i] = ref.Done[i] != 0, ref.Term[i] != 0
	}
	check := func(what string, got, want []float32) {
		t.Helper()
		for i := range got {
			if math.Abs(float64(got[i]-want[i])) > 1e-4*(1+math.Abs(float64(want[i]))) {
				t.Fatalf("%s at step %d env %d: %v, TorchRL %v", what, i/ref.B, i%ref.B, got[i], want[i])
			}
		}
	}
	out, out2 := make([]float32, n), make([]float32, n)
	if err := TD0(0.97, ref.T, ref.B, ref.Reward, ref.NextValue, term, out); err != nil {
		t.Fatal(err)
	}
	check("TD(0)", out, ref.TD0)
	if err := TDLambda(0.97, 0.9, ref.T, ref.B, ref.Reward, ref.NextValue, done, term, out); err != nil {
		t.Fatal(err)
	}
	check("TD(lambda)", out, ref.TDL)
	if err := VTrace(0.97, 1, 1, ref.T, ref.B, ref.LogPi, ref.LogMu, ref.Reward, ref.Value, ref.NextValue, done, term, out, out2); err != nil {
		t.Fatal(err)
	}
	check("V-trace vs", out, ref.VS)
	check("V-trace advantage", out2, ref.Adv)
	if err := VTrace(0.97, 1, 1, ref.T, ref.B, ref.LogPi[:1], ref.LogMu, ref.Reward, ref.Value, ref.NextValue, done, term, out, out2); err == nil {
		t.Error("short log-prob array accepted")
	}
}
