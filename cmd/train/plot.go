package main

import (
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/maestro-rl/maestro/logs"
)

// plotMain is `train plot --out FILE [--column C] RUN...`: one PNG comparing runs' log.csv
// columns (default the mean return of the last 20 episodes) against frames.
func plotMain(args []string) error {
	fs := flag.NewFlagSet("train plot", flag.ContinueOnError)
	out := fs.String("out", "", "PNG file to write (required)")
	column := fs.String("column", "mean_return_last20", "log.csv column to plot (e.g. mean_intrinsic_return_last20, entropy, value_loss)")
	title := fs.String("title", "", "plot title (default: the column)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: train plot --out FILE [--column C] RUN-DIR...\n\nPlots a log.csv column of each run against frames, one line per run (named by its folder).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() == 0 {
		return errors.New("plot: --out and at least one run folder are required")
	}
	if *title == "" {
		*title = *column
	}
	var curves []logs.Curve
	for _, dir := range fs.Args() {
		c, err := readCurve(filepath.Join(dir, "log.csv"), *column)
		if err != nil {
			return err
		}
		c.Name = filepath.Base(dir)
		curves = append(curves, c)
	}
	if err := logs.PlotCurves(*out, *title, *column, curves...); err != nil {
		return err
	}
	fmt.Printf("plot: %d runs in %s\n", len(curves), *out)
	return nil
}

func readCurve(path, column string) (logs.Curve, error) {
	f, err := os.Open(path)
	if err != nil {
		return logs.Curve{}, fmt.Errorf("plot: %w", err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) == 0 {
		return logs.Curve{}, fmt.Errorf("plot: %s: %v", path, err)
	}
	col := slices.Index(rows[0], column)
	if col < 0 {
		return logs.Curve{}, fmt.Errorf("plot: %s has no column %q; it has %v", path, column, rows[0])
	}
	var c logs.Curve
	for _, r := range rows[1:] {
		x, err1 := strconv.ParseFloat(r[0], 64)
		y, err2 := strconv.ParseFloat(r[col], 64)
		if err1 == nil && err2 == nil {
			c.Frames, c.Values = append(c.Frames, x), append(c.Values, y)
		}
	}
	return c, nil
}
