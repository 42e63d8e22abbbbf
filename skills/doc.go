// Package skills holds MaestroMotif's skill machinery:
//
//   - the skills spec (Spec: skills in words with the judge's preference and threshold, the
//     character and actions, tasks with success checks; DefaultSpec is MaestroMotif's);
//   - the sandbox that runs LLM-written code (Load, Program.Call): Starlark (go.starlark.net),
//     a Python dialect with no I/O, no imports and no access to the process, run in a child
//     process of its own under a step limit, a wall-clock limit and a memory limit;
//   - the coder (WriteCode): the LLM writes the initiation and termination functions and the
//     policy over skills, scored on harnesses and its own unit tests, searched greedily, by
//     evolution or as a tree;
//   - the Controller, an env wrapper that plays skills in call-and-return fashion with that
//     code and adds the skill observation (KeySkill) that the skill-conditioned agent reads;
//     the reference code (ReferenceCode) and per-skill reward models (RewardModels) shipped;
//   - evaluation: success checks read off real games (Tracker, Overview, Judge) and Wilson
//     intervals.
//
// # Invariants
//   - Generated code sees only what the caller passes in: its arguments and Starlark's universe
//     (len, range, min, max, sorted, ...). load() always fails. There is no file, network,
//     clock or process access.
//   - Generated code runs in a sandbox process (this binary started again, serving on two
//     pipes; GOMAXPROCS 1, its address space capped at start plus Limits.Memory). Code that
//     allocates past the limit, or runs one builtin call past the time limit, ends that process
//     and nothing else: the call fails with an error that names the limit, and the next call
//     starts a fresh process. A program whose calls end crashLimit processes in a row is not
//     run again.
//   - Every failure of the code (syntax error, wrong signature, runtime error, step limit,
//     time limit, memory limit, a returned value over Limits.MaxValue) is returned as an error
//     naming the program, the function and, where Starlark knows it, the line; none escapes
//     as a panic.
//   - A Program is safe for concurrent calls: each call takes a sandbox process of its own
//     from a pool, and the program's globals are frozen after loading, so every process that
//     loads it holds the same values.
//   - Code that fails at run time inside a Controller never stops the env: the controller falls
//     back (keeps the skill, or starts the first one that may start) and counts the failure.
//   - A Controller wraps one env and is driven by one goroutine, as envs are.
package skills
