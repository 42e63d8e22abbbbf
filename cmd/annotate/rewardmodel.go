package main

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/maestro-rl/maestro/internal/atomicfile"
	"github.com/maestro-rl/maestro/rewards/motif"
)

func train(args []string) error {
	fs := newFlags("train", "annotate train --pairs data/pairs.mtd --out rm.mtd --epochs 10")
	pairsPath := fs.String("pairs", "", "labelled pair dataset (required)")
	out := fs.String("out", "", "reward model file to write (required)")
	epochs := fs.Int("epochs", 10, "passes over the training pairs")
	batch := fs.Int("batch", 1024, "pairs per step")
	lr := fs.Float64("lr", 1e-5, "Adam learning rate (Motif's 1e-5 suits ~500k pairs; small datasets learn faster with 1e-4 to 1e-3)")
	seed := fs.Uint64("seed", 1, "seed of the split, the initialisation and the shuffling")
	if err := parse(fs, args, "pairs", "out"); err != nil {
		return err
	}
	p, err := motif.LoadDataset(*pairsPath, motif.KindPairs)
	if err != nil {
		return err
	}
	start := time.Now()
	rm, res, err := motif.TrainRewardModel(p, motif.TrainOptions{Epochs: *epochs, Batch: *batch, LR: *lr, Seed: *seed,
		Progress: func(e int, r motif.TrainResult) {
			fmt.Fprintf(os.Stderr, "epoch %d/%d: train loss %.4f acc %.3f | held-out loss %.4f acc %.3f (%.0fs)\n", e, *epochs, r.TrainLoss, r.TrainAcc, r.ValLoss, r.ValAcc, time.Since(start).Seconds())
		}})
	if err != nil {
		return err
	}
	info := map[string]any{"pairs": *pairsPath, "train_pairs": res.Train, "held_out_pairs": res.Val, "unknown_dropped": res.Dropped,
		"held_out_accuracy": res.ValAcc, "train_accuracy": res.TrainAcc, "epochs": *epochs, "batch": *batch, "lr": *lr, "seed": *seed}
	if b, err := os.ReadFile(*pairsPath + ".labels.json"); err == nil {
		var prov any
		if json.Unmarshal(b, &prov) == nil {
			info["labels"] = prov
		}
	}
	ib, _ := json.MarshalIndent(info, "", "  ")
	rm.Info = string(ib)
	if err := rm.Save(*out); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(*out+".json", append(ib, '\n')); err != nil {
		return err
	}
	eps, _ := rm.Quantile(0.5)
	fmt.Printf("train: reward model in %s (%d train / %d held-out pairs, held-out accuracy %.3f, median normalised reward %.3f); provenance in %s.json\n", *out, res.Train, res.Val, res.ValAcc, eps, *out)
	return nil
}

// loadRewardModel reads a --reward-model flag: "default" is the shipped model, else a file.
func loadRewardModel(path string) (*motif.RewardModel, error) {
	if path == "default" {
		return motif.DefaultRewardModel()
	}
	return motif.LoadRewardModel(path)
}
