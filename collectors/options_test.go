package collectors

import (
	"strings"
	"testing"
)

func TestOptionsValidate(t *testing.T) {
	for _, c := range []struct {
		o    Options
		want string
	}{{Options{}, "FramesPerBatch 0 must be positive"}, {Options{FramesPerBatch: 8, RunAhead: -1}, "RunAhead -1 must not be negative"}} {
		if err := c.o.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v; want %q", c.o, err, c.want)
		}
	}
	if err := (Options{FramesPerBatch: 64, TotalFrames: 128}).Validate(); err != nil {
		t.Error(err)
	}
}
