package logs

import (
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// The plot must decode as a PNG with drawn (non-background) pixels, and replace an existing
// file whole.
func TestPlotCurvesWritesPNG(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "curve.png")
	if err := os.WriteFile(p, []byte("stale"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := Curve{Name: "return", Frames: []float64{0, 100, 200, 300}, Values: []float64{10, 40, 35, 90}}
	if err := PlotCurves(p, "CartPole", "return", c); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("curve.png does not decode: %v", err)
	}
	b := img.Bounds()
	if b.Dx() < 400 || b.Dy() < 200 {
		t.Fatalf("image is %dx%d", b.Dx(), b.Dy())
	}
	dark := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r+g+bl < 3*0xffff*3/4 {
				dark++
			}
		}
	}
	if dark < 500 {
		t.Fatalf("only %d drawn pixels", dark)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("folder holds %d entries, want only curve.png", len(ents))
	}
}

func TestPlotCurvesRejectsRaggedCurve(t *testing.T) {
	p := filepath.Join(t.TempDir(), "curve.png")
	err := PlotCurves(p, "t", "y", Curve{Name: "bad", Frames: []float64{0, 1}, Values: []float64{1}})
	if err == nil {
		t.Fatal("want an error for 2 frames and 1 value")
	}
	if _, statErr := os.Stat(p); !os.IsNotExist(statErr) {
		t.Fatal("a failed plot left a file behind")
	}
}
