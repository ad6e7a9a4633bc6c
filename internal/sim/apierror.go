package sim

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// The error bodies of OpenAI and Azure.

// apiError is the body of an OpenAI/Azure error.
type apiError struct {
	Message string  `json:"message"`
	Type    string  `json:"type,omitempty"`
	Param   *string `json:"param"`
	Code    any     `json:"code"`
}

func param(p string) *string { return &p }

func writeError(w http.ResponseWriter, status int, e apiError) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]apiError{"error": e})
}

func invalid(w http.ResponseWriter, p, format string, a ...any) {
	e := apiError{Type: "invalid_request_error", Message: fmt.Sprintf(format, a...)}
	if p != "" {
		e.Param = param(p)
	}
	writeError(w, http.StatusBadRequest, e)
}
