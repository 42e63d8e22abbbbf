package validate

import (
	"math"
	"testing"
)

func TestNumbers(t *testing.T) {
	if err := Numbers("x: ", F("A", 1, true, "positive")); err != nil {
		t.Error(err)
	}
	for _, f := range []Field{F("A", math.NaN(), true, "any"), F("A", math.Inf(-1), true, "any"), F("A", -1, false, "at least 0")} {
		if err := Numbers("x: ", f); err == nil {
			t.Errorf("%+v passed", f)
		}
	}
	if err := Numbers("rl: Options.", F("LR", -1, false, "positive")); err == nil || err.Error() != "rl: Options.LR is -1; want a finite value positive" {
		t.Errorf("message %v", err)
	}
}
