package powercut

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestCut checks the model of the disk against each way a file can
// stand at the cut: what was fsynced stays, what was not is gone.
func TestCut(t *testing.T) {
	d := New(t)
	path := func(name string) string { return filepath.Join(d.Dir, name) }
	write := func(name, data string, flag int) *os.File {
		t.Helper()
		f, err := os.OpenFile(path(name), os.O_WRONLY|os.O_CREATE|flag, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString(data); err != nil {
			t.Fatal(err)
		}
		return f
	}
	sync := func(f *os.File) {
		t.Helper()
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(path("sub"), 0o700); err != nil {
		t.Fatal(err)
	}

	// synced: written and fsynced, then more written and not fsynced.
	f := write("synced", "kept", 0)
	sync(f)
	if _, err := f.WriteString(" lost"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// never synced: created and written, never fsynced.
	write("never", "lost", 0).Close()
	// sub/osync: opened with O_SYNC, each write is on the disk.
	write("sub/osync", "kept", os.O_SYNC).Close()
	// renamed: fsynced under a temporary name, then renamed.
	f = write("renamed.tmp", "kept", 0)
	sync(f)
	f.Close()
	if err := os.Rename(path("renamed.tmp"), path("renamed")); err != nil {
		t.Fatal(err)
	}
	// unsynced rename: a file never fsynced renamed over one that was.
	f = write("replaced", "old", 0)
	sync(f)
	f.Close()
	write("replaced.tmp", "new", 0).Close()
	if err := os.Rename(path("replaced.tmp"), path("replaced")); err != nil {
		t.Fatal(err)
	}
	// removed: fsynced, then unlinked.
	f = write("removed", "gone", 0)
	sync(f)
	f.Close()
	if err := os.Remove(path("removed")); err != nil {
		t.Fatal(err)
	}

	// Before the cut, the folder reads as the program wrote it.
	for name, want := range map[string]string{"synced": "kept lost", "never": "lost", "replaced": "new"} {
		if got, err := os.ReadFile(path(name)); err != nil || string(got) != want {
			t.Errorf("before the cut, %s = %q, %v; want %q", name, got, err, want)
		}
	}
	if got := d.Syncs(); got < 4 {
		t.Errorf("Syncs() = %d before the cut; want at least 4 (three fsyncs, one O_SYNC write)", got)
	}

	d.Cut(t)

	for _, tt := range []struct {
		name string
		want string // "" for a file that must not exist
	}{
		{"synced", "kept"},
		{"never", ""},
		{"sub/osync", "kept"},
		{"renamed", "kept"},
		{"renamed.tmp", ""},
		{"replaced", "old"},
		{"replaced.tmp", ""},
		{"removed", ""},
	} {
		got, err := os.ReadFile(path(tt.name))
		switch {
		case tt.want == "" && !errors.Is(err, fs.ErrNotExist):
			t.Errorf("after the cut, %s = %q, %v; want no such file", tt.name, got, err)
		case tt.want != "" && (err != nil || string(got) != tt.want):
			t.Errorf("after the cut, %s = %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}

	// The folder works after the cut, and a second cut keeps what the
	// first kept.
	f = write("after", "kept", 0)
	sync(f)
	f.Close()
	d.Cut(t)
	for _, name := range []string{"synced", "after"} {
		if got, err := os.ReadFile(path(name)); err != nil || string(got) != "kept" {
			t.Errorf("after the second cut, %s = %q, %v; want %q", name, got, err, "kept")
		}
	}
}
