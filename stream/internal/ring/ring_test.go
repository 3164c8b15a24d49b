package ring_test

import (
	"testing"

	"github.com/sse-demo/movingobject/stream/internal/ring"
)

type move struct{ seq uint64 }

func TestRing(t *testing.T) {
	r := ring.New(3, func(m *move) uint64 { return m.seq })
	if r.Len() != 3 || r.Get(0) != nil || r.Latest() != 0 {
		t.Fatalf("new ring: Len %d, Get(0) %v, Latest %d; want 3, nil, 0", r.Len(), r.Get(0), r.Latest())
	}
	ms := make([]*move, 6)
	for i := range ms {
		ms[i] = &move{uint64(i)}
		r.Store(ms[i])
	}
	r.SetLatest(5)
	tests := []struct {
		seq  uint64
		want *move
	}{
		{2, nil}, // overwritten by 5
		{3, ms[3]},
		{5, ms[5]},
		{6, nil}, // not stored: its slot holds 3
		{8, nil}, // not stored: its slot holds 5
	}
	for _, tt := range tests {
		if got := r.Get(tt.seq); got != tt.want {
			t.Errorf("Get(%d) = %v; want %v", tt.seq, got, tt.want)
		}
	}
	if r.Latest() != 5 {
		t.Errorf("Latest() = %d; want 5", r.Latest())
	}
	if small := ring.New(0, func(m *move) uint64 { return m.seq }); small.Len() != 2 {
		t.Errorf("New(0).Len() = %d; want 2", small.Len())
	}
}
