package payload_test

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/sse-demo/movingobject/stream/payload"
)

// The hand-written encoders must write what encoding/json writes for the
// same struct, field for field, and read back to the same value.

func TestMove_AppendJSON(t *testing.T) {
	tests := []struct {
		name string
		m    payload.Move
		want string // written by hand, as a client sees the contract
	}{
		{"zero", payload.Move{}, `{"seq":0,"x":0,"y":0,"ts":0}`},
		{"typical", payload.Move{Seq: 42, X: 400, Y: 297, TS: 1767225600100}, `{"seq":42,"x":400,"y":297,"ts":1767225600100}`},
		{"extremes", payload.Move{Seq: math.MaxUint64, X: -1, Y: math.MaxInt32, TS: math.MinInt64},
			`{"seq":18446744073709551615,"x":-1,"y":2147483647,"ts":-9223372036854775808}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(tt.m.AppendJSON(nil))
			if got != tt.want {
				t.Errorf("AppendJSON() = %s; want %s", got, tt.want)
			}
			checkAgainstJSON(t, got, tt.m)
		})
	}
}

func TestInit_AppendJSON(t *testing.T) {
	tests := []struct {
		name string
		in   payload.Init
		want string
	}{
		{"zero", payload.Init{}, `{"width":0,"height":0,"step":0,"interval_ms":0,"seed":0,"resumed":false,"seq":0,"x":0,"y":0,"retry_ms":0}`},
		{"resumed", payload.Init{Width: 800, Height: 600, Step: 5, IntervalMS: 100, Seed: 1<<53 - 1, Resumed: true, Seq: 7, X: 12, Y: 599, RetryMS: 2500},
			`{"width":800,"height":600,"step":5,"interval_ms":100,"seed":9007199254740991,"resumed":true,"seq":7,"x":12,"y":599,"retry_ms":2500}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(tt.in.AppendJSON(nil))
			if got != tt.want {
				t.Errorf("AppendJSON() = %s; want %s", got, tt.want)
			}
			checkAgainstJSON(t, got, tt.in)
		})
	}
}

// checkAgainstJSON fails t unless encoding/json writes v as got and reads
// got back as v.
func checkAgainstJSON[T comparable](t *testing.T, got string, v T) {
	t.Helper()
	want, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("AppendJSON() = %s; encoding/json writes %s", got, want)
	}
	var back T
	if err := json.Unmarshal([]byte(got), &back); err != nil || back != v {
		t.Errorf("json.Unmarshal(%s) = %+v, %v; want %+v", got, back, err, v)
	}
}

func FuzzMove_AppendJSON(f *testing.F) {
	f.Add(uint64(1), 0, 0, int64(0))
	f.Add(uint64(math.MaxUint64), -5, 1<<40, int64(math.MaxInt64))
	f.Fuzz(func(t *testing.T, seq uint64, x, y int, ts int64) {
		m := payload.Move{Seq: seq, X: x, Y: y, TS: ts}
		checkAgainstJSON(t, string(m.AppendJSON(nil)), m)
	})
}

func FuzzInit_AppendJSON(f *testing.F) {
	f.Add(800, 600, 5, int64(100), uint64(1), true, uint64(3), 1, 2, int64(2000))
	f.Fuzz(func(t *testing.T, w, h, step int, interval int64, seed uint64, resumed bool, seq uint64, x, y int, retry int64) {
		in := payload.Init{Width: w, Height: h, Step: step, IntervalMS: interval, Seed: seed, Resumed: resumed, Seq: seq, X: x, Y: y, RetryMS: retry}
		checkAgainstJSON(t, string(in.AppendJSON(nil)), in)
	})
}

func TestAppendMessage(t *testing.T) {
	m := payload.Move{Seq: 9, X: 1, Y: 2, TS: 3}
	in := payload.Init{Width: 800, Height: 600, Step: 5, IntervalMS: 100, Seed: 1, Seq: 9, X: 1, Y: 2, RetryMS: 2000}
	tests := []struct {
		name string
		got  string
		want string
		v    any // what encoding/json must write the same for
	}{
		{"move", string(m.AppendMessage(nil)), `{"type":"move","seq":9,"x":1,"y":2,"ts":3}`,
			struct {
				Type string `json:"type"`
				payload.Move
			}{"move", m}},
		{"init", string(in.AppendMessage(nil)),
			`{"type":"init","width":800,"height":600,"step":5,"interval_ms":100,"seed":1,"resumed":false,"seq":9,"x":1,"y":2,"retry_ms":2000}`,
			struct {
				Type string `json:"type"`
				payload.Init
			}{"init", in}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("AppendMessage() = %s; want %s", tt.got, tt.want)
			}
			if want, _ := json.Marshal(tt.v); tt.got != string(want) {
				t.Errorf("AppendMessage() = %s; encoding/json writes %s", tt.got, want)
			}
		})
	}
}

func TestAppendPoll(t *testing.T) {
	m1 := payload.Move{Seq: 1, X: 10, Y: 20, TS: 100}
	m2 := payload.Move{Seq: 2, X: 11, Y: 20, TS: 200}
	in := &payload.Init{Width: 800, Height: 600, Step: 5, IntervalMS: 100, Seed: 1, Seq: 2, X: 11, Y: 20, RetryMS: 0}
	tests := []struct {
		name string
		init *payload.Init
		ms   []payload.Move
		want string
	}{
		{"none", nil, nil, `{"moves":[]}`},
		{"two", nil, []payload.Move{m1, m2}, `{"moves":[{"seq":1,"x":10,"y":20,"ts":100},{"seq":2,"x":11,"y":20,"ts":200}]}`},
		{"with init", in, []payload.Move{m2},
			`{"init":{"width":800,"height":600,"step":5,"interval_ms":100,"seed":1,"resumed":false,"seq":2,"x":11,"y":20,"retry_ms":0},"moves":[{"seq":2,"x":11,"y":20,"ts":200}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var enc [][]byte
			for _, m := range tt.ms {
				enc = append(enc, m.AppendJSON(nil))
			}
			got := string(payload.AppendPoll(nil, tt.init, enc))
			if got != tt.want {
				t.Errorf("AppendPoll() = %s; want %s", got, tt.want)
			}
			moves := tt.ms
			if moves == nil {
				moves = []payload.Move{}
			}
			want, err := json.Marshal(payload.Poll{Init: tt.init, Moves: moves})
			if err != nil || got != string(want) {
				t.Errorf("AppendPoll() = %s; encoding/json writes %s (%v)", got, want, err)
			}
			var back payload.Poll
			if err := json.Unmarshal([]byte(got), &back); err != nil || !reflect.DeepEqual(back, payload.Poll{Init: tt.init, Moves: moves}) {
				t.Errorf("json.Unmarshal(%s) = %+v, %v", got, back, err)
			}
		})
	}
}

func TestPlayMove_AppendJSON(t *testing.T) {
	m := payload.Move{Seq: 7, X: 20, Y: 30, TS: 1767225600100}
	tests := []struct {
		name string
		m    payload.PlayMove
		want string
	}{
		{"no pushes", payload.PlayMove{Move: m}, `{"seq":7,"x":20,"y":30,"ts":1767225600100}`},
		{"empty pushes", payload.PlayMove{Move: m, Pushes: []payload.Push{}}, `{"seq":7,"x":20,"y":30,"ts":1767225600100}`},
		{"two pushes in order", payload.PlayMove{Move: m, Pushes: []payload.Push{{ID: "a-1", Dir: payload.DirUp}, {ID: "B_2", Dir: payload.DirLeft}}},
			`{"seq":7,"x":20,"y":30,"ts":1767225600100,"pushes":[{"id":"a-1","dir":"up"},{"id":"B_2","dir":"left"}]}`},
		{"escapes", payload.PlayMove{Move: m, Pushes: []payload.Push{{ID: "\"<&>\\\n\x01\u2028é\xff", Dir: "\t\b\f\r"}}},
			`{"seq":7,"x":20,"y":30,"ts":1767225600100,"pushes":[{"id":"\"\u003c\u0026\u003e\\\n\u0001\u2028é�","dir":"\t\b\f\r"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(tt.m.AppendJSON(nil))
			if got != tt.want {
				t.Errorf("AppendJSON() = %s; want %s", got, tt.want)
			}
			want, err := marshal(tt.m)
			if err != nil || got != want {
				t.Errorf("AppendJSON() = %s; encoding/json writes %s (%v)", got, want, err)
			}
		})
	}
}

func FuzzPlayMove_AppendJSON(f *testing.F) {
	f.Add(uint64(3), 1, 2, int64(5), "k1", "up", "k2", "down")
	f.Add(uint64(0), 0, 0, int64(0), "\x00\"\\</script>", "\u2029\xfe", "", "")
	f.Fuzz(func(t *testing.T, seq uint64, x, y int, ts int64, id1, dir1, id2, dir2 string) {
		m := payload.PlayMove{Move: payload.Move{Seq: seq, X: x, Y: y, TS: ts}, Pushes: []payload.Push{{id1, dir1}, {id2, dir2}}}
		got := string(m.AppendJSON(nil))
		want, err := marshal(m)
		if err != nil || got != want {
			t.Errorf("AppendJSON() = %s; encoding/json writes %s (%v)", got, want, err)
		}
	})
}

// marshal returns v as encoding/json writes it since Go 1.27, which puts
// U+FFFD for a byte that is not UTF-8 itself where Go 1.26 wrote \ufffd.
func marshal(v any) (string, error) {
	b, err := json.Marshal(v)
	return strings.ReplaceAll(string(b), `\ufffd`, "\uFFFD"), err
}

func TestViewers_AppendJSON(t *testing.T) {
	for _, v := range []payload.Viewers{{}, {Viewers: 1}, {Viewers: 12345}} {
		checkAgainstJSON(t, string(v.AppendJSON(nil)), v)
	}
	if got := string(payload.Viewers{Viewers: 3}.AppendJSON(nil)); got != `{"viewers":3}` {
		t.Errorf("AppendJSON() = %s; want {\"viewers\":3}", got)
	}
}
