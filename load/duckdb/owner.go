package duckdb

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
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

// LockError is a warehouse another process holds. It matches ErrLocked.
type LockError struct {
	Path    string
	PID     int    // as DuckDB reports it; 0 when it did not
	Holder  string // the syncd command holding the file, e.g. "syncd run"; "" when unknown
	Program string // the holder's executable name, as DuckDB reports it
}

func (e *LockError) Error() string { return e.InUse() + ": " + e.advice() }

func (e *LockError) Unwrap() error { return ErrLocked }

// InUse says who holds the warehouse, without what to do about it.
func (e *LockError) InUse() string {
	who := "another process"
	switch {
	case e.Holder != "":
		who = "`" + e.Holder + "`"
	case e.Program != "":
		who += ", " + e.Program
	}
	if e.PID > 0 {
		who += " (PID " + strconv.Itoa(e.PID) + ")"
	}
	return fmt.Sprintf("the warehouse %s is in use by %s", e.Path, who)
}

func (e *LockError) advice() string {
	switch {
	case e.Holder == "syncd run":
		return "stop it, or query through it with `syncd query`"
	case e.Holder != "":
		return "wait for it to finish, or stop it"
	}
	return "stop it or wait for it to finish (a DuckDB file being written is open in one process at a time)"
}

// DuckDB says "Conflicting lock is held in /usr/bin/syncd (PID 1234)",
// "... held in PID 1234" when it cannot read the executable, and may add
// " by user NAME".
var lockHolder = regexp.MustCompile(`held in (?:(.+?) )?\(?PID (\d+)\)?`)

func lockError(path, msg string) *LockError {
	e := &LockError{Path: path}
	if m := lockHolder.FindStringSubmatch(msg); m != nil {
		e.PID, _ = strconv.Atoi(m[2])
		if m[1] != "" {
			e.Program = filepath.Base(strings.TrimSpace(m[1]))
		}
	}
	e.Holder = readOwnerFile(path, e.PID)
	return e
}
