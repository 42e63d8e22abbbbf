package validate

import (
	"fmt"
	"math"
)

// Field is one numeric option: its name as the user writes it, its value, whether the value is
// in range, and the range in words.
type Field struct {
	Name string
	V    float64
	OK   bool
	Want string
}

// F is a Field: name, value, whether it is in range, the range in words.
func F(name string, v float64, ok bool, want string) Field {
	return Field{Name: name, V: v, OK: ok, Want: want}
}

// Numbers returns an error for the first field that is not finite or not OK: "<prefix><name>
// is <v>; want a finite value <want>"; nil when all pass.
func Numbers(prefix string, fields ...Field) error {
	for _, f := range fields {
		if math.IsNaN(f.V) || math.IsInf(f.V, 0) || !f.OK {
			if f.Want == "" {
				return fmt.Errorf("%s%s is %v; want a finite value", prefix, f.Name, f.V)
			}
			return fmt.Errorf("%s%s is %v; want a finite value %s", prefix, f.Name, f.V, f.Want)
		}
	}
	return nil
}
