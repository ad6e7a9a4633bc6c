package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aoaibench/aoaibench/internal/vision"
)

// Images in prompts: a message's image parts (the chat API's image_url,
// the Responses API's input_image), checked as Azure checks them and
// counted by the model's published rule (package vision). The simulator
// fetches nothing: an image given by address counts as addressSide x
// addressSide.

// MaxImages is the most images a request may carry (Azure's chat limit).
const MaxImages = 10

// addressSide is the side of an image given by address, which the
// simulator does not fetch: a common photograph's scaled size.
const addressSide = 1024

// part is one part of a message's content: text (the chat API's "text",
// the Responses API's "input_text" and "output_text") or an image (the
// chat API's "image_url", whose image_url is {url, detail} or a bare
// address; the Responses API's "input_image", whose image_url is a string
// and detail its own field).
type part struct {
	Type     string          `json:"type"`
	Text     string          `json:"text"`
	ImageURL json.RawMessage `json:"image_url"`
	Detail   string          `json:"detail"`
}

// isImage reports whether the part is an image.
func (p *part) isImage() bool { return p.Type == "image_url" || p.Type == "input_image" }

// image reads an image part's address (or data URL) and detail.
func (p *part) image() (url string, detail vision.Detail, ok bool) {
	if json.Unmarshal(p.ImageURL, &url) == nil {
		return url, vision.Detail(p.Detail), url != ""
	}
	var obj struct {
		URL    string `json:"url"`
		Detail string `json:"detail"`
	}
	if json.Unmarshal(p.ImageURL, &obj) != nil || obj.URL == "" {
		return "", "", false
	}
	return obj.URL, vision.Detail(obj.Detail), true
}

// imageCount is what a request's images add: how many, and their tokens.
type imageCount struct {
	images, tokens int
}

// add checks and counts message i's image parts for model; it writes the
// error and returns false on bad input.
func (c *imageCount) add(w http.ResponseWriter, model string, i int, parts []part) bool {
	for j := range parts {
		p := &parts[j]
		if !p.isImage() {
			continue
		}
		where := fmt.Sprintf("messages[%d].content[%d].image_url", i, j)
		rule, ok := vision.RuleOf(model)
		if !ok {
			writeError(w, http.StatusBadRequest, apiError{Code: "BadRequest", Param: param(where),
				Message: fmt.Sprintf("Invalid content type. image_url is only supported by certain models: %s does not take image input.", model)})
			return false
		}
		if c.images++; c.images > MaxImages {
			writeError(w, http.StatusBadRequest, apiError{Code: "BadRequest", Param: param("messages"),
				Message: fmt.Sprintf("Too many images in request. Max is %d.", MaxImages)})
			return false
		}
		url, detail, ok := p.image()
		if !ok {
			invalid(w, where, "Invalid value for '%s': expected an image URL or a base64 data URL.", where)
			return false
		}
		if !detail.Valid() {
			invalid(w, where+".detail", "Invalid value for '%s.detail': %q is not one of low, high, auto.", where, clip(string(detail)))
			return false
		}
		wd, ht, err := imageSize(url)
		if err != nil {
			writeError(w, http.StatusBadRequest, apiError{Type: "invalid_request_error", Param: param(where), Code: "invalid_image",
				Message: fmt.Sprintf("Invalid image data in '%s': %v.", where, err)})
			return false
		}
		c.tokens += rule.Tokens(wd, ht, detail)
	}
	return true
}

// imageSize is an image's size: an inline one's, read from its header; an
// address's, addressSide square (an address that is not http or https is
// refused).
func imageSize(url string) (w, h int, err error) {
	w, h, err = vision.Size(url)
	if errors.Is(err, vision.ErrNotInline) {
		if !strings.HasPrefix(url, "https://") && !strings.HasPrefix(url, "http://") {
			return 0, 0, errors.New("an image is a data URL or an http(s) address")
		}
		return addressSide, addressSide, nil
	}
	return w, h, err
}

// clip bounds a value echoed in an error message.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
