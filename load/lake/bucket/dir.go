package bucket

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Dir is a bucket in a local directory. Replacing an object is a rename
// of a fsynced file within the directory's file system, so it is atomic
// and durable; its scratch directory is <root>/_syncd/tmp.
type Dir struct {
	root string
}

var _ Bucket = (*Dir)(nil)

// scratchKey is where Dir keeps temporaries: inside the lake, so a Put is
// a rename, and under _syncd/, so no reader's glob of a table reaches it.
const scratchKey = "_syncd/tmp"

// OpenDir opens the directory root as a bucket, creating it when missing.
func OpenDir(root string) (*Dir, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	d := &Dir{root: abs}
	if err := os.MkdirAll(d.Scratch(), 0o755); err != nil {
		return nil, err
	}
	return d, nil
}

// Root is the directory.
func (d *Dir) Root() string { return d.root }

func (d *Dir) String() string { return d.root }

func (d *Dir) Scratch() string { return d.path(scratchKey) }

// path maps a key to a file, refusing keys that would leave the root.
func (d *Dir) path(key string) string {
	return filepath.Join(d.root, filepath.FromSlash(key))
}

func checkKey(key string) error {
	if key == "" || strings.HasPrefix(key, "/") || slices.Contains(strings.Split(key, "/"), "..") {
		return fmt.Errorf("bad object key %q", key)
	}
	return nil
}

func (d *Dir) Put(ctx context.Context, key, src string) error {
	if err := checkKey(key); err != nil {
		_ = os.Remove(src)
		return err
	}
	if err := ctx.Err(); err != nil {
		_ = os.Remove(src)
		return err
	}
	if err := fsync(src); err != nil {
		_ = os.Remove(src)
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := d.rename(src, d.path(key)); err != nil {
		_ = os.Remove(src)
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

func (d *Dir) PutBytes(ctx context.Context, key string, b []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	f, err := os.CreateTemp(d.Scratch(), "*.partial")
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("put %s: %w", key, err)
	}
	return d.Put(ctx, key, f.Name())
}

// rename moves a file into place and makes the move durable.
func (d *Dir) rename(from, to string) error {
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	if err := os.Rename(from, to); err != nil {
		return err
	}
	return fsync(filepath.Dir(to))
}

func (d *Dir) Get(ctx context.Context, key string) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(d.path(key))
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	return b, nil
}

type dirFile struct{ *os.File }

func (f dirFile) Size() int64 {
	st, err := f.Stat()
	if err != nil {
		return 0
	}
	return st.Size()
}

// Open opens the file itself: a rename over it later leaves this open
// file as it was, so the File is a snapshot without a copy.
func (d *Dir) Open(ctx context.Context, key string) (File, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	f, err := os.Open(d.path(key))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	return dirFile{f}, nil
}

func (d *Dir) Move(ctx context.Context, src, dst string) error {
	if err := errors.Join(checkKey(src), checkKey(dst)); err != nil {
		return err
	}
	newerThanReplaced(d.path(src), d.path(dst))
	err := d.rename(d.path(src), d.path(dst))
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Stat(d.path(dst)); serr == nil {
			return nil // moved before a crash; this is the replay
		}
	}
	if err != nil {
		return fmt.Errorf("move %s to %s: %w", src, dst, err)
	}
	return nil
}

func (d *Dir) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	p := d.path(key)
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	// Directories are not objects: a hive partition directory (date=...,
	// network=...) emptied goes with its last file, as it is noise to
	// readers; others, such as the scratch directory, stay.
	for dir := filepath.Dir(p); dir != d.root && strings.HasPrefix(dir, d.root) && strings.Contains(filepath.Base(dir), "="); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			break
		}
	}
	return nil
}

func (d *Dir) List(ctx context.Context, prefix string) ([]Object, error) {
	// Walk from the deepest directory the prefix names whole.
	start := d.root
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		start = d.path(prefix[:i])
	}
	var out []Object
	err := filepath.WalkDir(start, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // gone while walking, or never there
			}
			return err
		}
		if e.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(d.root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		out = append(out, Object{Key: key, Size: info.Size(), Modified: info.ModTime().UTC(),
			Version: strconv.FormatInt(info.Size(), 10) + "-" + strconv.FormatInt(info.ModTime().UnixNano(), 10)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", prefix, err)
	}
	slices.SortFunc(out, func(a, b Object) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// lockInfo is what a lock holder writes about itself.
type lockInfo struct {
	Holder string    `json:"holder"`
	Host   string    `json:"host"`
	PID    int       `json:"pid"`
	Since  time.Time `json:"since"`
}

// Lock takes an exclusive flock on _syncd/lock, which the kernel drops
// when the process dies, and writes who holds it into the file.
func (d *Dir) Lock(ctx context.Context, holder string) (func() error, error) {
	p := d.path("_syncd/lock")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", d.root, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		var li lockInfo
		b, _ := os.ReadFile(p)
		_ = json.Unmarshal(b, &li)
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &LockedError{Where: d.root, Holder: li.Holder, Host: li.Host, PID: li.PID, Since: li.Since}
		}
		return nil, fmt.Errorf("lock %s: %w", d.root, err)
	}
	host, _ := os.Hostname()
	b, _ := json.Marshal(lockInfo{Holder: holder, Host: host, PID: os.Getpid(), Since: time.Now().UTC()})
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt(b, 0)
	}
	return func() error {
		_ = f.Truncate(0)
		return f.Close() // closing drops the flock
	}, nil
}

// newerThanReplaced makes src's modification time a later second than
// dst's. Readers that cache a file's blocks by path validate them by that
// time, some at one-second resolution (DuckDB's external file cache): a
// partition replaced twice within a second would otherwise be read as
// the old file's bytes at the new file's offsets.
func newerThanReplaced(src, dst string) {
	old, err := os.Stat(dst)
	if err != nil {
		return
	}
	cur, err := os.Stat(src)
	if err != nil {
		return
	}
	if cur.ModTime().Unix() > old.ModTime().Unix() {
		return
	}
	next := old.ModTime().Truncate(time.Second).Add(time.Second)
	_ = os.Chtimes(src, next, next)
}

// fsync makes the file or directory at path durable: a file's bytes, a
// directory's renames and removals.
func fsync(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
