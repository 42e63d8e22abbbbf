// Package validate checks numeric options: each value finite and within its range, with an
// error that names the option and what it takes. Every Validate method of the module's options
// types and the commands' flag checks use it, so their errors read alike.
//
// # Invariants
//   - NaN and infinities fail every field, whatever its range says.
package validate
