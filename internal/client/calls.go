package client

import (
	"fmt"

	"github.com/aoaibench/aoaibench/internal/api"
	"github.com/aoaibench/aoaibench/internal/metrics"
)

// maxCalls bounds the tool calls one answer may make (the API's limit on
// tools, 128; a model calls each a few times at most): a call index past
// it is a broken stream, not a reason to allocate.
const maxCalls = 128

// maxRawName bounds a call's id and name as read, before they are
// cleared of secrets and cut to metrics.MaxName: a name of a megabyte
// is not kept, yet a secret in its first bytes is still found whole.
const maxRawName = 16 << 10

// calls assembles choice 0's tool calls as their parts arrive: the call
// each index names (slot, in the order they began), its id and name, its
// arguments appended. The arguments are kept up to metrics.MaxText bytes
// of all calls.
type calls struct {
	slot [maxCalls]int16 // the call's place in Wire.Calls, by its index; -1 none yet
	args int             // argument bytes kept, of all calls
}

// reset forgets the calls of the last answer.
func (cs *calls) reset() {
	for i := range cs.slot {
		cs.slot[i] = -1
	}
	cs.args = 0
}

// file files an event's (or a whole answer's) call parts of choice 0 in
// w.Calls; it says why the answer is broken, "" when it is not.
func (cs *calls) file(w *metrics.Wire, ck *api.Chunk) string {
	for _, cp := range ck.Calls {
		d := ck.Deltas[cp.Delta]
		if d.Index != 0 {
			continue // calls of other choices are not assembled
		}
		if cp.Call == api.BadIndex {
			return "a tool call's index is not a count"
		}
		if cp.Call >= maxCalls {
			return fmt.Sprintf("tool call index %d out of range (at most %d calls)", cp.Call, maxCalls)
		}
		k := cs.slot[cp.Call]
		if k < 0 {
			k = int16(len(w.Calls))
			cs.slot[cp.Call] = k
			w.AddCall()
		}
		c := &w.Calls[k]
		// A server that repeats the id or name in every delta must not
		// cost a string each time: a new one only when it differs.
		if id := ck.Names[cp.ID.Start:cp.ID.End]; cp.HasID && len(id) > 0 && string(id[:min(len(id), maxRawName)]) != c.ID {
			c.ID = string(id[:min(len(id), maxRawName)])
		}
		if name := ck.Names[cp.Name.Start:cp.Name.End]; cp.HasName && len(name) > 0 && string(name[:min(len(name), maxRawName)]) != c.Name {
			c.Name = string(name[:min(len(name), maxRawName)])
		}
		start := 0
		if cp.Delta > 0 {
			start = ck.Deltas[cp.Delta-1].End
		}
		args := ck.Text[start:d.End]
		if room := metrics.MaxText - cs.args; len(args) > room {
			args, w.ArgsCut = args[:max(room, 0)], true
		}
		c.Args = append(c.Args, args...)
		cs.args += len(args)
	}
	return ""
}

// sealCalls clears the calls' ids and names of secrets, and cuts names to
// metrics.MaxName: they are the server's text, and names go to the
// records. An id goes nowhere but back to the server that issued it, in
// the agent loop's next turn, where it must be the id it issued: it is
// not cut (but for maxRawName, as read), only cleared of a secret.
func (c *Client) sealCalls(w *metrics.Wire) {
	for i := range w.Calls {
		call := &w.Calls[i]
		call.ID = c.serverText(call.ID, maxRawName)
		call.Name = c.serverText(call.Name, metrics.MaxName)
	}
}
