package nn_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/maestro-rl/maestro/nn"
)

// Example fits y = 2x - 1 with a 1-16-1 MLP: build the loss on a graph, backpropagate, step
// Adam, reset the graph (its buffers are recycled, so the loop allocates nothing).
func Example() {
	net, _ := nn.NewMLP("fit", []int{1, 16, 1}, (*nn.Graph).Tanh, rand.New(rand.NewPCG(1, 2)))
	opt, _ := nn.NewAdam(net.Params(), nn.AdamOptions{LR: 1e-2})
	xs, ys := []float32{-1, -0.5, 0, 0.5, 1}, []float32{-3, -2, -1, 0, 1}
	g := nn.NewGraph()
	var first, last float32
	for step := range 500 {
		g.Reset()
		loss := g.MSE(net.Forward(g, g.Input(xs, 5, 1)), g.Input(ys, 5, 1))
		g.Backward(loss)
		opt.Step()
		if step == 0 {
			first = loss.Data[0]
		}
		last = loss.Data[0]
	}
	fmt.Printf("loss %.2f -> below 0.01: %v\n", first, last < 0.01)
	// Output: loss 3.03 -> below 0.01: true
}
