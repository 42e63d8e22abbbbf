package nethack

import (
	"math"
	"strings"
	"testing"
)

func TestEnvOptionsValidate(t *testing.T) {
	nan := math.NaN()
	for _, c := range []struct {
		o    EnvOptions
		want string
	}{
		{EnvOptions{PenaltyMode: "cubic"}, `unknown penalty mode "cubic"`},
		{EnvOptions{PenaltyStep: &nan}, "EnvOptions.PenaltyStep is NaN"},
		{EnvOptions{MaxEpisodeSteps: -1}, "must not be negative"},
		{EnvOptions{Game: GameOptions{ObservationKeys: []string{"smell"}}}, `unknown observation key "smell"`},
		{EnvOptions{Game: GameOptions{Character: "mon-hum-xyz"}}, `unknown alignment "xyz"`},
	} {
		if err := c.o.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v; want %q", c.o, err, c.want)
		}
	}
	if err := (EnvOptions{Task: TaskScore}).Validate(); err != nil {
		t.Error(err)
	}
}
