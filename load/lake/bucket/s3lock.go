package bucket

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
)

// lockKey is the S3 lock object, beside Dir's lock file of the same name.
const lockKey = "_syncd/lock"

// A holder refreshes its heartbeat every lockHeartbeat; one silent for
// lockStale (three missed beats) is taken for dead. S3 cannot tell us a
// process died the way a kernel drops a flock, so time has to.
const (
	lockHeartbeat = 30 * time.Second
	lockStale     = 90 * time.Second
)

// lockTiming is lockHeartbeat and lockStale, which tests shorten.
type lockTiming struct{ heartbeat, stale time.Duration }

// s3Lock is the body of the lock object.
type s3Lock struct {
	Holder    string    `json:"holder"`
	Host      string    `json:"host"`
	PID       int       `json:"pid"`
	Since     time.Time `json:"since"`
	Heartbeat time.Time `json:"heartbeat"`
	// Machine is the kernel's boot ID and PID namespace (Linux only):
	// two holders with the same Host and Machine see each other's PIDs,
	// so a dead PID there is a dead writer, without waiting for lockStale.
	// The host name alone is not enough: containers restarted or
	// cloned keep theirs.
	Machine string `json:"machine,omitempty"`
	// Start is the process's start time (clock ticks since boot), which
	// tells the holder from a later process given the same PID: a
	// restarted container's syncd is PID 1 again.
	Start string `json:"start,omitempty"`
	// Token is this Lock call's own: release deletes the object only
	// while it still holds this token.
	Token string `json:"token"`
}

// Lock takes the lock object _syncd/lock. It is free when absent, when
// its holder was a process on this machine that is gone (a writer that
// was killed), or when its heartbeat is older than 90 s (a writer on
// another host that died, or lost the network that long). Holders
// refresh the heartbeat every 30 s until release.
//
// Two starters cannot both win: the object is created with If-None-Match
// "*" and taken over with If-Match on the ETag that was judged dead, so
// the second write fails at the server; the lock is then read back to be
// sure. A server that ignores those conditions (S3 before late 2024,
// some S3 look-alikes) still lets two starters race: both write, and if
// each reads its own write back before the other writes, both proceed.
// The read-back narrows that window to one round trip; it cannot close
// it.
//
// Hosts must agree on the time to within a minute or so: a heartbeat is
// judged by the reader's clock. A writer cut off from S3 for longer than
// 90 s can be taken over while it still runs; its release then returns
// an error saying the lock was lost.
func (s *S3) Lock(ctx context.Context, holder string) (func() error, error) {
	host, _ := os.Hostname()
	token, err := randomToken()
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", s, err)
	}
	me := s3Lock{Holder: holder, Host: host, PID: os.Getpid(), Machine: machineID(), Start: procStart(os.Getpid()), Token: token}
	for range 4 {
		b, etag, err := s.get(ctx, lockKey)
		var cond func(*minio.PutObjectOptions)
		switch {
		case errors.Is(err, ErrNotExist):
			cond = func(o *minio.PutObjectOptions) { o.SetMatchETagExcept("*") }
		case err != nil:
			return nil, fmt.Errorf("lock %s: %w", s, err)
		default:
			var cur s3Lock
			_ = json.Unmarshal(b, &cur) // unreadable: no heartbeat, so stale
			if !s.mayTakeOver(cur, me, time.Now()) {
				return nil, &LockedError{Where: s.String(), Holder: cur.Holder, Host: cur.Host, PID: cur.PID, Since: cur.Since}
			}
			cond = func(o *minio.PutObjectOptions) { o.SetMatchETag(etag) }
		}
		now := time.Now().UTC()
		me.Since, me.Heartbeat = now, now
		err = s.putLock(ctx, me, cond)
		if isPreconditionFailed(err) {
			continue // another starter wrote first: read again and judge it
		}
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", s, err)
		}
		b, _, err = s.get(ctx, lockKey)
		if errors.Is(err, ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("lock %s: reading the lock back: %w", s, err)
		}
		var got s3Lock
		if json.Unmarshal(b, &got) != nil || got.Token != me.Token {
			continue // overwritten by a rival the server did not stop
		}
		return s.hold(me), nil
	}
	return nil, fmt.Errorf("lock %s: the lock object %s kept changing while taking it; try again", s, lockKey)
}

// mayTakeOver judges the lock cur, read at now, for the process me.
func (s *S3) mayTakeOver(cur, me s3Lock, now time.Time) bool {
	sameMachine := cur.Host == me.Host && (cur.Machine == "" || me.Machine == "" || cur.Machine == me.Machine)
	if sameMachine && cur.PID > 0 {
		if cur.PID == me.PID && (cur.Start == "" || cur.Start == me.Start) {
			// This very process holds it: a second writer in one
			// process is refused, as Dir's flock refuses it, however
			// old the heartbeat.
			return false
		}
		if !pidAlive(cur.PID) {
			return true
		}
		if cur.Start != "" && cur.Machine != "" && cur.Machine == me.Machine {
			if st := procStart(cur.PID); st != "" && st != cur.Start {
				return true // the PID now belongs to another process
			}
		}
	}
	return now.Sub(cur.Heartbeat) > s.lock.stale
}

// putLock writes the lock object under cond. A server that rejects the
// conditional headers outright (rather than ignoring them) gets the
// plain write, and the caller's read-back is all that guards the race.
func (s *S3) putLock(ctx context.Context, l s3Lock, cond func(*minio.PutObjectOptions)) error {
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	var opts minio.PutObjectOptions
	opts.ContentType = "application/json"
	cond(&opts)
	err = s.put(ctx, lockKey, strings.NewReader(string(b)), int64(len(b)), opts)
	if resp := minio.ToErrorResponse(err); resp.Code == "NotImplemented" || resp.StatusCode == 501 {
		err = s.put(ctx, lockKey, strings.NewReader(string(b)), int64(len(b)), minio.PutObjectOptions{ContentType: "application/json"})
	}
	return err
}

func isPreconditionFailed(err error) bool {
	resp := minio.ToErrorResponse(err)
	// 409 ConditionalRequestConflict: AWS's answer to two conditional
	// writes of one key at the same moment.
	return resp.Code == "PreconditionFailed" || resp.StatusCode == 412 || resp.Code == "ConditionalRequestConflict"
}

// s3Held is a taken lock: its heartbeat, and what release needs.
type s3Held struct {
	s      *S3
	me     s3Lock
	cancel context.CancelFunc
	done   chan struct{}

	mu   sync.Mutex
	lost error // set by the heartbeat when the lock is no longer ours

	once sync.Once
	err  error
}

func (s *S3) hold(me s3Lock) func() error {
	ctx, cancel := context.WithCancel(context.Background())
	h := &s3Held{s: s, me: me, cancel: cancel, done: make(chan struct{})}
	go h.beat(ctx)
	return func() error {
		h.once.Do(func() { h.err = h.release() })
		return h.err
	}
}

func (h *s3Held) beat(ctx context.Context) {
	defer close(h.done)
	t := time.NewTicker(h.s.lock.heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := h.refresh(ctx); err != nil {
			h.mu.Lock()
			h.lost = err
			h.mu.Unlock()
			return
		}
	}
}

// refresh rewrites the heartbeat if the lock is still ours. It returns
// an error only when it is not: a failed request is retried at the next
// beat, and three in a row let another writer take over.
func (h *s3Held) refresh(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, h.s.lock.heartbeat)
	defer cancel()
	b, etag, err := h.s.get(ctx, lockKey)
	if errors.Is(err, ErrNotExist) {
		return errors.New("the lock object was deleted")
	}
	if err != nil {
		return nil
	}
	var cur s3Lock
	if json.Unmarshal(b, &cur) != nil || cur.Token != h.me.Token {
		return fmt.Errorf("taken over by %s", describe(cur))
	}
	h.me.Heartbeat = time.Now().UTC()
	// A failed write, a rival's included, shows at the next read.
	_ = h.s.putLock(ctx, h.me, func(o *minio.PutObjectOptions) { o.SetMatchETag(etag) })
	return nil
}

func describe(l s3Lock) string {
	who := "another writer"
	if l.Holder != "" {
		who = "`" + l.Holder + "`"
	}
	if l.PID > 0 {
		who += " (PID " + strconv.Itoa(l.PID) + " on " + l.Host + ")"
	}
	return who
}

// release stops the heartbeat and deletes the lock object if it is
// still ours; one taken over is left to its new holder, and the error
// says the lake may have had two writers.
func (h *s3Held) release() error {
	h.cancel()
	<-h.done
	h.mu.Lock()
	lost := h.lost
	h.mu.Unlock()
	where := h.s.String()
	if lost != nil {
		return fmt.Errorf("unlock %s: the lock was lost while held (%w); another writer may have written the lake meanwhile", where, lost)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, _, err := h.s.get(ctx, lockKey)
	if errors.Is(err, ErrNotExist) {
		return fmt.Errorf("unlock %s: the lock object was deleted while held; another writer may have written the lake meanwhile", where)
	}
	if err != nil {
		return fmt.Errorf("unlock %s: %w", where, err)
	}
	var cur s3Lock
	if json.Unmarshal(b, &cur) != nil || cur.Token != h.me.Token {
		return fmt.Errorf("unlock %s: the lock was taken over by %s while held; another writer may have written the lake meanwhile", where, describe(cur))
	}
	// Between that read and this delete only a writer that judged our
	// heartbeat stale could take over, and it was just refreshed.
	if err := h.s.client.RemoveObject(ctx, h.s.bucket, h.s.full(lockKey), minio.RemoveObjectOptions{}); err != nil && !isNoSuchKey(err) {
		return fmt.Errorf("unlock %s: %w", where, err)
	}
	return nil
}

func randomToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// pidAlive asks the kernel: ESRCH means no such process. EPERM (another
// user's process) is alive.
func pidAlive(pid int) bool {
	return !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// machineID is the boot ID and PID namespace, "" where /proc has neither.
func machineID() string {
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	ns, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(boot)) + "/" + ns
}

// procStart is field 22 of /proc/PID/stat, "" where there is none.
func procStart(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return ""
	}
	return f[19] // fields 3.. follow the name: 22 is the 20th
}
