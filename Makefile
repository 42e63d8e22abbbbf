# Maestro: `make train` runs the main job on embedded defaults, `make test` runs every test.
# Both install what they need first (scripts/setup.sh: Debian packages, NLE, Go modules; for the
# tests also the Python peers and the embedded LLM, whose llama-server builds once, ~11-25 min).
SHELL := /bin/bash
GO ?= go
BENCH ?=
TRAIN_ARGS ?= --algo appo --env NetHackScore --reward motif --num-envs 8 --frames-per-batch 32 --total-frames 200000
PLAY_ARGS ?= -task NetHackScore -steps 300

.PHONY: all setup setup-peer setup-bench build train play test bench clean

all: build

setup:
	@bash scripts/setup.sh
	@$(GO) mod download

setup-peer:
	@bash scripts/setup.sh --peer --llm
	@$(GO) mod download

build: setup
	$(GO) build -o bin/ ./cmd/...

# The main job: APPO on NetHackScore with Motif's intrinsic reward from the shipped reward
# model (200,000 frames, about 3.5 minutes on 2 cores). TRAIN_ARGS="--env CartPole --algo ppo" for a quick one.
train: build
	./bin/train --force $(TRAIN_ARGS)

# A random agent playing NetHackScore, drawn in the terminal.
play: build
	./bin/play $(PLAY_ARGS)

test: setup-peer
	$(GO) vet ./...
	MAESTRO_REQUIRE_PEER=1 $(GO) test -count=1 ./...
	$(GO) test -count=1 -race ./tensor/ ./tensordict/ ./envs/ ./envs/cartpole/ ./replaybuffer/ ./collectors/ ./dist/
	$(GO) test -count=1 -race -run 'Concurrent|Batch|Determinism|EnvBatched' ./envs/nethack/
	$(GO) test -count=1 -race ./nn/internal/kern/
	$(GO) test -count=1 -race -run 'Sgemm' ./nn/internal/blas/
	$(GO) test -count=1 -race -run 'Overlapped' ./agents/nethackagent/
	$(GO) test -count=1 -race -run 'StatsWhileStepping|SandboxConcurrent' ./skills/

setup-bench:
	@bash scripts/setup.sh --bench
	@$(GO) mod download

bench: setup-bench
	@test -n "$(BENCH)" || { echo "usage: make bench BENCH=<name>  (available: nle, minihack, speedrun, ceiling, tensordict, rollout, replaybuffer, collector, distributed, nn, annotate, rewardmodel, ppo, hostile)"; exit 2; }
	bash bench/run.sh $(BENCH)

clean:
	rm -rf bin bench/out
