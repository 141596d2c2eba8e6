package bucket_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/syncd/syncd/internal/s3test"
	"github.com/syncd/syncd/load/lake/bucket"
)

// kind is one implementation of Bucket under the contract tests.
type kind struct {
	name string
	open func(t *testing.T) bucket.Bucket
}

// kinds are Dir, and S3 with and without a prefix (keys are relative to
// it either way). Each test gets a fresh bucket: an S3 kind its own
// server, which takes some tens of milliseconds.
func kinds() []kind {
	return []kind{
		{"dir", func(t *testing.T) bucket.Bucket {
			d, err := bucket.OpenDir(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return d
		}},
		{"s3", func(t *testing.T) bucket.Bucket { return openS3(t, s3test.Start(t), "lake/one") }},
		{"s3root", func(t *testing.T) bucket.Bucket { return openS3(t, s3test.Start(t), "") }},
	}
}

func openS3(t *testing.T, srv *s3test.Server, prefix string) *bucket.S3 {
	t.Helper()
	srv.Setenv(t)
	t.Setenv("BUCKET_TEST_ENDPOINT", srv.Endpoint)
	url := "s3://" + srv.Bucket
	if prefix != "" {
		url += "/" + prefix
	}
	b, err := bucket.OpenS3(context.Background(), url, s3Config(srv))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	})
	return b
}

func s3Config(srv *s3test.Server) bucket.S3Config {
	return bucket.S3Config{Endpoint: srv.Endpoint, Region: srv.Region, PathStyle: true}
}

// each runs the contract test f against every kind.
func each(t *testing.T, f func(t *testing.T, b bucket.Bucket)) {
	for _, k := range kinds() {
		t.Run(k.name, func(t *testing.T) { f(t, k.open(t)) })
	}
}

// scratchFile writes content to a new file in the bucket's scratch
// directory, as the lake stages a file before Put.
func scratchFile(t *testing.T, b bucket.Bucket, content string) string {
	t.Helper()
	f, err := os.CreateTemp(b.Scratch(), "*.partial")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}

func mustGet(t *testing.T, b bucket.Bucket, key string) string {
	t.Helper()
	got, err := b.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get %s: %v", key, err)
	}
	return string(got)
}

func mustPutBytes(t *testing.T, b bucket.Bucket, key, content string) {
	t.Helper()
	if err := b.PutBytes(context.Background(), key, []byte(content)); err != nil {
		t.Fatalf("PutBytes %s: %v", key, err)
	}
}

func keys(t *testing.T, b bucket.Bucket, prefix string) []string {
	t.Helper()
	objs, err := b.List(context.Background(), prefix)
	if err != nil {
		t.Fatalf("List %q: %v", prefix, err)
	}
	var out []string
	for _, o := range objs {
		out = append(out, o.Key)
	}
	return out
}

func gone(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s still exists (stat: %v)", path, err)
	}
}

func TestPutGetRoundTrip(t *testing.T) {
	each(t, func(t *testing.T, b bucket.Bucket) {
		ctx := context.Background()
		src := scratchFile(t, b, "parquet bytes")
		if err := b.Put(ctx, "t/data.parquet", src); err != nil {
			t.Fatal(err)
		}
		gone(t, src)
		if got := mustGet(t, b, "t/data.parquet"); got != "parquet bytes" {
			t.Errorf("Get after Put = %q", got)
		}
		mustPutBytes(t, b, "_syncd/state.json", `{"v":1}`)
		if got := mustGet(t, b, "_syncd/state.json"); got != `{"v":1}` {
			t.Errorf("Get after PutBytes = %q", got)
		}
		mustPutBytes(t, b, "_syncd/state.json", `{"v":2}`)
		if got := mustGet(t, b, "_syncd/state.json"); got != `{"v":2}` {
			t.Errorf("Get after replacing PutBytes = %q", got)
		}
		mustPutBytes(t, b, "empty", "")
		if got := mustGet(t, b, "empty"); got != "" {
			t.Errorf("Get of an empty object = %q", got)
		}
		// A file from outside the scratch directory is taken too.
		outside := filepath.Join(t.TempDir(), "x")
		if err := os.WriteFile(outside, []byte("outside"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := b.Put(ctx, "outside", outside); err != nil {
			// Dir's Put is a rename, which needs the same file system.
			t.Logf("Put from another directory: %v", err)
		} else if got := mustGet(t, b, "outside"); got != "outside" {
			t.Errorf("Get = %q", got)
		}
		gone(t, outside)
	})
}

func TestPutTakesSrcWhenItFails(t *testing.T) {
	each(t, func(t *testing.T, b bucket.Bucket) {
		mustPutBytes(t, b, "k", "old")

		src := scratchFile(t, b, "new")
		if err := b.Put(context.Background(), "../escape", src); err == nil {
			t.Error("Put to a key leaving the root: no error")
		}
		gone(t, src)

		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		src = scratchFile(t, b, "new")
		if err := b.Put(ctx, "k", src); err == nil {
			t.Error("Put with a cancelled context: no error")
		}
		gone(t, src)
		if err := b.PutBytes(ctx, "k", []byte("new")); err == nil {
			t.Error("PutBytes with a cancelled context: no error")
		}
		if got := mustGet(t, b, "k"); got != "old" {
			t.Errorf("after failed Puts the key holds %q, want the old object", got)
		}
	})
}

func TestMissingIsErrNotExist(t *testing.T) {
	each(t, func(t *testing.T, b bucket.Bucket) {
		ctx := context.Background()
		mustPutBytes(t, b, "a/present", "x")
		for _, key := range []string{"missing", "a/missing", "nodir/missing"} {
			_, err := b.Get(ctx, key)
			if !errors.Is(err, bucket.ErrNotExist) || !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Get %s: %v, want ErrNotExist", key, err)
			}
			f, err := b.Open(ctx, key)
			if !errors.Is(err, bucket.ErrNotExist) {
				t.Errorf("Open %s: %v, want ErrNotExist", key, err)
			}
			if f != nil {
				t.Errorf("Open %s returned a File with its error", key)
			}
		}
	})
}

func TestOpenIsASnapshot(t *testing.T) {
	each(t, func(t *testing.T, b bucket.Bucket) {
		ctx := context.Background()
		mustPutBytes(t, b, "t/data.parquet", "version one")
		f, err := b.Open(ctx, "t/data.parquet")
		if err != nil {
			t.Fatal(err)
		}
		mustPutBytes(t, b, "t/data.parquet", "version two, longer")
		if err := b.Delete(ctx, "t/other"); err != nil {
			t.Fatal(err)
		}
		if f.Size() != int64(len("version one")) {
			t.Errorf("Size = %d, want %d", f.Size(), len("version one"))
		}
		buf := make([]byte, 3)
		if _, err := f.ReadAt(buf, 8); err != nil {
			t.Fatal(err)
		}
		if string(buf) != "one" {
			t.Errorf("ReadAt(8) after the object was replaced = %q, want %q", buf, "one")
		}
		all, err := io.ReadAll(io.NewSectionReader(f, 0, f.Size()))
		if err != nil || string(all) != "version one" {
			t.Errorf("whole File = %q, %v", all, err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		// Nothing Open made is left in scratch (S3 downloads there).
		left, err := os.ReadDir(b.Scratch())
		if err != nil {
			t.Fatal(err)
		}
		if len(left) != 0 {
			t.Errorf("scratch holds %v after Close", left)
		}
		if got := mustGet(t, b, "t/data.parquet"); got != "version two, longer" {
			t.Errorf("Get = %q", got)
		}
	})
}

func TestMoveAndReplay(t *testing.T) {
	each(t, func(t *testing.T, b bucket.Bucket) {
		ctx := context.Background()
		const src, dst = "_syncd/tmp/x.parquet.partial", "t/date=2025-06-01/data.parquet"
		mustPutBytes(t, b, dst, "old")
		mustPutBytes(t, b, src, "new")
		if err := b.Move(ctx, src, dst); err != nil {
			t.Fatal(err)
		}
		if got := mustGet(t, b, dst); got != "new" {
			t.Errorf("dst after Move = %q", got)
		}
		if _, err := b.Get(ctx, src); !errors.Is(err, bucket.ErrNotExist) {
			t.Errorf("src after Move: %v, want ErrNotExist", err)
		}
		// The replay after a crash: src gone, dst there.
		if err := b.Move(ctx, src, dst); err != nil {
			t.Errorf("replayed Move: %v, want nil", err)
		}
		if got := mustGet(t, b, dst); got != "new" {
			t.Errorf("dst after replay = %q", got)
		}
		if err := b.Move(ctx, "nope/a", "nope/b"); !errors.Is(err, bucket.ErrNotExist) {
			t.Errorf("Move with both keys missing: %v, want ErrNotExist", err)
		}
	})
}

func TestDeleteMissingIsNil(t *testing.T) {
	each(t, func(t *testing.T, b bucket.Bucket) {
		ctx := context.Background()
		if err := b.Delete(ctx, "never/was"); err != nil {
			t.Errorf("Delete of a missing object: %v", err)
		}
		mustPutBytes(t, b, "a/b", "x")
		if err := b.Delete(ctx, "a/b"); err != nil {
			t.Fatal(err)
		}
		if err := b.Delete(ctx, "a/b"); err != nil {
			t.Errorf("second Delete: %v", err)
		}
		if _, err := b.Get(ctx, "a/b"); !errors.Is(err, bucket.ErrNotExist) {
			t.Errorf("Get after Delete: %v", err)
		}
		if got := keys(t, b, ""); len(got) != 0 {
			t.Errorf("List after Delete = %v", got)
		}
	})
}

func TestListPrefixesSortedAndRelative(t *testing.T) {
	each(t, func(t *testing.T, b bucket.Bucket) {
		all := []string{"a/b/c", "a/bc", "a/x", "ab", "b=1/z", "conversions/date=2025-06-01/data.parquet", "z"}
		for _, k := range slices.Backward(all) {
			mustPutBytes(t, b, k, "content of "+k)
		}
		for _, c := range []struct {
			prefix string
			want   []string
		}{
			{"", all},
			{"a/", []string{"a/b/c", "a/bc", "a/x"}},
			{"a/b", []string{"a/b/c", "a/bc"}},
			{"a/b/", []string{"a/b/c"}},
			{"a", []string{"a/b/c", "a/bc", "a/x", "ab"}},
			{"conversions/date=2025-06-01/", []string{"conversions/date=2025-06-01/data.parquet"}},
			{"nope/", nil},
			{"nope", nil},
		} {
			if got := keys(t, b, c.prefix); !slices.Equal(got, c.want) {
				t.Errorf("List(%q) = %q, want %q", c.prefix, got, c.want)
			}
		}
		objs, err := b.List(context.Background(), "a/x")
		if err != nil || len(objs) != 1 {
			t.Fatalf("List(a/x) = %v, %v", objs, err)
		}
		if o := objs[0]; o.Size != int64(len("content of a/x")) || o.Version == "" || o.Modified.IsZero() {
			t.Errorf("List(a/x) = %+v", o)
		}
	})
}

func TestVersionChangesWhenReplaced(t *testing.T) {
	each(t, func(t *testing.T, b bucket.Bucket) {
		version := func() string {
			objs, err := b.List(context.Background(), "t/")
			if err != nil || len(objs) != 1 {
				t.Fatalf("List = %v, %v", objs, err)
			}
			return objs[0].Version
		}
		mustPutBytes(t, b, "t/f", "one")
		v1 := version()
		if v1 != version() {
			t.Error("Version changed without a write")
		}
		src := scratchFile(t, b, "two, by Put")
		if err := b.Put(context.Background(), "t/f", src); err != nil {
			t.Fatal(err)
		}
		v2 := version()
		mustPutBytes(t, b, "t/f", "three by PutBytes")
		v3 := version()
		if v1 == v2 || v2 == v3 || v1 == v3 {
			t.Errorf("versions %q, %q, %q: want all different", v1, v2, v3)
		}
	})
}

func TestKeysWithEquals(t *testing.T) {
	each(t, func(t *testing.T, b bucket.Bucket) {
		ctx := context.Background()
		const key = "conversions/date=2025-06-01/part=a=b.parquet"
		src := scratchFile(t, b, "hive")
		if err := b.Put(ctx, key, src); err != nil {
			t.Fatal(err)
		}
		if got := mustGet(t, b, key); got != "hive" {
			t.Errorf("Get = %q", got)
		}
		if got := keys(t, b, "conversions/date=2025-06-01/"); !slices.Equal(got, []string{key}) {
			t.Errorf("List = %q", got)
		}
		if err := b.Move(ctx, key, "conversions/date=2025-06-02/x=1.parquet"); err != nil {
			t.Fatal(err)
		}
		if got := keys(t, b, "conversions/"); !slices.Equal(got, []string{"conversions/date=2025-06-02/x=1.parquet"}) {
			t.Errorf("List after Move = %q", got)
		}
	})
}

func TestConcurrentPuts(t *testing.T) {
	each(t, func(t *testing.T, b bucket.Bucket) {
		ctx := context.Background()
		const n = 16
		var wg sync.WaitGroup
		errs := make(chan error, 2*n)
		for i := range n {
			wg.Go(func() {
				errs <- b.PutBytes(ctx, fmt.Sprintf("c/bytes-%02d", i), []byte(strings.Repeat("b", i)))
			})
			src := scratchFile(t, b, strings.Repeat("f", i))
			wg.Go(func() { errs <- b.Put(ctx, fmt.Sprintf("c/file-%02d", i), src) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		got := keys(t, b, "c/")
		if len(got) != 2*n {
			t.Fatalf("List after %d concurrent Puts = %d keys: %q", 2*n, len(got), got)
		}
		for i := range n {
			if s := mustGet(t, b, fmt.Sprintf("c/file-%02d", i)); s != strings.Repeat("f", i) {
				t.Errorf("c/file-%02d = %q", i, s)
			}
			if s := mustGet(t, b, fmt.Sprintf("c/bytes-%02d", i)); s != strings.Repeat("b", i) {
				t.Errorf("c/bytes-%02d = %q", i, s)
			}
		}
	})
}

// reopen opens a second Bucket on what b is, as a second syncd in this
// process would.
func reopen(t *testing.T, b bucket.Bucket) bucket.Bucket {
	t.Helper()
	switch b := b.(type) {
	case *bucket.Dir:
		d, err := bucket.OpenDir(b.Root())
		if err != nil {
			t.Fatal(err)
		}
		return d
	case *bucket.S3:
		s, err := bucket.OpenS3(context.Background(), b.String(), s3ConfigOf(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	t.Fatalf("no reopen for %T", b)
	return nil
}

// s3ConfigOf finds the S3 config of the test's server, which openS3
// left in the environment the test's bucket was opened with.
func s3ConfigOf(t *testing.T) bucket.S3Config {
	t.Helper()
	ep := os.Getenv("BUCKET_TEST_ENDPOINT")
	if ep == "" {
		t.Fatal("BUCKET_TEST_ENDPOINT unset")
	}
	return bucket.S3Config{Endpoint: ep, Region: "us-east-1", PathStyle: true}
}

func TestLockIsExclusiveInOneProcess(t *testing.T) {
	each(t, func(t *testing.T, b bucket.Bucket) {
		ctx := context.Background()
		release, err := b.Lock(ctx, "syncd run")
		if err != nil {
			t.Fatal(err)
		}
		// Dir's flock belongs to an open file description, so even this
		// process's second open is refused, through the same Bucket or
		// another.
		for i, other := range []bucket.Bucket{b, reopen(t, b)} {
			_, err := other.Lock(ctx, "syncd backfill")
			var le *bucket.LockedError
			if !errors.As(err, &le) || !errors.Is(err, bucket.ErrLocked) {
				t.Fatalf("second Lock (%d): %v, want a *LockedError", i, err)
			}
			if le.Holder != "syncd run" || le.PID != os.Getpid() || le.Where != b.String() {
				t.Errorf("LockedError = %+v", le)
			}
			if msg := err.Error(); !strings.Contains(msg, "`syncd run`") || !strings.Contains(msg, b.String()) {
				t.Errorf("LockedError says %q: want the holder and the bucket named", msg)
			}
		}
		if err := release(); err != nil {
			t.Fatal(err)
		}
		release2, err := reopen(t, b).Lock(ctx, "syncd backfill")
		if err != nil {
			t.Fatalf("Lock after release: %v", err)
		}
		if err := release2(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestLockHelperProcess is the other writer of TestLockOfAKilledWriter:
// it takes the lock and holds it until killed.
func TestLockHelperProcess(t *testing.T) {
	target := os.Getenv("BUCKET_HELPER_TARGET")
	if target == "" {
		return // only TestLockOfAKilledWriter runs it
	}
	ctx := context.Background()
	var b bucket.Bucket
	var err error
	if strings.HasPrefix(target, "s3://") {
		b, err = bucket.OpenS3(ctx, target, s3ConfigOf(t))
	} else {
		b, err = bucket.OpenDir(target)
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Lock(ctx, "syncd helper"); err != nil {
		t.Fatal(err)
	}
	fmt.Println("locked")
	_, _ = io.Copy(io.Discard, os.Stdin) // hold until killed
}

func TestLockOfAKilledWriter(t *testing.T) {
	each(t, func(t *testing.T, b bucket.Bucket) {
		ctx := context.Background()
		target := b.String()
		if d, ok := b.(*bucket.Dir); ok {
			target = d.Root()
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestLockHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), "BUCKET_HELPER_TARGET="+target)
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		defer stdin.Close()
		// One writer for both streams: exec then never writes it from
		// two goroutines at once.
		pr, pw := io.Pipe()
		cmd.Stdout, cmd.Stderr = pw, pw
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); _ = pw.Close(); close(exited) }()
		defer func() { _ = cmd.Process.Kill(); <-exited }()
		// The helper says "locked", or why not before it exits.
		said := make(chan string, 1)
		go func() {
			var out strings.Builder
			sc := bufio.NewScanner(pr)
			for sc.Scan() {
				if sc.Text() == "locked" {
					said <- "locked"
					_, _ = io.Copy(io.Discard, pr)
					return
				}
				out.WriteString(sc.Text() + "\n")
			}
			said <- out.String()
		}()
		select {
		case s := <-said:
			if s != "locked" {
				t.Fatalf("helper exited without the lock: %s", s)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("helper did not take the lock in 30 s")
		}

		_, err = b.Lock(ctx, "syncd run")
		var le *bucket.LockedError
		if !errors.As(err, &le) {
			t.Fatalf("Lock while another process holds it: %v", err)
		}
		host, _ := os.Hostname()
		if le.PID != cmd.Process.Pid || le.Holder != "syncd helper" || (le.Host != "" && le.Host != host) {
			t.Errorf("LockedError = %+v, want the helper (PID %d)", le, cmd.Process.Pid)
		}

		// Killed, it cannot release: the next writer must not wait for it.
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		<-exited
		release, err := b.Lock(ctx, "syncd run")
		if err != nil {
			t.Fatalf("Lock after the holder was killed: %v", err)
		}
		if err := release(); err != nil {
			t.Fatal(err)
		}
	})
}

// --- S3 only ---

// startS3 is a server and a bucket on it, with the endpoint left where
// reopen and the helper process find it.
func startS3(t *testing.T, prefix string) (*s3test.Server, *bucket.S3) {
	t.Helper()
	srv := s3test.Start(t)
	b := openS3(t, srv, prefix)
	return srv, b
}

// writeLock puts a lock object as another holder would have left it.
func writeLock(t *testing.T, srv *s3test.Server, key string, l map[string]any) {
	t.Helper()
	body, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	_, err = srv.Client(t).PutObject(context.Background(), srv.Bucket, key, bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

func readLock(t *testing.T, srv *s3test.Server, key string) map[string]any {
	t.Helper()
	obj, err := srv.Client(t).GetObject(context.Background(), srv.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	b, err := io.ReadAll(obj)
	if err != nil {
		return nil
	}
	var l map[string]any
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatal(err)
	}
	return l
}

// deadPID is the PID of a process that has exited and been reaped.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func TestS3LockTakesOverADeadPIDOnThisHost(t *testing.T) {
	srv, b := startS3(t, "lake")
	host, _ := os.Hostname()
	writeLock(t, srv, "lake/_syncd/lock", map[string]any{
		"holder": "syncd run", "host": host, "pid": deadPID(t),
		"since": time.Now().UTC(), "heartbeat": time.Now().UTC(), "token": "someone else's",
	})
	release, err := b.Lock(context.Background(), "syncd run")
	if err != nil {
		t.Fatalf("Lock over a dead PID on this host: %v", err)
	}
	if l := readLock(t, srv, "lake/_syncd/lock"); l["pid"] != float64(os.Getpid()) {
		t.Errorf("lock object after takeover = %v", l)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Client(t).StatObject(context.Background(), srv.Bucket, "lake/_syncd/lock", minio.StatObjectOptions{}); err == nil {
		t.Error("release left the lock object")
	}
}

func TestS3LockHeldOnAnotherHost(t *testing.T) {
	srv, b := startS3(t, "lake")
	since := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	fresh := map[string]any{
		"holder": "syncd run", "host": "elsewhere", "pid": os.Getpid(),
		"since": since, "heartbeat": time.Now().Add(-80 * time.Second).UTC(), "token": "theirs",
	}
	writeLock(t, srv, "lake/_syncd/lock", fresh)
	_, err := b.Lock(context.Background(), "syncd backfill")
	var le *bucket.LockedError
	if !errors.As(err, &le) {
		t.Fatalf("Lock held by a fresh heartbeat on another host: %v", err)
	}
	if le.Holder != "syncd run" || le.Host != "elsewhere" || !le.Since.Equal(since) {
		t.Errorf("LockedError = %+v", le)
	}
	if !strings.Contains(err.Error(), "on elsewhere") {
		t.Errorf("error %q does not name the host", err)
	}

	// The same lock silent for longer than 90 s is a dead writer's.
	fresh["heartbeat"] = time.Now().Add(-100 * time.Second).UTC()
	writeLock(t, srv, "lake/_syncd/lock", fresh)
	release, err := b.Lock(context.Background(), "syncd backfill")
	if err != nil {
		t.Fatalf("Lock over a stale heartbeat: %v", err)
	}
	if l := readLock(t, srv, "lake/_syncd/lock"); l["holder"] != "syncd backfill" {
		t.Errorf("lock object after takeover = %v", l)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
}

func TestS3LockUnreadableObjectIsStale(t *testing.T) {
	srv, b := startS3(t, "")
	if _, err := srv.Client(t).PutObject(context.Background(), srv.Bucket, "_syncd/lock", strings.NewReader("garbage"), 7, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	release, err := b.Lock(context.Background(), "syncd run")
	if err != nil {
		t.Fatalf("Lock over an unreadable lock object: %v", err)
	}
	_ = release()
}

func TestS3LockHeartbeatAndLoss(t *testing.T) {
	srv, b := startS3(t, "lake")
	bucket.SetLockTiming(b, 50*time.Millisecond, 500*time.Millisecond)
	release, err := b.Lock(context.Background(), "syncd run")
	if err != nil {
		t.Fatal(err)
	}
	first := readLock(t, srv, "lake/_syncd/lock")["heartbeat"]
	deadline := time.Now().Add(5 * time.Second)
	for readLock(t, srv, "lake/_syncd/lock")["heartbeat"] == first {
		if time.Now().After(deadline) {
			t.Fatal("the heartbeat was not refreshed")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// A rival takes the lock over (as one would after our heartbeat went
	// stale): we must stop writing the lock and not delete theirs.
	rival := map[string]any{"holder": "syncd rival", "host": "elsewhere", "pid": 7,
		"since": time.Now().UTC(), "heartbeat": time.Now().UTC(), "token": "rival"}
	writeLock(t, srv, "lake/_syncd/lock", rival)
	time.Sleep(200 * time.Millisecond)
	err = release()
	if err == nil || !strings.Contains(err.Error(), "syncd rival") || !strings.Contains(err.Error(), "lost") {
		t.Errorf("release after a takeover: %v, want the lock reported lost to the rival", err)
	}
	if l := readLock(t, srv, "lake/_syncd/lock"); l["holder"] != "syncd rival" {
		t.Errorf("lock object after release = %v, want the rival's untouched", l)
	}
	if err2 := release(); fmt.Sprint(err2) != fmt.Sprint(err) {
		t.Errorf("second release = %v, want the first's answer", err2)
	}
}

// TestS3LockRace starts many writers at once on a free lake: the
// conditional create lets exactly one win.
func TestS3LockRace(t *testing.T) {
	_, b := startS3(t, "lake")
	const n = 8
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		won      []func() error
		failures []error
	)
	start := make(chan struct{})
	for range n {
		other := reopen(t, b)
		wg.Go(func() {
			<-start
			release, err := other.Lock(context.Background(), "syncd run")
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failures = append(failures, err)
				return
			}
			won = append(won, release)
		})
	}
	close(start)
	wg.Wait()
	if len(won) != 1 {
		t.Fatalf("%d of %d racing Locks won, want 1; failures: %v", len(won), n, failures)
	}
	for _, err := range failures {
		if !errors.Is(err, bucket.ErrLocked) {
			t.Errorf("a losing Lock: %v, want ErrLocked", err)
		}
	}
	if err := won[0](); err != nil {
		t.Fatal(err)
	}
}

func TestS3CloseRemovesScratch(t *testing.T) {
	srv := s3test.Start(t)
	srv.Setenv(t)
	b, err := bucket.OpenS3(context.Background(), "s3://"+srv.Bucket, s3Config(srv))
	if err != nil {
		t.Fatal(err)
	}
	dir := b.Scratch()
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		t.Fatalf("Scratch %s: %v", dir, err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	gone(t, dir)
}

// oneLine checks an OpenS3 error is the one line it should be, says
// what it must, and holds no credential.
func oneLine(t *testing.T, err error, want string, secrets ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("no error, want one saying %q", want)
		return
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") {
		t.Errorf("error is several lines: %q", msg)
	}
	if !strings.Contains(msg, want) {
		t.Errorf("error %q does not say %q", msg, want)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(msg, s) {
			t.Errorf("error %q contains a credential", msg)
		}
	}
}

func TestOpenS3Errors(t *testing.T) {
	srv := s3test.Start(t)
	srv.Setenv(t)
	ctx := context.Background()
	cfg := s3Config(srv)
	secrets := []string{srv.SecretKey, srv.AccessKey}

	_, err := bucket.OpenS3(ctx, "s3://nope/y", cfg)
	oneLine(t, err, `s3://nope/y: bucket "nope" does not exist at `+srv.Endpoint+"; create it first", secrets...)

	for _, c := range []struct{ url, want string }{
		{"/var/lake", "is not an S3 URL"},
		{"http://bucket/x", "is not an S3 URL"},
		{"s3://", "bucket name is missing"},
		{"s3:///x", "bucket name is missing"},
		{"s3://Upper/x", `"Upper" is not a valid S3 bucket name`},
		{"s3://ab", `"ab" is not a valid S3 bucket name`},
		{"s3://a_b/x", "is not a valid S3 bucket name"},
		{"s3://a..b/x", "is not a valid S3 bucket name"},
		{"s3://-ab/x", "is not a valid S3 bucket name"},
		{"s3://ab-/x", "is not a valid S3 bucket name"},
		{"s3://10.0.0.1/x", "is not a valid S3 bucket name"},
		{"s3://" + strings.Repeat("a", 64), "is not a valid S3 bucket name"},
		{"s3://bucket/a//b", "empty, . or .. segment"},
		{"s3://bucket/../b", "empty, . or .. segment"},
		{"s3://bucket/x?versionId=1", "no query"},
	} {
		_, err := bucket.OpenS3(ctx, c.url, cfg)
		oneLine(t, err, c.want, secrets...)
	}
	for _, ep := range []string{"127.0.0.1:7070", "ftp://host", "http://host/path"} {
		_, err := bucket.OpenS3(ctx, "s3://"+srv.Bucket, bucket.S3Config{Endpoint: ep})
		oneLine(t, err, "is not a URL like http://host:port")
	}
	_, err = bucket.OpenS3(ctx, "s3://"+srv.Bucket, bucket.S3Config{Endpoint: "http://key:hunter2@127.0.0.1:1"})
	oneLine(t, err, "is not a URL like", "hunter2")

	// Prefixes need no trailing slash, but may have one.
	b, err := bucket.OpenS3(ctx, "s3://"+srv.Bucket+"/a/b/", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != "s3://"+srv.Bucket+"/a/b" {
		t.Errorf("String = %q", b.String())
	}
	_ = b.Close()
}

func TestOpenS3WrongCredentials(t *testing.T) {
	srv := s3test.Start(t)
	srv.Setenv(t)
	ctx := context.Background()
	url := "s3://" + srv.Bucket + "/lake"

	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong-"+srv.SecretKey)
	_, err := bucket.OpenS3(ctx, url, s3Config(srv))
	oneLine(t, err, "check the credentials", srv.SecretKey, srv.AccessKey)
	oneLine(t, err, "AWS credential chain (environment AWS_ACCESS_KEY_ID)")

	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKNOBODY")
	_, err = bucket.OpenS3(ctx, url, s3Config(srv))
	oneLine(t, err, "does not know the access key", srv.SecretKey, "AKNOBODY")

	// Nothing of the credentials is kept where String or an error of a
	// working bucket could show it.
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	b, err := bucket.OpenS3(ctx, url, s3Config(srv))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	_, gerr := b.Get(ctx, "missing")
	_, lerr := b.List(ctx, "")
	for _, s := range []string{b.String(), fmt.Sprint(gerr), fmt.Sprint(lerr), fmt.Sprintf("%+v", b)} {
		if strings.Contains(s, srv.SecretKey) {
			t.Errorf("%q holds the secret key", s)
		}
	}
}

func TestOpenS3Unreachable(t *testing.T) {
	srv := s3test.Start(t)
	srv.Setenv(t)
	// Port 1 on loopback: nothing listens, the connection is refused.
	// The client retries that for about 5 s; the deadline cuts it short.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := bucket.OpenS3(ctx, "s3://"+srv.Bucket, bucket.S3Config{Endpoint: "http://127.0.0.1:1", PathStyle: true})
	oneLine(t, err, "s3://"+srv.Bucket+": no answer from http://127.0.0.1:1", srv.SecretKey)
	oneLine(t, err, "check the endpoint and the network")
}
