package lakesql

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/syncd/syncd/load/lake/bucket"
)

// mirror keeps a local copy of a lake's partition files, for DuckDB to
// read. Each file is replaced by a rename, so a query reading the mirror
// sees each partition whole, as the lake does. Two processes may sync one
// mirror at once: at worst both download an object.
type mirror struct {
	b   bucket.Bucket
	dir string
}

// indexFile records the version of the object each mirrored file holds.
const indexFile = ".syncd-mirror.json"

func (m *mirror) sync(ctx context.Context, tables []string) error {
	index := map[string]string{}
	if b, err := os.ReadFile(filepath.Join(m.dir, indexFile)); err == nil {
		_ = json.Unmarshal(b, &index) // a damaged index costs downloads only
	}
	seen := map[string]bool{}
	for _, t := range tables {
		objs, err := m.b.List(ctx, t+"/")
		if err != nil {
			return err
		}
		for _, o := range objs {
			if !strings.HasSuffix(o.Key, ".parquet") {
				continue
			}
			seen[o.Key] = true
			local := filepath.Join(m.dir, filepath.FromSlash(o.Key))
			if index[o.Key] == o.Version {
				if _, err := os.Stat(local); err == nil {
					continue
				}
			}
			if err := m.fetch(ctx, o.Key, local); errors.Is(err, bucket.ErrNotExist) {
				continue // replaced since listed: the next sync fetches it
			} else if err != nil {
				return fmt.Errorf("%s: %w", o.Key, err)
			}
			index[o.Key] = o.Version
		}
	}
	for k := range index {
		if !seen[k] {
			delete(index, k)
			_ = os.Remove(filepath.Join(m.dir, filepath.FromSlash(k)))
		}
	}
	b, err := json.Marshal(index)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(m.dir, indexFile+".*.partial")
	if err != nil {
		return err
	}
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(m.dir, indexFile))
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
	}
	return err
}

// fetch copies the object at key to local through a temp file renamed into
// place.
func (m *mirror) fetch(ctx context.Context, key, local string) error {
	f, err := m.b.Open(ctx, key)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := os.MkdirAll(filepath.Dir(local), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(local), ".*.partial")
	if err != nil {
		return err
	}
	_, err = io.Copy(tmp, io.NewSectionReader(f, 0, f.Size()))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), local)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w", err)
		}
	}
	return err
}
