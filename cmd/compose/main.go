// Command compose has an LLM write the code that drives skills for a task (MaestroMotif): the
// initiation and termination functions of the spec's skills and the policy over skills for the
// task, each refined against its harness in the Starlark sandbox. The code, prompts, scores and
// harness cases go to --out.
//
// Playing the composed behaviour needs skill-conditioned agents (`train --skills`), which
// Maestro does not have yet; compose says so at the end of its report.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/maestro-rl/maestro/llm"
	"github.com/maestro-rl/maestro/skills"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "compose:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("compose", flag.ContinueOnError)
	specPath := fs.String("spec", "default", "skills spec (YAML; default: MaestroMotif's five skills and nine tasks)")
	task := fs.String("task", "", "a task of the spec by name (e.g. gnomish-mines, delphi) or a description in words (required)")
	out := fs.String("out", "", "folder for the code and its reports (default runs/compose-<task>)")
	urls := fs.String("llm-url", "", "OpenAI-compatible coder server(s), comma-separated; empty starts the embedded llama-server (a 135M model: expect code that does not pass)")
	model := fs.String("llm-model", "", "the coder model's name (required with --llm-url)")
	rounds := fs.Int("rounds", 4, "LLM answers per function (first draft + refinements)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "compose: an LLM writes the code that sequences skills for a task.\n\nUsage: compose --task NAME|DESCRIPTION [flags]\n\nExample:\n  compose --task gnomish-mines --llm-url http://gpu:8000/v1 --llm-model meta-llama/Llama-3.1-405B-Instruct\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *task == "" {
		return errors.New("--task is required (a task name of the spec or a description)")
	}
	spec, err := skills.LoadSpec(*specPath)
	if err != nil {
		return err
	}
	desc, name := *task, "custom"
	for _, t := range spec.Tasks {
		if t.Name == *task {
			desc, name = t.Description, t.Name
		}
	}
	if *out == "" {
		*out = filepath.Join("runs", "compose-"+name)
	}
	c, stopLLM, err := llm.Connect(ctx, *urls, *model, 1, os.Stderr,
		"compose: starting the embedded llama-server (SmolLM2-135M: too small to write working code; use --llm-url for a real coder)")
	if err != nil {
		return err
	}
	defer stopLLM()
	for _, kind := range []string{"initiation", "termination", "policy"} {
		res, err := skills.WriteCode(ctx, c, spec, kind, skills.CoderOptions{Rounds: *rounds, Task: desc, Dir: *out})
		if err != nil {
			return err
		}
		status := "passes every harness case"
		if res.Best.Score < 1 {
			status = fmt.Sprintf("passes %.0f%% of the harness cases", 100*max(res.Best.Score, 0))
			if res.Best.Error != "" {
				status = "does not load: " + res.Best.Error
			}
		}
		fmt.Printf("compose: %s: best of %d rounds (round %d) %s; %s\n", kind, len(res.Candidates), res.Best.Round, status, filepath.Join(*out, kind+".star"))
	}
	fmt.Printf("compose: code and reports in %s. Playing it needs skill-conditioned agents (train --skills), not built yet.\n", *out)
	return nil
}
