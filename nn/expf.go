package nn

import "math"

// expf is e^x in float32 precision (Cephes' expf: range reduction by ln 2 and a degree-5
// polynomial; relative error about 1 ulp), several times faster than math.Exp on float64. It
// saturates to +Inf above 88.7 and to 0 below -87.3.
func expf(x float32) float32 {
	const (
		ln2Hi = 0.693359375
		ln2Lo = -2.12194440e-4
		log2e = 1.44269504088896341
	)
	if x > 88.72283 {
		return float32(math.Inf(1))
	}
	if x < -87.33654 {
		return 0
	}
	k := float32(math.Floor(float64(log2e*x + 0.5)))
	r := x - k*ln2Hi - k*ln2Lo
	p := float32(1.9875691500e-4)
	p = p*r + 1.3981999507e-3
	p = p*r + 8.3334519073e-3
	p = p*r + 4.1665795894e-2
	p = p*r + 1.6666665459e-1
	p = p*r + 5.0000001201e-1
	y := p*r*r + r + 1
	return math.Float32frombits(math.Float32bits(y) + uint32(int32(k))<<23)
}

// expm1f is e^x - 1, accurate near 0 (where expf(x) - 1 would cancel).
func expm1f(x float32) float32 {
	if x > -0.3 && x < 0.3 { // Taylor series to x^6: error below float32 rounding here
		return x * (1 + x*(0.5+x*(1.0/6+x*(1.0/24+x*(1.0/120+x*(1.0/720))))))
	}
	return expf(x) - 1
}

// tanhf is tanh in float32 precision: -expm1(-2x)/(expm1(-2x)+2) for x >= 0 (accurate near 0),
// odd-symmetric.
func tanhf(x float32) float32 {
	neg := x < 0
	if neg {
		x = -x
	}
	if x > 9 {
		x = 1
	} else {
		e := expm1f(-2 * x)
		x = -e / (e + 2)
	}
	if neg {
		return -x
	}
	return x
}
