package plan

import "strings"

// The plan's vocabularies: each word a run.json field may hold, owned
// here once, with the check Validate makes of it. The packages that act
// on a plan (api, client, traffic, run) use these types.

// Endpoint is the API a run's requests go to.
type Endpoint string

// The endpoint types.
const (
	Chat        Endpoint = "chat"        // chat completions (the default)
	Responses   Endpoint = "responses"   // the Responses API
	Completions Endpoint = "completions" // legacy completions
	Embeddings  Endpoint = "embeddings"
)

// Valid reports whether e is an endpoint type ("" is chat).
func (e Endpoint) Valid() bool {
	switch e {
	case "", Chat, Responses, Completions, Embeddings:
		return true
	}
	return false
}

// Retry is what a request does after a 429, a 5xx or a connection error.
type Retry string

// The retry policies.
const (
	RetryNone        Retry = "none"
	RetryExponential Retry = "exponential" // honours retry-after-ms, else backs off
)

// Valid reports whether r is a retry policy.
func (r Retry) Valid() bool { return r == RetryNone || r == RetryExponential }

// Arrival is how an open loop spaces its requests.
type Arrival string

// The arrival processes.
const (
	Constant Arrival = "constant"
	Poisson  Arrival = "poisson" // exponential gaps of the same mean
)

// Valid reports whether a is an arrival process ("" is constant).
func (a Arrival) Valid() bool { return a == "" || a == Constant || a == Poisson }

// DatasetFormat is how a dataset's rows are written.
type DatasetFormat string

// The dataset formats.
const (
	ShareGPT DatasetFormat = "sharegpt"
	JSONL    DatasetFormat = "jsonl"
	Replay   DatasetFormat = "replay" // a JSON array of message lists
	CSV      DatasetFormat = "csv"
)

// Valid reports whether f is a dataset format ("" is detected).
func (f DatasetFormat) Valid() bool {
	switch f {
	case "", ShareGPT, JSONL, Replay, CSV:
		return true
	}
	return false
}

// Auth is how requests prove who sends them.
type Auth string

// The ways to sign in.
const (
	AuthKey   Auth = "key"   // the API key's variable
	AuthEntra Auth = "entra" // Microsoft Entra ID
	AuthNone  Auth = "none"
)

// Valid reports whether a is a way to sign in ("" chooses).
func (a Auth) Valid() bool { return a == "" || a == AuthKey || a == AuthEntra || a == AuthNone }

// LiveFormat is how the live line is written.
type LiveFormat string

// The live line's formats.
const (
	Human LiveFormat = "human" // a status line on a terminal, the original's lines otherwise
	JSON  LiveFormat = "jsonl" // the original tool's JSON object each second
)

// Valid reports whether f is a live format.
func (f LiveFormat) Valid() bool { return f == Human || f == JSON }

// words lists a vocabulary's words for a message: "a, b or c".
func words[T ~string](ws ...T) string {
	s := make([]string, len(ws))
	for i, w := range ws {
		s[i] = string(w)
	}
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}
