// Package llm talks to OpenAI-compatible chat servers (vLLM, llama.cpp's llama-server, Ollama,
// OpenAI) through github.com/sashabaranov/go-openai, adding what that client lacks: retries
// with backoff on 429 and 5xx answers that honour Retry-After, a bound on requests in flight,
// several endpoints served round-robin, and a clear error for an unreachable server, a missing
// API key or a model the server does not serve. It also runs the embedded local server
// (Server).
//
// # Invariants
//   - A Client is safe for concurrent use; at most Options.Concurrency requests are in flight
//     over all endpoints together.
//   - The API key is sent to the servers only; it is never part of an error or a log line, nor
//     is any part of it of 8 characters or more that a server echoes. Credentials in a URL
//     (user:password@, or a key or token in its query) are used for the requests and shown
//     nowhere: errors and URLs() carry the URL without them.
//   - An error from a server carries at most maxErrorText (300) characters of its text.
package llm
