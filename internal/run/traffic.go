package run

import (
	"fmt"
	"time"

	"github.com/aoaibench/aoaibench/internal/models"
	"github.com/aoaibench/aoaibench/internal/pace"
	"github.com/aoaibench/aoaibench/internal/plan"
	"github.com/aoaibench/aoaibench/internal/traffic"
	"github.com/aoaibench/aoaibench/internal/vision"
)

// traffic builds the run's source of requests: a trace, a dataset,
// synthetic distributions (or a shared prefix, or sessions), or the
// fixed shape's precomputed body. A file is opened and its first row read
// here, so that a bad one fails before anything is sent.
func (r *Run) traffic(m models.Model) error {
	p := &r.plan
	w := p.Workload
	r.params = traffic.Params{Endpoint: w.Endpoint, NoStream: w.NoStream, Batch: w.EmbeddingBatch, Model: r.ep.Model, Reasoning: m.Reasoning, Completions: w.Completions,
		FrequencyPenalty: w.FrequencyPenalty, PresencePenalty: w.PresencePenalty, Temperature: w.Temperature, TopP: w.TopP}
	if w.Endpoint == plan.Responses && w.MaxTokens > 0 && w.MaxTokens < traffic.MinResponsesTokens && w.Dataset == nil {
		r.notes = append(r.notes, fmt.Sprintf("note: --max-tokens %d is sent as max_output_tokens %d, the least the Responses API takes", w.MaxTokens, traffic.MinResponsesTokens))
	}
	var err error
	if r.think, err = pace.ParseThink(w.ThinkTime, parseDuration); err != nil {
		return plan.Errorf("--think-time: %v", err)
	}
	agent, err := r.agent(m)
	if err != nil {
		return err
	}
	r.params.Agent = agent
	switch {
	case p.Load.Trace != nil:
		t := p.Load.Trace
		tr, err := traffic.ReadTrace(t.Path, t.Speed, t.Block, w.Seed)
		if err != nil {
			return plan.Errorf("--trace: %v", err)
		}
		if tr.Raised > 0 {
			r.notes = append(r.notes, fmt.Sprintf("note: --trace: %d rows asked for prompts under %d tokens, the least a chat request holds: they send %d", tr.Raised, traffic.MinContext, traffic.MinContext))
		}
		if r.pacer, err = pace.NewOffsets(tr.Offsets()); err != nil {
			return plan.Errorf("--trace: %v", err)
		}
		r.source = tr
	case w.Dataset != nil:
		d := w.Dataset
		ds, err := traffic.OpenDataset(traffic.DatasetOptions{
			Path: d.Path, Format: d.Format, Shuffle: d.Shuffle, Seed: w.Seed, SkipBad: d.SkipBad,
			MaxTokens: d.MaxTokens, Tokenizer: r.tok, Notify: func(s string) { r.opts.Log(s) }, Check: r.opts.DatasetCheck, Turns: w.Turns,
			Agent: agent, ImageTokens: imageCounter(r.plan.ModelName()),
		})
		if err != nil {
			return plan.Errorf("--dataset: %v", err)
		}
		r.dataset, r.source = ds, ds
		if w.Turns > 1 {
			r.convs = ds
		}
	case w.Synthetic != "" || w.PrefixTokens > 0 || w.Turns > 1 || !r.params.Chat() || agent != nil:
		// The fixed shape's precomputed body is a streamed chat body;
		// other APIs render the same prompts from their messages.
		prompt, output := traffic.Dist{Mean: float64(w.ContextTokens)}, traffic.Dist{Mean: float64(w.MaxTokens)}
		if w.Synthetic != "" {
			if prompt, output, err = traffic.ParseSynthetic(w.Synthetic); err != nil {
				return plan.Errorf("--synthetic: %v", err)
			}
			if win := m.ContextWindow; win > 0 && prompt.Max+float64(agent.Extra())+output.Max > float64(win) {
				return plan.Errorf("--synthetic: prompts of up to %g tokens (and %d that tools, images and a schema add) and answers of up to %g are over the model's context window of %d tokens",
					prompt.Max, agent.Extra(), output.Max, win)
			}
		}
		syn, err := traffic.NewSynthetic(prompt, output, w.PrefixTokens, w.Prefixes, w.Seed)
		if err != nil {
			return plan.Errorf("--prefix-tokens: %v", err)
		}
		syn.SetAgent(agent)
		r.source = syn
		if w.Turns > 1 {
			r.convs = syn
		}
	default:
		b, err := traffic.New(traffic.Spec{
			Model: r.ep.Model, Context: w.ContextTokens, MaxTokens: w.MaxTokens, Reasoning: m.Reasoning,
			Completions: w.Completions, FrequencyPenalty: w.FrequencyPenalty, PresencePenalty: w.PresencePenalty,
			Temperature: w.Temperature, TopP: w.TopP, Seed: w.Seed,
		})
		if err != nil {
			return plan.Errorf("--context-tokens %v", err)
		}
		r.source = b
	}
	return nil
}

// agent builds what every request carries beside its messages (tools, a
// response format, images, a tool result) and says what it adds in a
// note; nil when the plan asks for none.
func (r *Run) agent(m models.Model) (*traffic.Agent, error) {
	w := &r.plan.Workload
	iw, ih := 0, 0
	if w.Images > 0 {
		var err error
		if iw, ih, err = plan.ParseImageSize(w.ImageSize); err != nil {
			return nil, plan.Errorf("--image-size: %v", err)
		}
	}
	model := r.plan.ModelName()
	a, err := traffic.NewAgent(traffic.AgentSpec{Tools: w.Tools, Choice: w.ToolChoice, Seed: w.Seed, Format: w.ResponseFormat,
		Images: w.Images, ImageW: iw, ImageH: ih, Detail: w.ImageDetail, Model: model,
		ToolResultTokens: w.ToolResultTokens, Tokenizer: r.tok, Responses: w.Endpoint == plan.Responses})
	if err != nil {
		return nil, plan.Errorf("%v", err)
	}
	if note := a.Describe(model); note != "" {
		r.notes = append(r.notes, note)
	}
	if extra := a.Extra(); extra > 0 && m.ContextWindow > 0 && w.Dataset == nil && w.Synthetic == "" && w.ContextTokens+extra+w.MaxTokens > m.ContextWindow {
		return nil, plan.Errorf("--context-tokens %d, what tools, images and a schema add (%d) and --max-tokens %d are over the model's context window of %d tokens",
			w.ContextTokens, extra, w.MaxTokens, m.ContextWindow)
	}
	return a, nil
}

// imageCounter counts a dataset's inline images by the model's rule.
func imageCounter(model string) func(w, h int, d vision.Detail) int {
	count, _ := traffic.ImageCounter(model)
	return count
}

// parseDuration reads a duration as plan does: bare numbers are seconds.
func parseDuration(s string) (time.Duration, error) {
	d, err := plan.ParseDuration(s)
	return d.D(), err
}
