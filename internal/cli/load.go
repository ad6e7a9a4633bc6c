package cli

import (
	"fmt"

	"github.com/alecthomas/kong"

	"github.com/aoaibench/aoaibench/internal/plan"
	"github.com/aoaibench/aoaibench/internal/tools"
	"github.com/aoaibench/aoaibench/internal/vision"
)

// LoadCmd is `aoaibench load`: the original tool's load flags, plus
// aoaibench's own.
type LoadCmd struct {
	Plan string `type:"existingfile" placeholder:"RUN.JSON" help:"Run the plan of an earlier run (its run.json) again, exactly; only output flags may be added."`

	LoadFlags `embed:""`
}

// LoadFlags are the flags of a run, shared by load, sweep and search.
type LoadFlags struct {
	Endpoint string `arg:"" optional:"" placeholder:"URL" help:"Base URL of the endpoint (https://NAME.openai.azure.com, http://127.0.0.1:8000 ...). Omit it to test the built-in simulator."`

	Deployment     string        `short:"e" placeholder:"NAME" help:"Azure OpenAI deployment name (for OpenAI-compatible servers, the model when --model is not given)."`
	APIVersion     string        `short:"a" default:"2024-10-21" placeholder:"VERSION" help:"Azure OpenAI API version (classic Azure endpoints)."`
	APIKeyEnv      string        `short:"k" default:"OPENAI_API_KEY" placeholder:"VAR" help:"Environment variable that holds the API key (optional for loopback servers)."`
	API            string        `enum:"azure,azure-v1,openai," default:"" placeholder:"DIALECT" help:"Request dialect: azure, azure-v1 or openai; chosen from the URL when empty."`
	Model          string        `placeholder:"MODEL" help:"Model name: sent to OpenAI-compatible servers, and for Azure the model behind the deployment (sets the tokenizer)."`
	HTTP11         bool          `name:"http1.1" help:"HTTP/1.1, one connection per request in flight, as the OpenAI SDKs do (the default)."`
	HTTP2          bool          `name:"http2" help:"HTTP/2 over TLS: requests in flight share connections (the server must offer HTTP/2)."`
	Connections    int           `placeholder:"N" help:"With --http2, spread requests over N connections (default 1)."`
	Auth           plan.Auth     `placeholder:"MODE" help:"key (the --api-key-env variable), entra (Microsoft Entra ID: az login, managed or workload identity, a service principal) or none; by default key when the variable is set, else entra for Azure hosts, else none."`
	Header         []string      `placeholder:"'NAME: VALUE'" help:"Send this header with every request (repeatable); VALUE may be env:VAR, read from the environment, e.g. 'Ocp-Apim-Subscription-Key: env:APIM_KEY' for an API Management gateway."`
	Spillover      string        `name:"spillover-deployment" placeholder:"NAME" help:"Ask Azure to send a provisioned deployment's overflow to this deployment (x-ms-spillover-deployment)."`
	EndpointType   plan.Endpoint `placeholder:"TYPE" help:"chat (default), responses (the Responses API), completions (legacy) or embeddings."`
	NoStream       bool          `help:"Ask for whole answers, not streams: only E2E is measured (no TTFT or TPOT)."`
	EmbeddingBatch int           `placeholder:"N" help:"With --endpoint-type embeddings, inputs per request (1)."`

	Clients   int           `short:"c" placeholder:"N" help:"Most requests in flight at once (with --rate: as many as the rate needs, up to 10000, unless given); without --rate, exactly this many are kept in flight (20)."`
	Requests  int64         `short:"n" placeholder:"N" help:"Stop after this many requests (0: no limit)."`
	Duration  plan.Duration `short:"d" placeholder:"TIME" help:"Stop dispatching after this long: 20s, 3m, 1h (a bare number is seconds; 0: no limit)."`
	Rate      *float64      `short:"r" placeholder:"RPM" help:"Requests per minute, fractional allowed (0.5 is one every 2 minutes); omit for a closed loop of --clients."`
	Arrival   plan.Arrival  `enum:"constant,poisson" default:"constant" placeholder:"KIND" help:"Arrivals with --rate: constant gaps, or poisson (exponential gaps of the same mean)."`
	Stages    string        `placeholder:"TIME:RPM,..." help:"Ramp the rate: 30s:60,2m:600,1m:600 moves linearly from --start-rate to 60 RPM in 30 s, to 600 in 2 min, then holds 600 for 1 min; targets ending in c are client counts of a closed loop (30s:10c,2m:100c)."`
	StartRate float64       `placeholder:"RPM" help:"The rate (or, with client stages, the clients) the first stage starts from (0)."`
	Warmup    plan.Duration `placeholder:"TIME" help:"Send for this long first, leaving it out of the figures (load: it counts in --duration; sweep and search: before each step, 10s unless given)."`
	Seed      *uint64       `placeholder:"N" help:"Seed for Poisson gaps and the prompts' unique words (random when omitted; recorded in run.json)."`
	Shard     string        `placeholder:"I/N" help:"Run shard I (from 0) of N: this machine's share of the load, so that N machines together send what the flags say (default from $JOB_COMPLETION_INDEX and $AOAIBENCH_SHARDS when set). Merge the shards' --output-dir with aoaibench merge."`
	StartAt   string        `placeholder:"TIME" help:"Start at this RFC 3339 time (2026-12-02T15:00:00Z), so that shards start together; each records how late it was."`

	AggregationWindow plan.Duration `short:"w" default:"60s" placeholder:"TIME" help:"Sliding window of the live line's figures."`
	ShapeProfile      string        `short:"s" name:"shape-profile" aliases:"shape" enum:"balanced,context,generation,custom," default:"" placeholder:"SHAPE" help:"Request shape: balanced (500 context/500 max tokens), context (2000/200), generation (500/1000) or custom (default balanced, or custom when -p is given)."`
	ContextTokens     *int          `short:"p" placeholder:"N" help:"Prompt tokens per request, chat overhead included (custom shape)."`
	MaxTokens         *int          `short:"m" placeholder:"N" help:"max_tokens per request (custom shape; max_completion_tokens for reasoning models)."`
	Completions       int           `short:"i" default:"1" placeholder:"N" help:"Completions per request (n)."`
	FrequencyPenalty  *float64      `placeholder:"X" help:"frequency_penalty to send (-2 to 2)."`
	PresencePenalty   *float64      `placeholder:"X" help:"presence_penalty to send (-2 to 2)."`
	Temperature       *float64      `placeholder:"X" help:"temperature to send (0 to 2)."`
	TopP              *float64      `placeholder:"X" help:"top_p to send (0 to 1)."`
	Tokenizer         string        `placeholder:"ENCODING" help:"Tokenizer for client-side counts (o200k_base or cl100k_base); from the model when empty."`

	OutputFormat   plan.LiveFormat `short:"f" enum:"human,jsonl" default:"human" placeholder:"FORMAT" help:"Live output on stdout: human (one status line on a terminal, the original tool's lines otherwise), or jsonl (the original tool's JSON object each second)."`
	Retry          plan.Retry      `short:"t" enum:"none,exponential" default:"none" placeholder:"POLICY" help:"On 429, 5xx or connection errors: none, or exponential (honours retry-after-ms, for up to 60 s)."`
	RequestTimeout plan.Duration   `default:"10m" placeholder:"TIME" help:"How long one attempt may take, headers to end of stream."`
	DrainTimeout   plan.Duration   `default:"1m" placeholder:"TIME" help:"How long to wait for requests in flight when dispatch stops (0: cut them off at once); the rest count as incomplete."`
	OutputDir      string          `aliases:"log-save-dir" type:"path" placeholder:"DIR" help:"Directory for requests.jsonl, run.json, summary.json and histograms.json."`
	NoProbe        bool            `help:"Do not let the first request's answer check the endpoint (by default an answer of 401, 403, 404, or none, stops the run)."`
	Params         string          `type:"existingfile" placeholder:"FILE" help:"Read the lab's benchmark.parameters file (AOAI_ENDPOINT, AOAI_DEPLOYMENT, TEST_NAME, RATE, DURATION...); flags typed on the command line win over it."`
	LogFile        string          `type:"path" placeholder:"FILE" help:"Also write the JSONL live lines to this file (TEST_NAME.log with --params)."`
	ServerMetrics  []string        `placeholder:"URL" help:"Scrape an inference server's Prometheus metrics every second (repeatable; e.g. http://vllm:8000/metrics): vLLM's, SGLang's or TGI's queue, KV cache and own TTFT, kept in server-metrics.jsonl and set beside the client's figures."`
	MetricsLinger  plan.Duration   `placeholder:"TIME" help:"With --metrics-listen, keep serving the run's final figures this long after it ends (e.g. 30s: two scrapes), so that Prometheus gets them."`
	MetricsListen  string          `placeholder:"ADDR" help:"Serve live metrics to Prometheus at ADDR/metrics (e.g. 127.0.0.1:9464; :9464 for every interface, as in a pod): requests by class, in flight, tokens, TTFT, TPOT, E2E and lag histograms, named aoaibench_*."`
	CPUProfile     string          `name:"cpu-profile" type:"path" placeholder:"FILE" help:"Write a pprof CPU profile of the run to this file."`
	MemProfile     string          `name:"mem-profile" type:"path" placeholder:"FILE" help:"Write a pprof allocation profile at the end of the run to this file."`

	SLOTTFT plan.Duration `name:"slo-ttft" placeholder:"TIME" help:"Goodput objective: TTFT at most this long."`
	SLOTPOT plan.Duration `name:"slo-tpot" placeholder:"TIME" help:"Goodput objective: TPOT at most this long."`
	SLOE2E  plan.Duration `name:"slo-e2e" placeholder:"TIME" help:"Goodput objective: E2E at most this long."`
	SLO     string        `name:"slo" placeholder:"LIST" help:"Whole-run objectives, e.g. 'ttft_p95<=2s,throttled<=1%'; a miss exits with status 99."`

	TrafficFlags `embed:"" group:"Traffic (what each request asks)"`
	SimFlags     `embed:"" group:"Simulator (when no URL is given)"`

	fileKey string // OPENAI_API_KEY from --params; never printed
}

// TrafficFlags choose the prompts: distributions, a dataset, a trace,
// conversations, shared prefixes.
type TrafficFlags struct {
	Synthetic         string             `placeholder:"SPEC" help:"Prompt and output lengths from distributions, GuideLLM's keys, e.g. prompt_tokens=800,prompt_tokens_stdev=300, output_tokens=200,output_tokens_stdev=80; also _min and _max (normal truncated; min and max alone: uniform; a value alone: fixed)."`
	Dataset           string             `type:"path" placeholder:"FILE" help:"Send a file's prompts: ShareGPT JSON, JSONL (prompt or messages, with output_tokens or max_tokens), replay (a JSON array of message lists) or CSV (prompt,output_tokens). Read as it is sent, cycling; --max-tokens overrides its output lengths."`
	DatasetFormat     plan.DatasetFormat `enum:"sharegpt,jsonl,replay,csv," default:"" placeholder:"FORMAT" help:"The dataset's format: sharegpt, jsonl, replay or csv (detected when omitted)."`
	DatasetShuffle    bool               `help:"Send the dataset's rows in a seeded random order (a 10,000-row shuffle buffer) instead of the file's."`
	DatasetSkipBad    bool               `help:"Skip dataset rows that cannot be read, with a warning (by default a bad row stops the run, naming its file:line)."`
	Trace             string             `type:"path" placeholder:"FILE" help:"Replay a trace: JSONL of {timestamp (ms), input_length, output_length, hash_ids} (Mooncake, AIPerf), a usage CSV (timestamp, prompt_tokens, completion_tokens, optional cached_tokens, max_tokens), or an aoaibench --output-dir, sent at the recorded offsets with prompts of those lengths; hash_ids become shared prefix blocks."`
	TraceSpeed        float64            `default:"1" placeholder:"X" help:"Replay the trace X times as fast (0.5: half speed)."`
	TraceBlock        int                `default:"512" placeholder:"N" help:"Tokens of one hash_ids block of the trace."`
	PrefixTokens      int                `placeholder:"N" help:"Start every prompt with a shared system message of N tokens, which a prompt cache can serve (the rest of each prompt stays unique)."`
	Prefixes          int                `placeholder:"K" help:"With --prefix-tokens, K distinct shared prefixes, used in turn (1)."`
	Turns             int                `placeholder:"N" help:"Conversations of up to N turns: each turn carries the whole history with the answers as received; with --dataset, each conversation's own turns, up to N. The schedule starts conversations; --clients caps those open at once."`
	ThinkTime         string             `placeholder:"TIME" help:"Pause before each following turn: 2s, 1s-5s (uniform) or exp:2s (exponential)."`
	LogRequestContent bool               `help:"Write each request's prompt and answer text to requests.jsonl (off by default: they may be confidential)."`

	Tools            int           `placeholder:"N" help:"Send N function definitions (tools) of realistic size with every request, up to 128; their tokens count in the prompt as the server counts them (a dataset row's own tools win)."`
	ToolChoice       tools.Choice  `placeholder:"CHOICE" help:"With --tools, the tool_choice sent: auto (the model decides), required or none (default auto)."`
	ToolResultTokens int           `placeholder:"N" help:"With --turns, the tokens of the fixed result a conversation answers each tool call with before going on, as an agent loop does (200)."`
	ResponseFormat   string        `placeholder:"FORMAT" help:"Ask for JSON answers: json (a json_object response format) or schema:FILE (a json_schema one, of a JSON Schema file with an object root)."`
	Images           int           `placeholder:"K" help:"Put K synthetic images (one seeded JPEG, inline as a base64 data URL) in every prompt, up to 10; their tokens count by the model's published rule."`
	ImageSize        string        `placeholder:"WxH" help:"With --images, the images' size in pixels (default 1024x1024)."`
	ImageDetail      vision.Detail `placeholder:"DETAIL" help:"With --images, the detail asked: low, high or auto (default auto, counted as high)."`
}

// Help is the command's example.
func (c *LoadCmd) Help() string {
	return `Examples:
  aoaibench load -d 20s -r 120                    # the built-in simulator
  aoaibench load -e gpt-4o -r 60 -d 3m --output-dir run1 \
    https://NAME.openai.azure.com
  aoaibench load --plan run1/run.json --output-dir run2   # the same again`
}

// Run runs the load test.
func (c *LoadCmd) Run(env *Env, kctx *kong.Context) error {
	p, notes, err := c.toPlan(env, typedFlags(kctx))
	if err != nil {
		return err
	}
	for _, n := range notes {
		fmt.Fprintln(env.Stderr, n)
	}
	prof, err := startProfiles(c.CPUProfile, c.MemProfile)
	if err != nil {
		return err
	}
	defer prof.close()
	err = execute(env, p, c.fileKey)
	if perr := prof.stop(); perr != nil {
		fmt.Fprintln(env.Stderr, perr)
	}
	return err
}

// typedFlags returns the flags given on the command line, as opposed to
// those kong filled with defaults (kong marks both as set).
func typedFlags(kctx *kong.Context) map[string]bool {
	m := map[string]bool{}
	if kctx == nil {
		return m
	}
	for _, p := range kctx.Path {
		if p.Flag != nil && !p.Resolved {
			m[p.Flag.Name] = true
		}
	}
	return m
}
