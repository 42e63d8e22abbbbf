// Package layering holds the test that keeps Maestro's packages layered as docs/architecture.md says:
// each package imports only packages of lower layers.
//
// # Invariants
//   - The table in the test lists every package; a package missing from it fails the test.
package layering
