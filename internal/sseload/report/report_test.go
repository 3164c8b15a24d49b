package report

import "testing"

func TestMergePercentiles(t *testing.T) {
	hist := func(counts map[int]uint64) []uint64 {
		h := make([]uint64, 10001)
		for ms, n := range counts {
			h[ms] = n
		}
		return h
	}
	a := Result{Streams: 2, Events: 90, Seconds: 10, Hist: hist(map[int]uint64{1: 90})}
	b := Result{Streams: 3, Events: 10, Seconds: 10, Errors: 1, Lost: 2, FirstError: "boom", Hist: hist(map[int]uint64{50: 9, 200: 1})}
	a.Merge(b)
	want := Result{Streams: 5, Events: 100, Seconds: 10, EventsPerSec: 10, Errors: 1, Lost: 2, FirstError: "boom",
		DelayP50MS: 1, DelayP90MS: 50, DelayP99MS: 200, DelayMaxMS: 200}
	a.Hist = nil
	if a.Streams != want.Streams || a.Events != want.Events || a.EventsPerSec != want.EventsPerSec || a.Errors != want.Errors ||
		a.Lost != want.Lost || a.FirstError != want.FirstError || a.DelayP50MS != want.DelayP50MS ||
		a.DelayP90MS != want.DelayP90MS || a.DelayP99MS != want.DelayP99MS || a.DelayMaxMS != want.DelayMaxMS {
		t.Errorf("Merge() = %+v; want %+v", a, want)
	}
}
