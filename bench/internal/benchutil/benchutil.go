// Package benchutil holds what the Go benchmark commands share: failing with the command's
// name and an optional CPU profile.
package benchutil

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// Fail prints err prefixed by the command's name and exits with status 1.
func Fail(prog string, err error) {
	fmt.Fprintf(os.Stderr, "%s: %v\n", prog, err)
	os.Exit(1)
}

// StartCPUProfile writes a CPU profile to path ("" profiles nothing); call the returned
// function to finish it.
func StartCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
