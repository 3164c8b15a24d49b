package apptest

// The play room: its flags, its events and its pushes.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// PlayArgs are flags for a fast play room (a move every 20 ms in a
// 300x200 box) with its store in dir.
func PlayArgs(dir string, extra ...string) []string {
	return append([]string{"-data", dir, "-world-interval", "20ms", "-world-width", "300", "-world-height", "200",
		"-world-step", "4", "-world-seed", "5"}, extra...)
}

// PlayMoveData is the data of a move of the play room.
type PlayMoveData struct {
	Seq    uint64
	X, Y   int
	TS     int64
	Pushes []PushData `json:"pushes"`
}

// PushData is a push, as a move lists it.
type PushData struct {
	ID  string `json:"id"`
	Dir string `json:"dir"`
}

// PlayMove is a move of the play room as the client saw it.
type PlayMove struct {
	ID string
	PlayMoveData
}

// PlayOpen opens /play/events with header and reads its init and
// viewers events.
func (s *Program) PlayOpen(tb testing.TB, header ...string) (*Reader, Init, int) {
	tb.Helper()
	es := s.Open(tb, "/play/events", header...)
	in := es.Init()
	return es, in, es.Viewers()
}

// Viewers reads a Viewers event.
func (es *Reader) Viewers() int {
	es.tb.Helper()
	var v struct{ Viewers int }
	if _, err := ReadEvent(es.Dec, "viewers", &v); err != nil {
		es.tb.Fatal(err)
	}
	return v.Viewers
}

// PlayMoves reads moves of the play room until until accepts one, or n
// moves, skipping viewers events; it checks that each move follows the
// one before with its seq as id, and returns them.
func (es *Reader) PlayMoves(after uint64, n int, until func(PlayMove) bool) []PlayMove {
	es.tb.Helper()
	var ms []PlayMove
	for len(ms) < n {
		ev, err := es.Dec.Next()
		if err != nil {
			es.tb.Fatalf("reading play moves after %d: %v", after, err)
		}
		if ev.Name == "viewers" {
			continue
		}
		var m PlayMove
		jd := json.NewDecoder(strings.NewReader(ev.Data))
		jd.DisallowUnknownFields()
		if ev.Name != "move" || jd.Decode(&m.PlayMoveData) != nil {
			es.tb.Fatalf("event %q %q; want a move", ev.Name, ev.Data)
		}
		m.ID = ev.ID
		if want := after + uint64(len(ms)) + 1; m.Seq != want || m.ID != strconv.FormatUint(want, 10) {
			es.tb.Fatalf("move seq %d id %q; want %d: gap-free", m.Seq, m.ID, want)
		}
		if m.X < 0 || m.X > 300 || m.Y < 0 || m.Y > 200 {
			es.tb.Errorf("move %d at (%d, %d): outside 300x200", m.Seq, m.X, m.Y)
		}
		ms = append(ms, m)
		if until != nil && until(m) {
			break
		}
	}
	return ms
}

// Applies returns a test for a move that applied the push with this id.
func Applies(id string) func(PlayMove) bool {
	return func(m PlayMove) bool {
		return slices.ContainsFunc(m.Pushes, func(p PushData) bool { return p.ID == id })
	}
}

// Post sends POST path with body and header (name, value pairs).
func (s *Program) Post(ctx context.Context, path, body string, header ...string) (status int, respBody string, h http.Header, err error) {
	return s.post(ctx, s.Client, path, body, header...)
}

// post is Post with client.
func (s *Program) post(ctx context.Context, client *http.Client, path, body string, header ...string) (status int, respBody string, h http.Header, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+path, strings.NewReader(body))
	if err != nil {
		return 0, "", nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, "", nil, fmt.Errorf("POST %s: %w", path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res.Header, err
}

// Push sends a Push and requires 202 with its id.
func (s *Program) Push(tb testing.TB, id, dir string, header ...string) {
	tb.Helper()
	status, body, _, err := s.Post(context.Background(), "/play/push", fmt.Sprintf(`{"dir":%q,"id":%q}`, dir, id), header...)
	if err != nil {
		tb.Fatal(err)
	}
	if want := fmt.Sprintf(`{"id":%q}`, id); status != http.StatusAccepted || strings.TrimSpace(body) != want {
		tb.Fatalf("push %s %s = %d %q; want 202 %s", id, dir, status, body, want)
	}
}

// NextViewers reads moves up to the next viewers event, and returns its
// count.
func (es *Reader) NextViewers() int {
	es.tb.Helper()
	for {
		ev, err := es.Dec.Next()
		if err != nil {
			es.tb.Fatalf("waiting for a viewers event: %v", err)
		}
		if ev.Name == "viewers" {
			var v struct{ Viewers int }
			if err := json.Unmarshal([]byte(ev.Data), &v); err != nil {
				es.tb.Fatal(err)
			}
			return v.Viewers
		}
	}
}

// Dirs are the directions that a test's pushes take in turn.
var Dirs = [...]string{"up", "right", "down", "left"}

// PushFrom sends a push with id and dir to s with client, as the page
// does (same origin), and returns the status (0 when no answer came), its
// Retry-After and body. ctx ends a push still waiting for its answer.
func (s *Program) PushFrom(ctx context.Context, client *http.Client, id, dir string) (status int, retryAfter, body string) {
	status, body, h, err := s.post(ctx, client, "/play/push", fmt.Sprintf(`{"dir":%q,"id":%q}`, dir, id),
		"Origin", s.URL, "Sec-Fetch-Site", "same-origin")
	if status == 0 { // no answer; an answer whose body broke off keeps its status
		return 0, "", err.Error()
	}
	return status, h.Get("Retry-After"), body
}
