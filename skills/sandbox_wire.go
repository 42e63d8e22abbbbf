package skills

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"

	"go.starlark.net/starlark"
)

// The sandbox process and its parent exchange frames: a 4-byte little-endian length, then the
// payload. A payload is an operation byte followed by its fields; values travel in the tagged
// encoding below. Both sides bound what they read: a frame over maxFrame is an error, values
// nest at most maxDepth deep, and the parent refuses replies over the program's MaxValue.

const (
	maxFrame = 64 << 20
	maxDepth = 64
)

// Operations (parent to child) and reply kinds (child to parent).
const (
	opLoad   byte = 1 // id, name, source, signatures, steps, timeout
	opCall   byte = 2 // id, max reply bytes, then calls: each a function and its args
	opUnload byte = 3 // id

	replyOK  byte = 10 // per call an OK and a value, or an error (calls); functions (loads)
	replyErr byte = 11 // an error message
)

// Value tags.
const (
	tagNone byte = iota
	tagFalse
	tagTrue
	tagInt
	tagBigInt
	tagFloat
	tagString
	tagBytes
	tagList
	tagTuple
	tagDict
	tagSet
	tagFunc // program id and name: a function of another program loaded in the same sandbox
)

// encoder appends to a byte slice.
type encoder struct{ b []byte }

func (e *encoder) byte(c byte)     { e.b = append(e.b, c) }
func (e *encoder) uint(v uint64)   { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) int(v int64)     { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) string(s string) { e.uint(uint64(len(s))); e.b = append(e.b, s...) }

// value encodes v; functions, builtins and other values that cannot leave the sandbox are an
// error naming their type, as are values nested deeper than maxDepth (a list holding itself).
// limit bounds the encoding's size so a huge value fails before it is copied.
func (e *encoder) value(v starlark.Value, depth, limit int) error {
	if depth > maxDepth {
		return fmt.Errorf("value nested more than %d deep (does a list or dict hold itself?)", maxDepth)
	}
	if limit > 0 && len(e.b) > limit {
		return errTooLarge
	}
	switch x := v.(type) {
	case starlark.NoneType:
		e.byte(tagNone)
	case starlark.Bool:
		if x {
			e.byte(tagTrue)
		} else {
			e.byte(tagFalse)
		}
	case starlark.Int:
		if i, ok := x.Int64(); ok {
			e.byte(tagInt)
			e.int(i)
		} else { // sign and magnitude in binary: decimal text parses in quadratic time
			z := x.BigInt()
			mag := z.Bytes()
			if limit > 0 && len(e.b)+len(mag) > limit {
				return errTooLarge
			}
			e.byte(tagBigInt)
			if z.Sign() < 0 {
				e.byte(1)
			} else {
				e.byte(0)
			}
			e.string(string(mag))
		}
	case starlark.Float:
		e.byte(tagFloat)
		e.b = binary.LittleEndian.AppendUint64(e.b, math.Float64bits(float64(x)))
	case starlark.String:
		if limit > 0 && len(e.b)+len(x) > limit {
			return errTooLarge
		}
		e.byte(tagString)
		e.string(string(x))
	case starlark.Bytes:
		if limit > 0 && len(e.b)+len(x) > limit {
			return errTooLarge
		}
		e.byte(tagBytes)
		e.string(string(x))
	case *starlark.List:
		e.byte(tagList)
		return e.seq(x, x.Len(), depth, limit)
	case starlark.Tuple:
		e.byte(tagTuple)
		return e.seq(x, x.Len(), depth, limit)
	case *starlark.Set:
		e.byte(tagSet)
		return e.seq(x, x.Len(), depth, limit)
	case *starlark.Dict:
		e.byte(tagDict)
		e.uint(uint64(x.Len()))
		for _, kv := range x.Items() {
			if err := e.value(kv[0], depth+1, limit); err != nil {
				return err
			}
			if err := e.value(kv[1], depth+1, limit); err != nil {
				return err
			}
		}
	case funcRef:
		e.byte(tagFunc)
		e.uint(x.p.id)
		e.string(x.name)
	default:
		return fmt.Errorf("a %s cannot be passed out of the sandbox (use None, bools, numbers, strings, lists, tuples, dicts and sets)", v.Type())
	}
	return nil
}

var errTooLarge = errors.New("value too large")

func (e *encoder) seq(it starlark.Iterable, n, depth, limit int) error {
	e.uint(uint64(n))
	iter := it.Iterate()
	defer iter.Done()
	var x starlark.Value
	for iter.Next(&x) {
		if err := e.value(x, depth+1, limit); err != nil {
			return err
		}
	}
	return nil
}

// decoder reads from a byte slice; every read is bounds-checked.
type decoder struct {
	b   []byte
	err error
	// resolve finds a function of a loaded program (tagFunc); nil outside the sandbox.
	resolve func(id uint64, name string) (starlark.Value, error)
}

var errShort = errors.New("truncated sandbox frame")

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) < 1 {
		d.fail(errShort)
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uint() uint64 {
	v, n := binary.Uvarint(d.b)
	if d.err != nil || n <= 0 {
		d.fail(errShort)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) int() int64 {
	v, n := binary.Varint(d.b)
	if d.err != nil || n <= 0 {
		d.fail(errShort)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n := d.uint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.fail(errShort)
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// count reads a length and checks that the frame can hold that many items of at least one
// byte each, so a forged count cannot allocate.
func (d *decoder) count() int {
	n := d.uint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.fail(errShort)
		return 0
	}
	return int(n)
}

func (d *decoder) value(depth int) starlark.Value {
	if depth > maxDepth {
		d.fail(fmt.Errorf("value nested more than %d deep", maxDepth))
	}
	if d.err != nil {
		return starlark.None
	}
	switch tag := d.byte(); tag {
	case tagNone:
		return starlark.None
	case tagFalse:
		return starlark.False
	case tagTrue:
		return starlark.True
	case tagInt:
		return starlark.MakeInt64(d.int())
	case tagBigInt:
		neg := d.byte()
		z := new(big.Int).SetBytes([]byte(d.string()))
		if neg == 1 {
			z.Neg(z)
		} else if neg != 0 {
			d.fail(errors.New("bad integer sign in sandbox frame"))
		}
		return starlark.MakeBigInt(z)
	case tagFloat:
		if len(d.b) < 8 {
			d.fail(errShort)
			return starlark.None
		}
		f := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
		d.b = d.b[8:]
		return starlark.Float(f)
	case tagString:
		return starlark.String(d.string())
	case tagBytes:
		return starlark.Bytes(d.string())
	case tagList, tagTuple:
		n := d.count()
		elems := make([]starlark.Value, 0, min(n, 1024)) // a forged count must not allocate
		for i := 0; i < n && d.err == nil; i++ {
			elems = append(elems, d.value(depth+1))
		}
		if tag == tagTuple {
			return starlark.Tuple(elems)
		}
		return starlark.NewList(elems)
	case tagSet:
		n := d.count()
		s := starlark.NewSet(min(n, 1024))
		for i := 0; i < n && d.err == nil; i++ {
			if err := s.Insert(d.value(depth + 1)); err != nil {
				d.fail(err)
			}
		}
		return s
	case tagDict:
		n := d.count()
		m := starlark.NewDict(min(n, 1024))
		for i := 0; i < n && d.err == nil; i++ {
			k := d.value(depth + 1)
			v := d.value(depth + 1)
			if d.err == nil {
				if err := m.SetKey(k, v); err != nil {
					d.fail(err)
				}
			}
		}
		return m
	case tagFunc:
		id, name := d.uint(), d.string()
		if d.resolve == nil {
			d.fail(errors.New("a function cannot leave the sandbox"))
			return starlark.None
		}
		v, err := d.resolve(id, name)
		if err != nil {
			d.fail(err)
			return starlark.None
		}
		return v
	default:
		d.fail(fmt.Errorf("unknown value tag %d in sandbox frame", tag))
		return starlark.None
	}
}

// writeFrame writes one length-prefixed payload.
func writeFrame(w io.Writer, payload []byte) error {
	var n [4]byte
	binary.LittleEndian.PutUint32(n[:], uint32(len(payload)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	_, err := w.Write(payload)
	return err
}

// readFrame reads one payload into buf's storage (grown as needed).
func readFrame(r io.Reader, buf []byte) ([]byte, error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return buf, err
	}
	size := binary.LittleEndian.Uint32(n[:])
	if size > maxFrame {
		return buf, fmt.Errorf("sandbox frame of %d bytes (limit %d)", size, maxFrame)
	}
	if cap(buf) < int(size) {
		buf = make([]byte, size)
	}
	buf = buf[:size]
	_, err := io.ReadFull(r, buf)
	return buf, err
}

// funcRef stands, in the parent, for a function of a loaded program, to be passed to another
// program's call (the LLM's unit tests take the function under test).
type funcRef struct {
	p    *Program
	name string
}

func (f funcRef) String() string        { return "<function " + f.name + ">" }
func (f funcRef) Type() string          { return "function" }
func (f funcRef) Freeze()               {}
func (f funcRef) Truth() starlark.Bool  { return true }
func (f funcRef) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable: function") }
