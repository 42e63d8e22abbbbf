package logs

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"time"
)

// TensorBoard writes scalar summaries as TensorBoard event files (TFRecord framing with masked
// CRC32C checksums around serialised Event protocol buffers), readable by the `tensorboard`
// tool. No Go writer is served by the module proxy, so the format is written here; the test
// reads the files back with the real tensorboard package.
type TensorBoard struct {
	f    *os.File
	w    *bufio.Writer
	path string
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func maskedCRC(b []byte) uint32 {
	c := crc32.Checksum(b, castagnoli)
	return ((c >> 15) | (c << 17)) + 0xa282ead8
}

// NewTensorBoard creates dir and an event file in it.
func NewTensorBoard(dir string) (*TensorBoard, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("rl: tensorboard: %w", err)
	}
	host, _ := os.Hostname()
	path := filepath.Join(dir, fmt.Sprintf("events.out.tfevents.%d.%s", time.Now().Unix(), host))
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("rl: tensorboard: %w", err)
	}
	tb := &TensorBoard{f: f, w: bufio.NewWriter(f), path: path}
	// The first event names the file format.
	ev := appendTag(nil, 1, 1)
	ev = binary.LittleEndian.AppendUint64(ev, math.Float64bits(float64(time.Now().UnixNano())/1e9))
	ev = appendBytes(ev, 3, []byte("brain.Event:2"))
	return tb, tb.record(ev)
}

// Path returns the event file's path.
func (tb *TensorBoard) Path() string { return tb.path }

func appendVarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }

func appendTag(b []byte, field, wire int) []byte { return appendVarint(b, uint64(field<<3|wire)) }

func appendBytes(b []byte, field int, data []byte) []byte {
	b = appendTag(b, field, 2)
	b = appendVarint(b, uint64(len(data)))
	return append(b, data...)
}

func (tb *TensorBoard) record(data []byte) error {
	var hdr [8]byte
	binary.LittleEndian.PutUint64(hdr[:], uint64(len(data)))
	var crc [4]byte
	binary.LittleEndian.PutUint32(crc[:], maskedCRC(hdr[:]))
	tb.w.Write(hdr[:])
	tb.w.Write(crc[:])
	tb.w.Write(data)
	binary.LittleEndian.PutUint32(crc[:], maskedCRC(data))
	_, err := tb.w.Write(crc[:])
	return err
}

// Scalar records value v of tag at step.
func (tb *TensorBoard) Scalar(tag string, step int64, v float64) error {
	val := appendBytes(nil, 1, []byte(tag))
	val = appendTag(val, 2, 5)
	val = binary.LittleEndian.AppendUint32(val, math.Float32bits(float32(v)))
	summary := appendBytes(nil, 1, val)
	ev := appendTag(nil, 1, 1)
	ev = binary.LittleEndian.AppendUint64(ev, math.Float64bits(float64(time.Now().UnixNano())/1e9))
	ev = appendTag(ev, 2, 0)
	ev = appendVarint(ev, uint64(step))
	ev = appendBytes(ev, 5, summary)
	return tb.record(ev)
}

// Flush writes buffered events to the file.
func (tb *TensorBoard) Flush() error { return tb.w.Flush() }

// Close flushes and closes the file.
func (tb *TensorBoard) Close() error {
	err := tb.w.Flush()
	if cerr := tb.f.Close(); err == nil {
		err = cerr
	}
	return err
}
