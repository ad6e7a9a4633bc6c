package sim

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// The simulator's routes, its key and token check, and the APIs it serves.

// Handler returns the simulator's HTTP routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, k := range []kind{kindChat, kindCompletions, kindEmbeddings} {
		mux.HandleFunc("POST /openai/deployments/{name}/"+k.path(), s.classic(k))
		mux.HandleFunc("POST /openai/v1/"+k.path(), s.v1(k))
		mux.HandleFunc("POST /v1/"+k.path(), s.v1(k))
	}
	// The Responses API: Azure's classic form names the deployment in the
	// body's model, as the v1 form does.
	mux.HandleFunc("POST /openai/responses", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("api-version") == "" {
			writeError(w, http.StatusNotFound, apiError{Code: "404", Message: "Resource not found"})
			return
		}
		s.serve(w, r, "", kindResponses)
	})
	mux.HandleFunc("POST /openai/v1/responses", s.v1(kindResponses))
	mux.HandleFunc("POST /v1/responses", s.v1(kindResponses))
	mux.HandleFunc("GET /v1/models", s.models)
	mux.HandleFunc("GET /openai/v1/models", s.models)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.Handle("GET /metrics", s.metricsHandler())
	if s.issuer != nil {
		mux.HandleFunc("GET /msi/token", s.issuer.serveToken)
	}
	mux.HandleFunc("GET /sim/stats", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(s.Stats())
	})
	mux.HandleFunc("POST /sim/reset", func(w http.ResponseWriter, r *http.Request) {
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, apiError{Code: "404", Message: "Resource not found"})
	})
	return s.auth(mux)
}

func (s *Server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		open := r.URL.Path == "/healthz" || r.URL.Path == "/msi/token" || r.URL.Path == "/metrics"
		if open || s.key == "" && s.issuer == nil {
			next.ServeHTTP(w, r)
			return
		}
		if s.key != "" && (r.Header.Get("api-key") == s.key || r.Header.Get("Authorization") == "Bearer "+s.key) {
			next.ServeHTTP(w, r)
			return
		}
		if s.issuer != nil && s.issuer.valid(r.Header.Get("Authorization")) {
			next.ServeHTTP(w, r)
			return
		}
		if s.issuer != nil {
			writeError(w, http.StatusUnauthorized, apiError{Code: "401", Message: "Unauthorized. Access token is missing, invalid, audience is incorrect (https://cognitiveservices.azure.com), or have expired."})
			return
		}
		if strings.HasPrefix(r.URL.Path, "/openai/deployments/") {
			writeError(w, http.StatusUnauthorized, apiError{Code: "401", Message: "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource."})
			return
		}
		writeError(w, http.StatusUnauthorized, apiError{Type: "invalid_request_error", Code: "invalid_api_key",
			Message: "Incorrect API key provided. Give it in the api-key header or as Authorization: Bearer."})
	})
}

func (s *Server) models(w http.ResponseWriter, r *http.Request) {
	type model struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
	}
	var data []model
	for _, n := range s.names {
		data = append(data, model{n, "model", s.start.Unix(), "aoaibench-sim"})
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data})
}

// kind is the API a request is for.
type kind uint8

const (
	kindChat kind = iota
	kindResponses
	kindCompletions
	kindEmbeddings
)

func (k kind) path() string {
	return [...]string{"chat/completions", "responses", "completions", "embeddings"}[k]
}

// operation names the kind in Azure's 429 message.
func (k kind) operation() string {
	return [...]string{"ChatCompletions_Create", "Responses_Create", "Completions_Create", "Embeddings_Create"}[k]
}

func (s *Server) classic(k kind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("api-version") == "" {
			writeError(w, http.StatusNotFound, apiError{Code: "404", Message: "Resource not found"})
			return
		}
		s.serve(w, r, r.PathValue("name"), k)
	}
}

func (s *Server) v1(k kind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, "", k) }
}
