package benchutil

import (
	"fmt"
	"os"
	"runtime"
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

// StartAllocProfile records every allocation from now on and returns a function writing the
// allocation profile to path ("" records nothing): `go tool pprof -sample_index=alloc_objects`.
func StartAllocProfile(path string) (write func() error) {
	if path == "" {
		return func() error { return nil }
	}
	runtime.MemProfileRate = 1
	return func() error {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		return pprof.Lookup("allocs").WriteTo(f, 0)
	}
}
