package e2e

// nginx in front of the program, with docs/operations.md's config: the
// setup of its "Three instances, a three-node NATS cluster, nginx", run
// for real.

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sse-demo/movingobject/internal/apptest"
)

// nginxConfFile is the config of docs/operations.md's nginx section, the
// one file that docs/operations.md shows and that startNginx runs nginx
// with (TestNginxConf holds docs/operations.md to it).
const nginxConfFile = "../testdata/nginx/movingobject.conf"

// nginxMain is the main config that startNginx writes around
// docs/operations.md's (%s: a user directive, when nginx starts as
// root). Every file that nginx writes is in its prefix directory (-p),
// and its log goes to stderr.
const nginxMain = `%s
worker_processes 1;
pid nginx.pid;
error_log stderr notice;

events {
    worker_connections 1024;
}

http {
    access_log access.log;
    client_body_temp_path client_body_temp;
    proxy_temp_path proxy_temp;
    fastcgi_temp_path fastcgi_temp;
    uwsgi_temp_path uwsgi_temp;
    scgi_temp_path scgi_temp;
    include movingobject.conf;
}
`

// nginxPath returns the path of nginx. Without one the test skips on a
// developer's machine and fails in CI, as the browser tests do without
// Chromium.
func nginxPath(tb testing.TB) string {
	tb.Helper()
	if path, err := exec.LookPath("nginx"); err == nil {
		return path
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil { // not on a user's PATH on Debian
		return "/usr/sbin/nginx"
	}
	const msg = "no nginx found (on PATH or /usr/sbin/nginx): install it, e.g. apt-get install nginx-light"
	if os.Getenv("CI") != "" {
		tb.Fatal(msg)
	}
	tb.Skip(msg + "; skipping the test behind nginx")
	return ""
}

// nginxConf returns docs/operations.md's config (conf, from
// nginxConfFile) with its listen address and its upstream servers,
// 127.0.0.1:8081 to 8083, replaced by listen and upstreams; it fails if
// conf names them other than once each.
func nginxConf(conf, listen string, upstreams []string) (string, error) {
	subst := map[string]string{"listen 80;": "listen " + listen + ";"}
	for i, u := range upstreams {
		subst[fmt.Sprintf("server 127.0.0.1:%d;", 8081+i)] = "server " + u + ";"
	}
	for old, repl := range subst {
		if n := strings.Count(conf, old); n != 1 {
			return "", fmt.Errorf("%s: %q %d times; want once", nginxConfFile, old, n)
		}
		conf = strings.Replace(conf, old, repl, 1)
	}
	return conf, nil
}

// startNginx runs nginx with docs/operations.md's config, in front of
// upstreams, on a port of 127.0.0.1, until the test ends. Its server's
// url is nginx's, and its log nginx's error log.
func startNginx(tb testing.TB, nginx string, upstreams []*apptest.Program) *apptest.Program {
	tb.Helper()
	file, err := os.ReadFile(nginxConfFile)
	if err != nil {
		tb.Fatal(err)
	}
	hosts := make([]string, len(upstreams))
	for i, s := range upstreams {
		hosts[i] = s.Host()
	}
	// nginx takes its listening socket from the test, already bound to a
	// port of its own, through the NGINX variable it reads at start for a
	// binary upgrade: no port is picked in advance and hoped free.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	sock, err := ln.(*net.TCPListener).File()
	ln.Close() // sock holds the socket
	if err != nil {
		tb.Fatal(err)
	}
	defer sock.Close() // nginx has its own once it has started
	listen := ln.Addr().String()
	conf, err := nginxConf(string(file), listen, hosts)
	if err != nil {
		tb.Fatal(err)
	}
	user := ""
	if os.Geteuid() == 0 { // its workers would run as nobody, who cannot enter the test's directories
		user = "user root;"
	}
	dir := tb.TempDir()
	for name, text := range map[string]string{"nginx.conf": fmt.Sprintf(nginxMain, user), "movingobject.conf": conf} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	cmd := exec.Command(nginx, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", "stderr", "-g", "daemon off;")
	cmd.ExtraFiles = []*os.File{sock} // descriptor 3
	cmd.Env = append(os.Environ(), "NGINX=3;")
	s := apptest.StartProcess(tb, cmd)
	// nginx listens before it starts its workers, and says when it does.
	line := s.Log.WaitText(tb, "nginx starting its workers, or failing", func(l string) bool {
		return strings.Contains(l, "start worker process") || strings.Contains(l, "[emerg]")
	})
	if strings.Contains(line, "[emerg]") {
		tb.Fatalf("nginx: %s", line)
	}
	s.URL = "http://" + listen
	return s
}

// TestNginxConf: docs/operations.md shows the config that the tests run
// nginx with, and the tests can point it at their servers, or say why not.
func TestNginxConf(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(nginxConfFile)
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	doc, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "```nginx\n"+conf+"```\n") {
		t.Errorf("docs/operations.md has no nginx block equal to %s: make them the same", nginxConfFile)
	}
	for _, tt := range []struct {
		name    string
		conf    string
		wantErr bool
	}{
		{"the documented one", conf, false},
		{"another listen", strings.Replace(conf, "listen 80;", "listen 8080;", 1), true},
		{"one upstream twice", strings.Replace(conf, "127.0.0.1:8082", "127.0.0.1:8081", 1), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := nginxConf(tt.conf, "127.0.0.1:9000", []string{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"})
			if (err != nil) != tt.wantErr {
				t.Fatalf("nginxConf() error %v; want an error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			for _, want := range []string{"listen 127.0.0.1:9000;", "server 127.0.0.1:1;", "server 127.0.0.1:2;", "server 127.0.0.1:3;"} {
				if !strings.Contains(got, want) {
					t.Errorf("nginxConf() has no %q", want)
				}
			}
		})
	}
}
