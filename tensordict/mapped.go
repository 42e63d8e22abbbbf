package tensordict

import (
	"fmt"
	"os"
	"syscall"
	"unsafe"

	"github.com/maestro-rl/maestro/internal/atomicfile"
)

// Mapped is a Dict whose tensors live in a memory-mapped file in the codec's format: datasets
// and replay buffers larger than memory, written in place and read back after a restart.
// String leaves are held in memory and are not written back. A Mapped is not safe for
// concurrent writes.
type Mapped struct {
	d    *Dict
	data []byte
	f    *os.File
	path string
}

// CreateMapped makes a file at path with the keys, dtypes and shapes of template (its data is
// not copied: the new tensors are zero) and maps it read-write. The file is laid out in a
// temporary file first and renamed, so path never holds a partial header.
func CreateMapped(path string, template *Dict) (*Mapped, error) {
	h, blobsLen := layout(template)
	for i := range h.Leaves {
		h.Leaves[i].Strings = nil
		if h.Leaves[i].DType == stringDType {
			h.Leaves[i].Strings = make([]string, len(template.mustStrings(h.Leaves[i].Key).vals))
		}
	}
	hb, err := encodeHeader(h)
	if err != nil {
		return nil, err
	}
	err = atomicfile.Write(path, func(f *os.File) error {
		if _, err := f.Write(hb); err != nil {
			return err
		}
		return f.Truncate(int64(len(hb)) + blobsLen)
	})
	if err != nil {
		return nil, fmt.Errorf("tensordict: create %s: %w", path, err)
	}
	return OpenMapped(path, true)
}

func (d *Dict) mustStrings(key string) *Strings {
	s, err := d.GetStrings(key)
	if err != nil {
		panic(err)
	}
	return s
}

// OpenMapped maps an existing file; with writable set, writes to its tensors go to the file.
func OpenMapped(path string, writable bool) (*Mapped, error) {
	flag, prot := os.O_RDONLY, syscall.PROT_READ
	if writable {
		flag, prot = os.O_RDWR, syscall.PROT_READ|syscall.PROT_WRITE
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return nil, fmt.Errorf("tensordict: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("tensordict: %w", err)
	}
	if st.Size() < 16 {
		f.Close()
		return nil, fmt.Errorf("tensordict: %s is not an encoded Dict (%d bytes)", path, st.Size())
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(st.Size()), prot, syscall.MAP_SHARED)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("tensordict: map %s: %w", path, err)
	}
	m := &Mapped{data: data, f: f, path: path}
	h, start, err := parseHeader(data)
	if err == nil && start > int64(len(data)) {
		err = fmt.Errorf("tensordict: %s is truncated", path)
	}
	if err == nil {
		m.d, err = build(h, data[start:], true)
	}
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return m, nil
}

// Dict returns the mapped Dict. Its tensors alias the file and must not be used after Close.
func (m *Mapped) Dict() *Dict { return m.d }

// Sync flushes written data to the file.
func (m *Mapped) Sync() error {
	_, _, errno := syscall.Syscall(syscall.SYS_MSYNC, uintptrOf(m.data), uintptr(len(m.data)), syscall.MS_SYNC)
	if errno != 0 {
		return fmt.Errorf("tensordict: sync %s: %w", m.path, errno)
	}
	return nil
}

// Close unmaps the file. The Dict's tensors become invalid.
func (m *Mapped) Close() error {
	var err error
	if m.data != nil {
		err = syscall.Munmap(m.data)
		m.data = nil
	}
	if m.f != nil {
		if cerr := m.f.Close(); err == nil {
			err = cerr
		}
		m.f = nil
	}
	m.d = nil
	return err
}

func uintptrOf(b []byte) uintptr {
	if len(b) == 0 {
		return 0
	}
	return uintptr(unsafe.Pointer(&b[0]))
}
