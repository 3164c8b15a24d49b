package walks

import (
	"testing"

	"github.com/sse-demo/movingobject/simulation"
)

// TestTokenContract holds the resume token to the ids the README shows for
// seed 42 in the default box with the default key: a client holding one
// resumes on any instance, of this version or the next, only while the
// token's format and MAC stay as they are.
func TestTokenContract(t *testing.T) {
	signer := newTokenSigner(newTokenKey([]byte(DefaultResumeKey)), simulation.DefaultConfig())
	for _, tt := range []struct {
		pos  simulation.Position
		want string
	}{
		{simulation.Position{Seq: 0, X: 367, Y: 371}, "0.367.371.42.bad20e9c3b1e1ebd"},
		{simulation.Position{Seq: 1, X: 367, Y: 375}, "1.367.375.42.89a165066b6e30c6"},
	} {
		if got := string(signer.appendToken(nil, 42, tt.pos)); got != tt.want {
			t.Errorf("token of seed 42 at %+v = %q; want %q", tt.pos, got, tt.want)
		}
		seed, pos, ok := signer.parse(tt.want)
		if !ok || seed != 42 || pos != tt.pos {
			t.Errorf("parse(%q) = %d, %+v, %v; want 42, %+v, true", tt.want, seed, pos, ok, tt.pos)
		}
	}
}
