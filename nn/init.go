package nn

import (
	"math"
	"math/rand/v2"
)

// XavierUniform fills p ([out, in, ...]) uniformly in +-gain*sqrt(6/(fan_in+fan_out)), as
// torch.nn.init.xavier_uniform_.
func XavierUniform(p *Param, gain float64, rng *rand.Rand) {
	in, out := fans(p)
	b := gain * math.Sqrt(6/float64(in+out))
	for i := range p.Data {
		p.Data[i] = float32((2*rng.Float64() - 1) * b)
	}
}

// KaimingUniform fills p uniformly in +-sqrt(6/fan_in)/sqrt(1+a^2) (ReLU-family gain, as
// torch.nn.init.kaiming_uniform_ with leaky slope a).
func KaimingUniform(p *Param, a float64, rng *rand.Rand) {
	in, _ := fans(p)
	b := math.Sqrt(2/(1+a*a)) * math.Sqrt(3/float64(in))
	for i := range p.Data {
		p.Data[i] = float32((2*rng.Float64() - 1) * b)
	}
}

func fans(p *Param) (in, out int) {
	if len(p.Shape) < 2 {
		return p.Len(), p.Len()
	}
	rf := 1
	for _, d := range p.Shape[2:] {
		rf *= d
	}
	return p.Shape[1] * rf, p.Shape[0] * rf
}
