package plan

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/aoaibench/aoaibench/internal/models"
	"github.com/aoaibench/aoaibench/internal/schema"
	"github.com/aoaibench/aoaibench/internal/tools"
	"github.com/aoaibench/aoaibench/internal/vision"
)

// The agent and vision workload's defaults and limits.
const (
	DefaultImageSize        = "1024x1024"
	DefaultImageDetail      = vision.Auto
	DefaultToolResultTokens = 200
	// MaxImages is the most images a request carries: Azure's limit for
	// chat completions.
	MaxImages = 10
	// MaxToolResult bounds --tool-result-tokens: a tool's answer of a
	// million tokens is past any model's window.
	MaxToolResult = 1_000_000
)

// ParseImageSize reads an image size, WxH (1024x1024), each side from 1
// to vision.MaxSide.
func ParseImageSize(s string) (w, h int, err error) {
	a, b, ok := strings.Cut(strings.ToLower(strings.TrimSpace(s)), "x")
	w, err1 := strconv.Atoi(strings.TrimSpace(a))
	h, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("want WIDTHxHEIGHT in pixels (e.g. 1024x1024), got %q", s)
	}
	if w < 1 || h < 1 || w > vision.MaxSide || h > vision.MaxSide {
		return 0, 0, fmt.Errorf("each side must be from 1 to %d pixels, got %dx%d", vision.MaxSide, w, h)
	}
	return w, h, nil
}

// normalizeAgent fills the agent and vision defaults: an image's size
// and detail when images are sent, tool_choice auto when tools are, and
// the tool result's length when a conversation may answer tool calls.
func (w *Workload) normalizeAgent() {
	if w.Images > 0 {
		if w.ImageSize == "" {
			w.ImageSize = DefaultImageSize
		}
		if w.ImageDetail == "" {
			w.ImageDetail = DefaultImageDetail
		}
	}
	if w.Tools > 0 && w.ToolChoice == "" {
		w.ToolChoice = tools.Auto
	}
	if w.Turns > 1 && (w.Tools > 0 || w.Dataset != nil) && w.ToolResultTokens == 0 {
		w.ToolResultTokens = DefaultToolResultTokens
	}
}

// validateAgent checks tools, response formats and images, and what they
// combine with.
func (p *Plan) validateAgent() error {
	w := &p.Workload
	switch {
	case w.Tools < 0 || w.Tools > tools.MaxTools:
		return Errorf("--tools must be from 0 to %d (the API's limit a request), got %d", tools.MaxTools, w.Tools)
	case !w.ToolChoice.Valid():
		return Errorf("--tool-choice must be %s, got %q", words(tools.Auto, tools.Required, tools.None), w.ToolChoice)
	case w.ToolChoice != "" && w.Tools == 0:
		return Errorf("--tool-choice %s needs --tools: it says whether the model calls one", w.ToolChoice)
	case w.ToolResultTokens < 0 || w.ToolResultTokens > MaxToolResult:
		return Errorf("--tool-result-tokens must be from 1 to %d, got %d", MaxToolResult, w.ToolResultTokens)
	case w.ToolResultTokens > 0 && w.Turns < 2:
		return Errorf("--tool-result-tokens is the tool result a conversation's next turn sends: it needs --turns 2 or more")
	case w.ResponseFormat != "" && w.ResponseFormat != "json" && strings.TrimSpace(w.SchemaFile()) == "":
		return Errorf("--response-format must be json or schema:FILE, got %q", w.ResponseFormat)
	case w.Images < 0 || w.Images > MaxImages:
		return Errorf("--images must be from 0 to %d (Azure's limit a request), got %d", MaxImages, w.Images)
	case w.Images == 0 && w.ImageSize != "":
		return Errorf("--image-size %s needs --images", w.ImageSize)
	case w.Images == 0 && w.ImageDetail != "":
		return Errorf("--image-detail %s needs --images", w.ImageDetail)
	case !w.ImageDetail.Valid():
		return Errorf("--image-detail must be %s, got %q", words(vision.Low, vision.High, vision.Auto), w.ImageDetail)
	}
	if w.Images > 0 {
		if _, _, err := ParseImageSize(w.ImageSize); err != nil {
			return Errorf("--image-size: %v", err)
		}
	}
	if f := w.SchemaFile(); f != "" {
		// Read here, before anything is sent or signed in to; the run
		// reads it again to send it.
		if _, err := schema.Load(f); err != nil {
			return Errorf("--response-format: %v", err)
		}
	}
	if !w.Agent() {
		return nil
	}
	flag := agentFlag(w)
	switch {
	case w.Endpoint == Embeddings || w.Endpoint == Completions:
		return Errorf("%s needs the chat or responses API: --endpoint-type %s has no tools, response formats or images", flag, w.Endpoint)
	case p.Load.Trace != nil:
		return Errorf("--trace gives each request's prompt length: %s does not apply", flag)
	case w.Dataset != nil && w.Images > 0:
		return Errorf("--images puts images in synthetic prompts: a dataset's rows carry their own image parts")
	}
	if w.Images > 0 {
		// A model aoaibench knows that takes no images is refused, as
		// Azure would refuse every request; a model it does not know
		// is sent images (and counted by the gpt-4o rule, with a note).
		model := p.ModelName()
		if _, known := models.Lookup(model); known {
			if _, ok := vision.RuleOf(model); !ok {
				return Errorf("--images: model %s takes no image input", model)
			}
		}
	}
	return nil
}

// agentFlag names the first agent or vision flag a workload gives, for
// messages.
func agentFlag(w *Workload) string {
	switch {
	case w.Tools > 0:
		return "--tools"
	case w.Images > 0:
		return "--images"
	}
	return "--response-format"
}
