// Package bucket is where a Parquet lake's objects live: a local directory
// (Dir) or a prefix of an S3 bucket (S3). The lake writes through this one
// small interface, so its commit protocol is the same on both.
package bucket

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"strconv"
	"time"
)

// ErrNotExist is returned (wrapped) for an object that does not exist; it
// matches fs.ErrNotExist too.
var ErrNotExist = fs.ErrNotExist

// Object is one stored object as List reports it.
type Object struct {
	Key      string // relative to the bucket's root, slash-separated
	Size     int64
	Version  string // changes whenever the object is replaced (an ETag, or size and mtime on disk)
	Modified time.Time
}

// File is an object opened for reading: a Parquet reader reads it at
// offsets. It is a stable snapshot: an object replaced after Open does not
// change what the File reads. Close it once.
type File interface {
	io.ReaderAt
	io.Closer
	Size() int64
}

// Bucket holds objects under slash-separated keys relative to its root,
// such as "conversions/network=default/date=2025-06-01/data.parquet".
//
// Every replacement of an object is atomic for readers: a reader of a key
// sees the old object or the new one whole, never a part, and no call
// leaves a partly written object under the key it names. A failed call
// leaves the key as it was (Move: both keys as they were, or the move
// done). Keys ending in ".partial" are the caller's temporaries: nothing
// here treats them specially, the lake keeps them under _syncd/.
//
// A Bucket is safe for concurrent use by several goroutines. Two
// processes may read it at once; writers are the caller's to serialize
// (Lock).
type Bucket interface {
	// Put stores the local file src under key, replacing any object
	// there. Put takes src: after it returns, with or without an error,
	// src is gone (renamed on disk; uploaded, then removed, on S3).
	Put(ctx context.Context, key, src string) error
	// PutBytes stores b under key, replacing any object there. It is
	// for small objects (state, journals); the Bucket does not keep b.
	PutBytes(ctx context.Context, key string, b []byte) error
	// Get reads a small object whole; ErrNotExist when it does not exist.
	Get(ctx context.Context, key string) ([]byte, error)
	// Open opens an object for reading at offsets; ErrNotExist when it
	// does not exist. On S3 it downloads the object to the scratch
	// directory first, which Close removes.
	Open(ctx context.Context, key string) (File, error)
	// Move replaces dst with the object at src and removes src. Replaying
	// a Move that already happened is harmless: with src gone and dst
	// present it returns nil. With both gone it returns ErrNotExist.
	Move(ctx context.Context, src, dst string) error
	// Delete removes the object at key; a missing object is no error.
	Delete(ctx context.Context, key string) error
	// List returns every object whose key starts with prefix, in key
	// order.
	List(ctx context.Context, prefix string) ([]Object, error)
	// Lock makes this process the lake's one writer until release is
	// called or the process dies. holder names the command ("syncd run")
	// for the error another writer gets: a *LockedError. Lock does not
	// wait.
	Lock(ctx context.Context, holder string) (release func() error, err error)
	// Scratch is a local directory for this process's temporary files
	// (staging, files about to be Put). On disk it is on the lake's file
	// system, so Put is a rename.
	Scratch() string
	// String names the bucket for messages: a path or s3://bucket/prefix,
	// never a credential.
	String() string
}

// LockedError is a Lock refused because another writer holds the lake.
type LockedError struct {
	Where  string // the bucket, as String names it
	Holder string // the holder's command, e.g. "syncd run"; "" when unknown
	Host   string
	PID    int
	Since  time.Time
}

func (e *LockedError) Error() string {
	who := "another process"
	if e.Holder != "" {
		who = "`" + e.Holder + "`"
	}
	if e.PID > 0 {
		who += " (PID " + strconv.Itoa(e.PID)
		if e.Host != "" {
			who += " on " + e.Host
		}
		who += ")"
	}
	return "the lake " + e.Where + " is being written by " + who + ": a lake has one writer at a time; stop it or wait for it to finish (readers need no lock)"
}

// ErrLocked matches every *LockedError.
var ErrLocked = errors.New("lake is locked by another writer")

func (e *LockedError) Unwrap() error { return ErrLocked }
