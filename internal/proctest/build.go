//go:build unix

package proctest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// NoRaceEnv is the environment variable that, set to 1, makes Build compile
// without -race (for machines without cgo).
const NoRaceEnv = "PROCTEST_NORACE"

// built is one Build result, shared by every test asking for the same
// package and arguments. done is closed once bin or err is set.
type built struct {
	done chan struct{}
	bin  string
	err  error
}

var (
	buildMu sync.Mutex
	builds  = map[string]*built{} // key: package and build args
	binDir  string                // created by the first Build, removed by Exit
)

// Build compiles pkg with go build and returns the path of the binary. pkg
// is an import path of this module ("github.com/lastcall-go/lastcall/examples/killdemo")
// or a path relative to the module root ("./examples/killdemo"); extraArgs
// are passed to go build before pkg. The module root is the nearest
// directory holding a go.mod, walking up from the working directory.
//
// Each (pkg, extraArgs) is built once per test process; concurrent callers
// wait for the same build. Build fails t if the build fails. It may be
// called from any goroutine running a test.
func Build(t testing.TB, pkg string, extraArgs ...string) string {
	t.Helper()
	key := strings.Join(append([]string{pkg}, extraArgs...), "\x00")

	buildMu.Lock()
	b, ok := builds[key]
	if !ok {
		b = &built{done: make(chan struct{})}
		builds[key] = b
	}
	n := len(builds)
	buildMu.Unlock()

	if !ok {
		b.bin, b.err = build(pkg, extraArgs, n)
		close(b.done)
	}
	<-b.done
	if b.err != nil {
		t.Fatalf("proctest: %v", b.err)
	}
	return b.bin
}

// build runs go build; n keeps binaries of one package built with different
// arguments apart.
func build(pkg string, extraArgs []string, n int) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	dir, err := buildDir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, fmt.Sprintf("%s-%d", path.Base(pkg), n))

	args := []string{"build"}
	if os.Getenv(NoRaceEnv) != "1" {
		args = append(args, "-race")
	}
	args = append(args, "-o", bin)
	args = append(args, extraArgs...)
	args = append(args, pkg)
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	spawning.RLock()
	err = cmd.Start()
	spawning.RUnlock()
	if err == nil {
		err = cmd.Wait()
	}
	if err != nil {
		return "", fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out.Bytes())
	}
	return bin, nil
}

func buildDir() (string, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	if binDir == "" {
		dir, err := os.MkdirTemp("", "proctest-")
		if err != nil {
			return "", err
		}
		binDir = dir
	}
	return binDir, nil
}

// moduleRoot returns the nearest directory, from the working directory up,
// that holds a go.mod with a module line.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && hasModuleLine(data) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod found above the working directory")
		}
		dir = parent
	}
}

func hasModuleLine(gomod []byte) bool {
	sc := bufio.NewScanner(bytes.NewReader(gomod))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "module" {
			return true
		}
	}
	return false
}

// Exit removes the binaries Build made and exits with code. It is meant for
// TestMain, after the tests and leak checks: pass it to goleak.Cleanup, or
// call it with the result of m.Run.
func Exit(code int) {
	buildMu.Lock()
	dir := binDir
	buildMu.Unlock()
	if dir != "" {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}
