package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const usage = `annotate: Motif's preference pipeline.

Usage:
  annotate collect --task score --steps 20000 --out data/obs.mtd     play and store observations
  annotate pairs   --obs data/obs.mtd --out data/pairs.mtd           draw Motif's caption pairs
  annotate label   --pairs data/pairs.mtd [--llm-url URL]           label them with an LLM judge
                   [--broker nats://HOST:4222 --llm-model M]        ... or queue the requests for workers
  annotate worker  --broker nats://HOST:4222 [--llm-url URL]        answer a label job's requests
  annotate inspect --pairs data/pairs.mtd                            counts, captions, labels
  annotate train   --pairs data/pairs.mtd --out rm.mtd               train the reward model
  annotate eval    [--tsv pairs.tsv] [--reward-model default]        measure a judge (and a reward
                                                                     model) on pairs with known answers
  annotate probe   [--topics FILE]                                   what the judge knows of NetHack

Without --llm-url, label and eval start the embedded llama-server (built by
scripts/setup.sh --llm) with the embedded judge (--judge; the default is the best measured in
docs/judge.md, installed by scripts/setup.sh --coder). For real labels point --llm-url at vLLM,
llama.cpp or OpenAI (several URLs, comma-separated, share the work) and name the model with
--llm-model; an API key is read from OPENAI_API_KEY and never written anywhere.

Run "annotate <command> --help" for a command's flags.
`

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		fmt.Print(usage)
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "collect":
		err = collect(ctx, args)
	case "pairs":
		err = pairs(args)
	case "label":
		err = label(ctx, args)
	case "inspect":
		err = inspect(args, os.Stdout)
	case "train":
		err = train(args)
	case "eval":
		err = eval(ctx, args, os.Stdout)
	case "probe":
		err = probe(ctx, args, os.Stdout)
	case "worker":
		err = worker(ctx, args)
	default:
		err = fmt.Errorf("unknown command %q; commands: collect, pairs, label, worker, inspect, train, eval, probe (annotate --help)", cmd)
	}
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "annotate:", err)
		os.Exit(1)
	}
}
