package rl

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

func TestGAEMatchesTorchRL(t *testing.T) {
	b, err := os.ReadFile("testdata/gae.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		T, B                              int
		Reward, Value, NextValue, Adv, Tg []float32
		Done, Terminated                  []float32
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for k, dst := range map[string]any{"T": &ref.T, "B": &ref.B, "reward": &ref.Reward, "value": &ref.Value,
		"next_value": &ref.NextValue, "adv": &ref.Adv, "target": &ref.Tg, "done": &ref.Done, "terminated": &ref.Terminated} {
		if err := json.Unmarshal(raw[k], dst); err != nil {
			t.Fatal(err)
		}
	}
	n := ref.T * ref.B
	done, term := make([]bool, n), make([]bool, n)
	ends := 0
	for i := range done {
		done[i], term[i] = ref.Done[i] != 0, ref.Terminated[i] != 0
		if done[i] && !term[i] {
			ends++
		}
	}
	if ends == 0 {
		t.Fatal("the reference has no truncation: regenerate it")
	}
	adv, target := make([]float32, n), make([]float32, n)
	if err := GAE(0.99, 0.95, ref.T, ref.B, ref.Reward, ref.Value, ref.NextValue, done, term, adv, target); err != nil {
		t.Fatal(err)
	}
	for i := range adv {
		if math.Abs(float64(adv[i]-ref.Adv[i])) > 1e-4*(1+math.Abs(float64(ref.Adv[i]))) ||
			math.Abs(float64(target[i]-ref.Tg[i])) > 1e-4*(1+math.Abs(float64(ref.Tg[i]))) {
			t.Fatalf("step %d env %d: advantage %v target %v, TorchRL %v %v", i/ref.B, i%ref.B, adv[i], target[i], ref.Adv[i], ref.Tg[i])
		}
	}
	if err := GAE(0.99, 0.95, ref.T, ref.B, ref.Reward[:3], ref.Value, ref.NextValue, done, term, adv, target); err == nil {
		t.Error("short reward array accepted")
	}
}
