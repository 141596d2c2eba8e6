package duckdb

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/syncd/syncd/load"
)

// Owner makes a writable Open record who holds the file, e.g. "syncd run",
// in <path>.owner (mode 0600, removed by Close). DuckDB's lock error only
// knows the holder's PID and executable; with this a process refused by
// the lock can say which command holds the file and so what to do.
func Owner(command string) Option { return func(o *options) { o.owner = command } }

// ownerRecord is the content of an owner file.
type ownerRecord struct {
	PID       int       `json:"pid"`
	Command   string    `json:"command"`
	StartedAt time.Time `json:"started_at"`
}

// writeOwnerFile writes path's owner file and returns its name, or "" when
// it could not be written: it only improves a message, so a read-only
// directory or a full disk must not stop a sync.
func writeOwnerFile(path, command string) string {
	b, err := json.Marshal(ownerRecord{PID: os.Getpid(), Command: command, StartedAt: time.Now().UTC()})
	if err != nil {
		return ""
	}
	name := path + ".owner"
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(name)+".*")
	if err != nil {
		return ""
	}
	_, werr := tmp.Write(b)
	cerr := tmp.Close()
	if werr != nil || cerr != nil || os.Chmod(tmp.Name(), 0o600) != nil || os.Rename(tmp.Name(), name) != nil {
		_ = os.Remove(tmp.Name())
		return ""
	}
	return name
}

// readOwnerFile returns the command recorded for path when the record's
// PID is pid: a file left by a killed process (or by a holder DuckDB does
// not report) names nobody.
func readOwnerFile(path string, pid int) string {
	b, err := os.ReadFile(path + ".owner")
	if err != nil || pid <= 0 {
		return ""
	}
	var rec ownerRecord
	if json.Unmarshal(b, &rec) != nil || rec.PID != pid {
		return ""
	}
	return rec.Command
}

// DuckDB says "Conflicting lock is held in /usr/bin/syncd (PID 1234)",
// "... held in PID 1234" when it cannot read the executable, and may add
// " by user NAME".
var lockHolder = regexp.MustCompile(`held in (?:(.+?) )?\(?PID (\d+)\)?`)

func lockError(path, msg string) *load.LockError {
	e := &load.LockError{Path: path}
	if m := lockHolder.FindStringSubmatch(msg); m != nil {
		e.PID, _ = strconv.Atoi(m[2])
		if m[1] != "" {
			e.Program = filepath.Base(strings.TrimSpace(m[1]))
		}
	}
	e.Holder = readOwnerFile(path, e.PID)
	return e
}
