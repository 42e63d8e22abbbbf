package tensordict

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/maestro-rl/maestro/tensor"
)

func TestCodecRoundTrip(t *testing.T) {
	d := sample(t)
	must(t, d.SetDict("empty", New(4, 3, 2)))
	must(t, d.Set("scalarish", tensor.Zeros(tensor.Int16, 4, 3)))
	b, err := Marshal(d)
	must(t, err)
	got, err := Unmarshal(b)
	must(t, err)
	if !Equal(got, d) {
		t.Fatalf("round trip differs:\n%v\n%v", got, d)
	}
	if !slices.Equal(got.LeafKeys(), d.LeafKeys()) {
		t.Errorf("key order %v, want %v", got.LeafKeys(), d.LeafKeys())
	}
	if sub, _ := got.GetDict("empty"); !slices.Equal(sub.BatchShape(), []int{4, 3, 2}) {
		t.Errorf("empty sub-Dict batch %v", sub.BatchShape())
	}
	// Unmarshal copies: changing the buffer afterwards does not change the Dict.
	clear(b)
	if !Equal(got, d) {
		t.Error("Unmarshal aliases its input")
	}
	// Every truncation is an error, not a panic.
	b, _ = Marshal(d)
	for n := 0; n < len(b)-1; n += 7 {
		if _, err := Unmarshal(b[:n]); err == nil {
			t.Fatalf("truncated to %d of %d bytes: no error", n, len(b))
		}
	}
	bad := slices.Clone(b)
	bad[4] = 9
	if _, err := Unmarshal(bad); err == nil {
		t.Error("unknown format version accepted")
	}
}

func TestSaveLoadFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "batch.mtd")
	d := sample(t)
	must(t, SaveFile(path, d))
	got, err := LoadFile(path)
	must(t, err)
	if !Equal(got, d) {
		t.Error("LoadFile differs")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("SaveFile left %d files", len(entries))
	}
	os.WriteFile(path, []byte("MTDv\x01\x00\x00\x00\xff\xff\x00\x00junk"), 0o644)
	if _, err := LoadFile(path); err == nil {
		t.Error("corrupt file loaded")
	}
}

func TestMappedPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "buffer.mtd")
	tmpl := New(1000)
	must(t, tmpl.Set("obs", tensor.Zeros(tensor.Uint8, 1000, 3, 8, 8)))
	must(t, tmpl.Set("next/reward", tensor.Zeros(tensor.Float32, 1000)))
	m, err := CreateMapped(path, tmpl)
	must(t, err)
	r, _ := m.Dict().Get("next/reward")
	r.SetAt(999, 2.5)
	o, _ := m.Dict().Get("obs")
	o.Index(500).Fill(7)
	must(t, m.Sync())
	must(t, m.Close())
	m2, err := OpenMapped(path, false)
	must(t, err)
	defer m2.Close()
	r2, _ := m2.Dict().Get("next/reward")
	o2, _ := m2.Dict().Get("obs")
	if r2.At(999) != 2.5 || o2.Index(500).At(191) != 7 || o2.Index(499).At(0) != 0 {
		t.Error("mapped writes did not persist")
	}
	// The file is the codec format: Unmarshal reads it too.
	b, _ := os.ReadFile(path)
	d, err := Unmarshal(b)
	must(t, err)
	if !Equal(d, m2.Dict()) {
		t.Error("mapped file and Unmarshal disagree")
	}
	os.Truncate(path, 100)
	if _, err := OpenMapped(path, false); err == nil {
		t.Error("truncated mapped file opened")
	}
}

func FuzzUnmarshal(f *testing.F) {
	d := New(2)
	d.Set("a", tensor.Of([]float32{1, 2}))
	d.Set("n/b", tensor.Of([]int64{3, 4, 5, 6}, 2, 2))
	s, _ := NewStrings([]string{"x", "y"})
	d.SetStrings("s", s)
	b, _ := Marshal(d)
	f.Add(b)
	f.Add(b[:40])
	f.Add([]byte("MTDv"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := Unmarshal(data)
		if err != nil {
			return
		}
		// Whatever decodes must encode and decode to the same Dict.
		again, err := Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Unmarshal(again)
		if err != nil || !Equal(back, got) {
			t.Fatalf("re-encoding a decoded Dict failed: %v", err)
		}
	})
}

// TestCodecReadsVersion1: a file written by the version-1 codec (testdata/v1.mtd, written by
// the build before checksums, commit 05458d5) still loads, with its values.
func TestCodecReadsVersion1(t *testing.T) {
	b, err := os.ReadFile("testdata/v1.mtd")
	if err != nil {
		t.Fatal(err)
	}
	if v := b[4]; v != 1 {
		t.Fatalf("testdata/v1.mtd has version %d; the fixture must stay a version-1 file", v)
	}
	d, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	x, _ := GetAs[float32](d, "obs/x")
	a, _ := GetAs[int64](d, "action")
	s, _ := d.GetStrings("name")
	if !slices.Equal(x, []float32{-2, -0.5, 1, 2.5, 4, 5.5}) || !slices.Equal(a, []int64{7, 17, 27}) || s.Values()[2] != "ccc" {
		t.Errorf("decoded %v %v %v; want the fixture's values", x, a, s)
	}
}

// TestCodecDetectsEveryFlippedBit flips each bit of an encoding in turn: every flip is an
// error, except in the zero padding between blobs, where the decoded Dict is unchanged.
func TestCodecDetectsEveryFlippedBit(t *testing.T) {
	d := New(4)
	x := tensor.Zeros(tensor.Float32, 4, 3)
	for i := 0; i < 12; i++ {
		x.SetAt(i, float64(i)/3)
	}
	d.Set("obs/x", x)
	d.Set("done", tensor.Zeros(tensor.Bool, 4))
	s, _ := NewStrings([]string{"w", "x", "y", "z"}, 4)
	d.SetStrings("caption", s)
	b, err := Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Marshal(d)
	caught, silent := 0, 0
	for i := range b {
		for bit := 0; bit < 8; bit++ {
			b[i] ^= 1 << bit
			got, err := Unmarshal(b)
			b[i] ^= 1 << bit
			if err != nil {
				caught++
				continue
			}
			if again, _ := Marshal(got); !slices.Equal(again, want) {
				t.Fatalf("byte %d bit %d flipped: decoded without error to a different Dict", i, bit)
			}
			silent++
		}
	}
	t.Logf("%d of %d flips caught; %d in padding, harmless", caught, 8*len(b), silent)
}

// TestCodecTornFile: every truncation of an encoding is an error.
func TestCodecTornFile(t *testing.T) {
	d := New(2)
	d.Set("v", tensor.Zeros(tensor.Float64, 2, 5))
	b, _ := Marshal(d)
	for n := 0; n < len(b); n++ {
		if _, err := Unmarshal(b[:n]); err == nil {
			t.Fatalf("the first %d of %d bytes decoded without error", n, len(b))
		}
	}
}
