package motif

import (
	"math"
	"strings"
	"testing"
)

// TestOptionsValidate: each options type names the field out of range.
func TestOptionsValidate(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{TrainOptions{LR: math.Inf(1)}.Validate(), "TrainOptions.LR +Inf"},
		{TrainOptions{ValFraction: 1}.Validate(), "ValFraction 1 must be in [0, 1)"},
		{IntrinsicOptions{Beta: -1}.Validate(), "IntrinsicOptions.Beta is -1"},
		{IntrinsicOptions{Threshold: math.NaN()}.Validate(), "IntrinsicOptions.Threshold is NaN"},
		{CollectOptions{Steps: 10}.Validate(), "positive steps and envs"},
		{ProbeOptions{MaxTokens: -1}.Validate(), "ProbeOptions.MaxTokens -1"},
		{AnnotateOptions{}.Validate(), "no prompt template"},
		{AnnotateOptions{Template: &Template{}, Mode: "vote"}.Validate(), `AnnotateOptions.Mode "vote"`},
		{AnnotateOptions{Template: &Template{}, TopP: 1.5}.Validate(), "AnnotateOptions.TopP is 1.5"},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%v; want %q", c.err, c.want)
		}
	}
	if err := DefaultIntrinsic().Validate(); err != nil {
		t.Errorf("the defaults: %v", err)
	}
}
