// Command hostile replays the hostile run of issue #15 against the built commands (train,
// annotate, compose): every input that once crashed a command, lost a user's data or gave an
// error that did not help. Each case runs the real binary on real files; LLM faults come from
// a loopback stand-in server (a real server cannot be made to send a 502 page or a 100,000 s
// Retry-After on demand). A case counts as
//
//   - a crash: a Go panic or fatal error, a signal, or no exit within its time limit;
//   - data loss: a file the user had is gone or changed, or a resumable run cannot go on;
//   - a leak: a secret (API key, URL credentials) in the output or in a written file;
//   - a bad error: a failure that should have happened did not, or its last line is over 400
//     characters or does not name the input.
//
// It prints one line per case and, last,
// "RESULT hostile crashes=<n> data_loss=<n> bad_errors=<n> leaks=<n> inputs=<n>".
//
// # Invariants
//   - It writes only in its scratch folder; the last line is RESULT hostile ... inputs=<n>.
package main
