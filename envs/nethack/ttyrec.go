package nethack

import (
	"bufio"
	"compress/bzip2"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// TTYRec channels of NLE's ttyrec version 3.
const (
	TTYRecTerminal = 0 // terminal output bytes
	TTYRecAction   = 1 // the one-byte key sent before a step
	TTYRecScore    = 2 // blstats[BlScore] as 4 little-endian bytes
)

// TTYRecord is one record of a ttyrec3 file.
type TTYRecord struct {
	Sec, Usec int32
	Channel   uint8
	Data      []byte
}

// maxTTYRecord bounds one record's payload and maxTTYRecBytes a whole decompressed file (an
// episode's recording is kilobytes to a few megabytes): beyond them the input is corrupt or a
// decompression bomb.
const (
	maxTTYRecord   = 1 << 20
	maxTTYRecBytes = 64 << 20
)

// ReadTTYRec decodes an NLE ttyrec (version 3: bzip2 streams of records with a 12-byte
// little-endian header sec, usec, len, then a channel byte, then len bytes). It returns the
// records read and an error naming the offset of the first bad one.
func ReadTTYRec(r io.Reader) ([]TTYRecord, error) {
	br := bufio.NewReader(bzip2.NewReader(r))
	var out []TTYRecord
	var hdr [13]byte
	for off := int64(0); ; {
		n, err := io.ReadFull(br, hdr[:])
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("nethack: ttyrec record at byte %d: truncated header (%d of 13 bytes): %w", off, n, err)
		}
		size := binary.LittleEndian.Uint32(hdr[8:12])
		if size > maxTTYRecord {
			return out, fmt.Errorf("nethack: ttyrec record at byte %d claims %d bytes; the file is corrupt", off, size)
		}
		rec := TTYRecord{Sec: int32(binary.LittleEndian.Uint32(hdr[0:4])),
			Usec: int32(binary.LittleEndian.Uint32(hdr[4:8])), Channel: hdr[12], Data: make([]byte, size)}
		if rec.Channel > TTYRecScore {
			return out, fmt.Errorf("nethack: ttyrec record at byte %d has unknown channel %d; not an NLE ttyrec3", off, rec.Channel)
		}
		if _, err := io.ReadFull(br, rec.Data); err != nil {
			return out, fmt.Errorf("nethack: ttyrec record at byte %d: truncated payload: %w", off, err)
		}
		out = append(out, rec)
		off += 13 + int64(size)
		if off > maxTTYRecBytes {
			return out, fmt.Errorf("nethack: ttyrec decompresses to more than %d bytes; refusing it as corrupt", maxTTYRecBytes)
		}
	}
}

// ReadTTYRecFile reads a ttyrec file from disk; see ReadTTYRec.
func ReadTTYRecFile(path string) ([]TTYRecord, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("nethack: %w", err)
	}
	defer f.Close()
	recs, err := ReadTTYRec(f)
	var se bzip2.StructuralError
	if errors.As(err, &se) {
		return recs, fmt.Errorf("nethack: %s is not a valid bzip2 ttyrec: %w", path, err)
	}
	return recs, err
}
