package nn

import "math"

// LinearSchedule returns the learning rate at step t of a linear decay from start to end over
// steps (end after that), as PPO implementations anneal it.
func LinearSchedule(start, end float64, steps int) func(t int) float64 {
	return func(t int) float64 {
		if t >= steps {
			return end
		}
		return start + (end-start)*float64(t)/float64(steps)
	}
}

// CosineSchedule returns a cosine decay from start to end over steps.
func CosineSchedule(start, end float64, steps int) func(t int) float64 {
	return func(t int) float64 {
		if t >= steps {
			return end
		}
		return end + (start-end)*0.5*(1+math.Cos(math.Pi*float64(t)/float64(steps)))
	}
}
