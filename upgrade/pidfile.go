package upgrade

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// writePIDFile writes pid and a newline to path atomically: to a
// temporary file in the same directory, renamed over path, so that a
// reader sees the old content or the new one, never a part.
func writePIDFile(path string, pid int) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.WriteString(strconv.Itoa(pid) + "\n"); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// readPIDFile returns the process ID that path holds.
func readPIDFile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}
