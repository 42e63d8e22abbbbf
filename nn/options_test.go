package nn

import (
	"math"
	"strings"
	"testing"
)

func TestAdamOptionsValidate(t *testing.T) {
	if err := (AdamOptions{}).Validate(); err != nil {
		t.Errorf("zero AdamOptions (PyTorch's defaults): %v", err)
	}
	for _, c := range []struct {
		o    AdamOptions
		want string
	}{{AdamOptions{LR: math.NaN()}, "AdamOptions.LR is NaN"}, {AdamOptions{Beta2: 1}, "AdamOptions.Beta2 is 1"}, {AdamOptions{WeightDecay: -1}, "WeightDecay is -1"}} {
		if _, err := NewAdam(nil, c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v; want %q", c.o, err, c.want)
		}
	}
}
