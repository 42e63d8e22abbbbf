// Package llmtest provides a stand-in chat server for tests that must inject what a real model
// cannot produce on demand (a malformed answer, known-bad code). Tests that need a model's
// real behaviour use the embedded llama-server instead.
//
// # Invariants
//   - The stand-in speaks the OpenAI wire format that package llm's client reads and serves
//     only on loopback; every test that uses it says which fault it injects.
package llmtest
