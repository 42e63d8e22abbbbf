package logs

import (
	"fmt"
	"os"

	"github.com/maestro-rl/maestro/internal/atomicfile"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Curve is one line of a learning-curve plot: y against frames.
type Curve struct {
	Name   string
	Frames []float64
	Values []float64
}

// PlotCurves writes a PNG of curves (title, y-axis label) to path atomically, so a viewer
// refreshing the file never sees half an image.
func PlotCurves(path, title, ylabel string, curves ...Curve) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "frames"
	p.Y.Label.Text = ylabel
	p.Add(plotter.NewGrid())
	for i, c := range curves {
		if len(c.Frames) != len(c.Values) {
			return fmt.Errorf("rl: curve %q has %d frames and %d values", c.Name, len(c.Frames), len(c.Values))
		}
		if len(c.Frames) == 0 {
			continue
		}
		pts := make(plotter.XYs, len(c.Frames))
		for j := range pts {
			pts[j].X, pts[j].Y = c.Frames[j], c.Values[j]
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return fmt.Errorf("rl: curve %q: %w", c.Name, err)
		}
		l.Color = palette[i%len(palette)]
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(c.Name, l)
	}
	p.Legend.Top = true
	p.Legend.Left = true
	png, err := p.WriterTo(8*vg.Inch, 4.5*vg.Inch, "png")
	if err != nil {
		return fmt.Errorf("rl: plot: %w", err)
	}
	err = atomicfile.Write(path, func(f *os.File) error {
		_, err := png.WriteTo(f)
		return err
	})
	if err != nil {
		return fmt.Errorf("rl: plot %s: %w", path, err)
	}
	return nil
}
