package tensordict

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"slices"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/maestro-rl/maestro/internal/atomicfile"
	"github.com/maestro-rl/maestro/tensor"
)

// The encoded form of a Dict (format version 2):
//
//	magic "MTDv" | format version uint32 LE | header length uint32 LE |
//	CRC-32C of the header uint32 LE | msgpack header |
//	zero padding to a multiple of blobAlign | tensor blobs, each at a multiple of blobAlign
//
// The header lists the batch shape, the device and every leaf (key, dtype, shape, the blob's
// offset and length relative to the start of the blobs, and the blob's CRC-32C; strings
// inline). Tensor data is raw little-endian, so it can be read by mapping the file. Decoding
// checks both checksums, so a flipped or torn byte anywhere is an error naming what it hit.
// Files written in place through a mapping (CreateMapped) carry no blob checksums: their data
// changes after the header is written.
//
// Version 1 (no checksums; a 12-byte preamble without the header's CRC) is still read.
const (
	magic         = "MTDv"
	formatVersion = 2
	blobAlign     = 64
	// maxHeader bounds the header a decoder accepts (1 GiB would be a corrupt file).
	maxHeader = 256 << 20
)

type header struct {
	Batch  []int        `msgpack:"batch"`
	Device string       `msgpack:"device"`
	Leaves []leafHeader `msgpack:"leaves"` // every entry, depth first in insertion order
}

type leafHeader struct {
	Key     string   `msgpack:"k"`
	DType   string   `msgpack:"t"`
	Shape   []int    `msgpack:"s"`
	Offset  int64    `msgpack:"o"`
	Length  int64    `msgpack:"n"`
	Strings []string `msgpack:"strs,omitempty"`
	// CRC is the blob's CRC-32C (Castagnoli); absent in version 1 and in mapped files.
	CRC *uint32 `msgpack:"c,omitempty"`
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Entries that are not tensors: strings (inline), and sub-Dicts (Shape is their batch shape,
// so empty ones and ones with more batch dims than their parent survive a round trip).
const (
	stringDType = "string"
	dictDType   = "dict"
)

func align(n int64) int64 { return (n + blobAlign - 1) / blobAlign * blobAlign }

// layout returns the header for d with blob offsets assigned, and the total blob size.
func layout(d *Dict) (header, int64) {
	h := header{Batch: slices.Clone(d.batch), Device: d.device}
	var off int64
	d.walk("", func(path string, e entry) {
		switch {
		case e.t != nil:
			n := int64(len(e.t.Bytes()))
			h.Leaves = append(h.Leaves, leafHeader{Key: path, DType: e.t.DType().String(), Shape: e.t.Shape(), Offset: off, Length: n})
			off = align(off + n)
		case e.s != nil:
			h.Leaves = append(h.Leaves, leafHeader{Key: path, DType: stringDType, Shape: e.s.Shape(), Strings: e.s.vals})
		default:
			h.Leaves = append(h.Leaves, leafHeader{Key: path, DType: dictDType, Shape: e.d.BatchShape()})
		}
	})
	return h, off
}

func encodeHeader(h header) ([]byte, error) {
	hb, err := msgpack.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("tensordict: encode header: %w", err)
	}
	pre := make([]byte, 16, 16+len(hb))
	copy(pre, magic)
	binary.LittleEndian.PutUint32(pre[4:], formatVersion)
	binary.LittleEndian.PutUint32(pre[8:], uint32(len(hb)))
	binary.LittleEndian.PutUint32(pre[12:], crc32.Checksum(hb, castagnoli))
	out := append(pre, hb...)
	for int64(len(out))%blobAlign != 0 {
		out = append(out, 0)
	}
	return out, nil
}

// Encode writes d to w (see the format above).
func Encode(w io.Writer, d *Dict) error {
	h, _ := layout(d)
	for i, l := range h.Leaves {
		if l.DType != stringDType && l.DType != dictDType {
			t, _ := d.Get(l.Key)
			c := crc32.Checksum(t.Bytes(), castagnoli)
			h.Leaves[i].CRC = &c
		}
	}
	hb, err := encodeHeader(h)
	if err != nil {
		return err
	}
	if _, err := w.Write(hb); err != nil {
		return err
	}
	var pos int64
	var pad [blobAlign]byte
	for _, l := range h.Leaves {
		if l.DType == stringDType || l.DType == dictDType {
			continue
		}
		if l.Offset > pos {
			if _, err := w.Write(pad[:l.Offset-pos]); err != nil {
				return err
			}
			pos = l.Offset
		}
		t, _ := d.Get(l.Key)
		if _, err := w.Write(t.Bytes()); err != nil {
			return err
		}
		pos += l.Length
	}
	return nil
}

// Marshal returns the encoding of d.
func Marshal(d *Dict) ([]byte, error) {
	var b bytes.Buffer
	if err := Encode(&b, d); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// parseHeader checks the preamble and decodes the header; it returns the header and the offset
// where the blobs start.
func parseHeader(b []byte) (header, int64, error) {
	var h header
	if len(b) < 12 || string(b[:4]) != magic {
		return h, 0, errors.New("tensordict: not an encoded Dict (bad magic)")
	}
	pre := int64(16)
	switch v := binary.LittleEndian.Uint32(b[4:]); v {
	case 1:
		pre = 12
	case formatVersion:
		if len(b) < 16 {
			return h, 0, fmt.Errorf("tensordict: %d bytes are too few for an encoded Dict; the data is truncated", len(b))
		}
	default:
		return h, 0, fmt.Errorf("tensordict: encoded Dict has format version %d, this build reads versions 1 and %d (a newer Maestro wrote it?)", v, formatVersion)
	}
	n := int64(binary.LittleEndian.Uint32(b[8:]))
	if n > maxHeader || pre+n > int64(len(b)) {
		return h, 0, fmt.Errorf("tensordict: header of %d bytes does not fit in %d bytes; the data is truncated or corrupt", n, len(b))
	}
	hb := b[pre : pre+n]
	if pre == 16 {
		if want, got := binary.LittleEndian.Uint32(b[12:]), crc32.Checksum(hb, castagnoli); got != want {
			return h, 0, fmt.Errorf("tensordict: the header fails its checksum (CRC-32C %08x, recorded %08x): the data is corrupt", got, want)
		}
	}
	if err := msgpack.Unmarshal(hb, &h); err != nil {
		return h, 0, fmt.Errorf("tensordict: corrupt header: %w", err)
	}
	return h, align(pre + n), nil
}

// build assembles a Dict from a header and its blob region; tensors alias blobs when alias is
// set, else they are copies.
func build(h header, blobs []byte, alias bool) (*Dict, error) {
	for _, x := range h.Batch {
		if x < 0 {
			return nil, fmt.Errorf("tensordict: corrupt header: negative batch dimension in %v", h.Batch)
		}
	}
	d := New(h.Batch...)
	d.device = h.Device
	for _, l := range h.Leaves {
		var err error
		switch l.DType {
		case dictDType:
			if slices.ContainsFunc(l.Shape, func(x int) bool { return x < 0 }) {
				err = fmt.Errorf("negative batch dimension in %v", l.Shape)
			} else {
				err = d.SetDict(l.Key, New(l.Shape...))
			}
		case stringDType:
			var s *Strings
			if s, err = NewStrings(l.Strings, l.Shape...); err == nil {
				err = d.SetStrings(l.Key, s)
			}
		default:
			err = buildTensor(d, l, blobs, alias)
		}
		if err != nil {
			return nil, fmt.Errorf("tensordict: corrupt data for key %q: %w", l.Key, err)
		}
	}
	return d, nil
}

func buildTensor(d *Dict, l leafHeader, blobs []byte, alias bool) error {
	dt, err := tensor.ParseDType(l.DType)
	if err != nil {
		return err
	}
	if l.Offset < 0 || l.Length < 0 || l.Offset > int64(len(blobs)) || l.Length > int64(len(blobs))-l.Offset {
		return fmt.Errorf("blob [%d, +%d) outside the %d bytes of data", l.Offset, l.Length, len(blobs))
	}
	raw := blobs[l.Offset : l.Offset+l.Length : l.Offset+l.Length]
	if l.CRC != nil {
		if got := crc32.Checksum(raw, castagnoli); got != *l.CRC {
			return fmt.Errorf("its %d bytes fail their checksum (CRC-32C %08x, recorded %08x): flipped or torn bytes", l.Length, got, *l.CRC)
		}
	}
	if !alias {
		raw = slices.Clone(raw)
	}
	t, err := tensor.FromBytes(dt, l.Shape, raw)
	if err != nil {
		return err
	}
	return d.Set(l.Key, t)
}

// Unmarshal decodes b into a new Dict whose tensors are copies (b may be reused). Truncated,
// corrupt or hostile input returns an error, never a panic.
func Unmarshal(b []byte) (*Dict, error) {
	h, start, err := parseHeader(b)
	if err != nil {
		return nil, err
	}
	if start > int64(len(b)) {
		start = int64(len(b))
	}
	return build(h, b[start:], false)
}

// Decode reads an encoded Dict from r.
func Decode(r io.Reader) (*Dict, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return Unmarshal(b)
}

// SaveFile writes d to path atomically: to a temporary file in the same folder, synced, then
// renamed over path, so a crash leaves either the old file or the new one.
func SaveFile(path string, d *Dict) error {
	err := atomicfile.Write(path, func(f *os.File) error { return Encode(f, d) })
	if err != nil {
		return fmt.Errorf("tensordict: save %s: %w", path, err)
	}
	return nil
}

// LoadFile reads a Dict saved by SaveFile into memory.
func LoadFile(path string) (*Dict, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tensordict: %w", err)
	}
	d, err := Unmarshal(b)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return d, nil
}
