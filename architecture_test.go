package main

import (
	"bufio"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// module is this module's path, which go list prints before each package.
const module = "github.com/sse-demo/movingobject"

// importRules reads the import rules of docs/architecture.md: for each
// package (relative to the module, "." for the root), the packages of the
// module and the modules beyond the standard library it may import.
func importRules(tb testing.TB) (own, beyond map[string][]string) {
	tb.Helper()
	f, err := os.Open("docs/architecture.md")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	own, beyond = map[string][]string{}, map[string][]string{}
	in := false
	cells := func(s string) []string {
		var out []string
		for c := range strings.SplitSeq(s, ",") {
			if c = strings.Trim(strings.TrimSpace(c), "`"); c != "" {
				out = append(out, c)
			}
		}
		return out
	}
	for sc := bufio.NewScanner(f); sc.Scan(); {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "<!-- import rules"):
			in = true
		case strings.HasPrefix(line, "<!-- end of import rules"):
			in = false
		case in && strings.HasPrefix(line, "| `"):
			row := strings.Split(strings.Trim(line, "|"), "|")
			if len(row) != 3 {
				tb.Fatalf("docs/architecture.md: row %q; want three cells", line)
			}
			pkg := strings.Trim(strings.TrimSpace(row[0]), "`")
			own[pkg], beyond[pkg] = cells(row[1]), cells(row[2])
		}
	}
	if len(own) == 0 {
		tb.Fatal("docs/architecture.md: no import rules found")
	}
	return own, beyond
}

// goList runs go list with args and returns its lines.
func goList(tb testing.TB, args ...string) []string {
	tb.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).Output()
	if err != nil {
		tb.Fatalf("go list %s: %v", strings.Join(args, " "), err)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// TestImportRules holds every package of the module to the import rules
// of docs/architecture.md, and the load generator to linking neither echo
// nor Prometheus (it measures servers; it must not carry one).
func TestImportRules(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to list the packages")
	}
	own, beyond := importRules(t)
	for _, line := range goList(t, "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./...") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(strings.TrimPrefix(fields[0], module), "/")
		if pkg == "" {
			pkg = "."
		}
		if pkg == "e2e" { // tests only
			continue
		}
		allowOwn, ok := own[pkg]
		if !ok {
			t.Errorf("package %s has no row in docs/architecture.md's import rules", pkg)
			continue
		}
		for _, imp := range fields[1:] {
			switch {
			case imp == module || strings.HasPrefix(imp, module+"/"):
				if p := strings.TrimPrefix(imp, module+"/"); !slices.Contains(allowOwn, p) {
					t.Errorf("%s imports %s; docs/architecture.md allows it only %q", pkg, p, allowOwn)
				}
			case strings.Contains(strings.SplitN(imp, "/", 2)[0], "."): // beyond the standard library
				if !slices.ContainsFunc(beyond[pkg], func(m string) bool { return imp == m || strings.HasPrefix(imp, m+"/") }) {
					t.Errorf("%s imports %s; docs/architecture.md allows it only %q beyond the standard library", pkg, imp, beyond[pkg])
				}
			}
		}
	}
	for _, dep := range goList(t, "-deps", "./cmd/sseload") {
		if strings.HasPrefix(dep, "github.com/labstack/echo") || strings.HasPrefix(dep, "github.com/prometheus/") {
			t.Errorf("cmd/sseload links %s; want neither echo nor Prometheus", dep)
		}
	}
}

// packageDirs returns the directory of every package of the module,
// relative to the module's root, each with a slash at its end.
func packageDirs(tb testing.TB) []string {
	tb.Helper()
	var dirs []string
	for _, pkg := range goList(tb, "./...") {
		if dir := strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/"); dir != "" {
			dirs = append(dirs, dir+"/")
		}
	}
	return dirs
}

// treeDirs reads the picture of the tree in docs/architecture.md: the
// text block after "## The floors". A line's first column names folders
// (and files); an indented one is inside the last folder of the line
// above that was not indented.
func treeDirs(tb testing.TB) map[string]bool {
	tb.Helper()
	b, err := os.ReadFile("docs/architecture.md")
	if err != nil {
		tb.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(b), "## The floors")
	_, rest, _ = strings.Cut(rest, "```text\n")
	block, _, _ := strings.Cut(rest, "```")
	dirs, parent := map[string]bool{}, ""
	for line := range strings.Lines(block) {
		indented := strings.HasPrefix(line, " ")
		first, _, _ := strings.Cut(strings.TrimSpace(line), "   ") // the names end where the description starts
		for name := range strings.SplitSeq(first, ",") {
			if name = strings.TrimSpace(name); !strings.HasSuffix(name, "/") {
				continue
			}
			if indented {
				name = parent + name
			} else {
				parent = name
			}
			dirs[name] = true
		}
	}
	return dirs
}

// TestLayoutDocumented checks that the picture of the tree in
// docs/architecture.md and the README's layout table both name every
// package of the module, so that neither falls behind the tree.
func TestLayoutDocumented(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to list the packages")
	}
	tree := treeDirs(t)
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	layout := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| (`[^|]+`) \\|").FindAllStringSubmatch(string(readme), -1) {
		for _, p := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(m[1], -1) {
			layout[p[1]] = true
		}
	}
	for _, dir := range packageDirs(t) {
		if !tree[dir] {
			t.Errorf("package %s is not in the picture of the tree in docs/architecture.md", dir)
		}
		if !layout[dir] {
			t.Errorf("package %s has no row in the layout table of README.md", dir)
		}
	}
}

// maxPackageLines is the most lines of non-test, non-generated Go that a
// package may hold: past it, it has more than one job.
const maxPackageLines = 1000

// TestPackageSize holds every package to maxPackageLines, counting the
// files of every system (a package's Linux and portable paths both).
func TestPackageSize(t *testing.T) {
	for _, line := range goList(t, "-f", "{{.Dir}} {{join .GoFiles \",\"}},{{join .IgnoredGoFiles \",\"}}", "./...") {
		dir, files, _ := strings.Cut(line, " ")
		n := 0
		for f := range strings.SplitSeq(files, ",") {
			if f == "" || strings.HasSuffix(f, "_templ.go") || strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(dir + "/" + f)
			if err != nil {
				t.Fatal(err)
			}
			n += strings.Count(string(b), "\n")
		}
		if n > maxPackageLines {
			t.Errorf("%s: %d lines of Go besides tests and generated code; want at most %d", dir, n, maxPackageLines)
		}
	}
}
