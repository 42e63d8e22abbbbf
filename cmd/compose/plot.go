package main

import (
	"fmt"
	"image/color"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/maestro-rl/maestro/internal/atomicfile"
)

// skillColors colour the skills (colour-blind friendly, after Okabe and Ito).
var skillColors = []color.Color{
	color.RGBA{0, 114, 178, 255}, color.RGBA{213, 94, 0, 255}, color.RGBA{0, 158, 115, 255},
	color.RGBA{204, 121, 167, 255}, color.RGBA{230, 159, 0, 255}, color.RGBA{86, 180, 233, 255},
	color.RGBA{120, 120, 120, 255},
}

// timeline draws each episode as a row of coloured stretches, one colour per skill.
type timeline struct{ r *report }

func (t timeline) Plot(c draw.Canvas, p *plot.Plot) {
	tx, ty := p.Transforms(&c)
	for row, res := range t.r.Results {
		y0, y1 := ty(float64(row)+0.1), ty(float64(row)+0.9)
		for start := 0; start < len(res.Skills); {
			end := start
			for end < len(res.Skills) && res.Skills[end] == res.Skills[start] {
				end++
			}
			x0, x1 := tx(float64(start)), tx(float64(end))
			c.FillPolygon(skillColors[res.Skills[start]%len(skillColors)], c.ClipPolygonXY([]vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}}))
			start = end
		}
	}
}

func (t timeline) DataRange() (xmin, xmax, ymin, ymax float64) {
	for _, res := range t.r.Results {
		xmax = max(xmax, float64(len(res.Skills)))
	}
	return 0, max(xmax, 1), 0, float64(len(t.r.Results))
}

// swatch is a legend entry: a filled box.
type swatch struct{ c color.Color }

func (s swatch) Thumbnail(c *draw.Canvas) {
	r := c.Rectangle
	c.FillPolygon(s.c, []vg.Point{r.Min, {X: r.Max.X, Y: r.Min.Y}, r.Max, {X: r.Min.X, Y: r.Max.Y}})
}

// plotTimeline writes the skill-usage timeline of every reported episode (rows; successful
// episodes are labelled) as a PNG, atomically.
func plotTimeline(path string, r *report) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: skill played at each step", r.Task)
	if r.Checked {
		p.Title.Text += fmt.Sprintf(" (success in %d of %d)", r.Successes, r.Episodes)
	}
	p.X.Label.Text = "step"
	p.Y.Label.Text = "episode"
	p.Add(timeline{r})
	var ticks []plot.Tick
	for i, res := range r.Results {
		label := fmt.Sprint(i)
		if r.Checked && res.Success {
			label += " ok"
		}
		ticks = append(ticks, plot.Tick{Value: float64(i) + 0.5, Label: label})
	}
	p.Y.Tick.Marker = plot.ConstantTicks(ticks)
	for k, name := range r.Skills {
		p.Legend.Add(name, swatch{skillColors[k%len(skillColors)]})
	}
	p.Legend.Top = true
	h := vg.Length(2.5+0.18*float64(len(r.Results))) * vg.Inch
	png, err := p.WriterTo(9*vg.Inch, h, "png")
	if err != nil {
		return fmt.Errorf("timeline: %w", err)
	}
	return atomicfile.Write(path, func(f *os.File) error {
		_, err := png.WriteTo(f)
		return err
	})
}
