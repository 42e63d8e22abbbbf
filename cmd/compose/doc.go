// Command compose builds behaviour for a task from skills (MaestroMotif). An LLM writes the
// policy over skills for the task (and, without a trained run, the skills' initiation and
// termination functions), each refined against its harness in the Starlark sandbox; with
// --skills RUN it then plays the composed policy zero-shot with the run's skill-conditioned
// agent (train --skills) for --episodes episodes and reports the task's success rate with a
// 95% Wilson interval, a skill-usage timeline (timeline.png), each episode's skills and
// result (compose.json) and every reported episode's ttyrec.
//
// # Invariants
//   - LLM-written code runs only in the skills sandbox; its failures are counted in compose.json,
//     never fatal to the evaluation.
//   - compose.json reports the episodes finished even when play stops early.
package main
