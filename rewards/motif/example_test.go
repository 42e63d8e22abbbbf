package motif_test

import (
	"fmt"

	"github.com/maestro-rl/maestro/rewards/motif"
)

// Example reads a judge's answers: a generative answer's final line, and a pointwise rating
// from the first token's top log-probabilities (the expected digit).
func Example() {
	label, ok := motif.ParseAnswer("The first message reports a kill, which is progress.\nbest_message: 1")
	fmt.Println(motif.LabelName(label), ok)
	rating, mass, ok := motif.RateAnswer(map[string]float64{"7": -0.105, "8": -2.4, "The": -4})
	fmt.Printf("rating %.2f, digit mass %.2f, %v\n", rating, mass, ok)
	// Output:
	// first true
	// rating 7.09, digit mass 0.99, true
}
