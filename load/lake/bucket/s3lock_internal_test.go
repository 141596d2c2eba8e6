package bucket

import (
	"context"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/syncd/syncd/internal/s3test"
)

// TestS3ConditionalWritesHonoured pins what Lock's race-freedom rests
// on: the server refuses a create of an existing lock object and a
// replacement of one that changed. (Lock still reads its write back, for
// servers that ignore both.)
func TestS3ConditionalWritesHonoured(t *testing.T) {
	srv := s3test.Start(t)
	srv.Setenv(t)
	s, err := OpenS3(context.Background(), "s3://"+srv.Bucket+"/lake",
		S3Config{Endpoint: srv.Endpoint, Region: srv.Region, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	create := func(o *minio.PutObjectOptions) { o.SetMatchETagExcept("*") }
	if err := s.putLock(ctx, s3Lock{Token: "first"}, create); err != nil {
		t.Fatal(err)
	}
	if err := s.putLock(ctx, s3Lock{Token: "second"}, create); !isPreconditionFailed(err) {
		t.Errorf("second create of the lock object: %v, want a precondition failure", err)
	}
	_, etag, err := s.get(ctx, lockKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.putLock(ctx, s3Lock{Token: "third"}, func(o *minio.PutObjectOptions) { o.SetMatchETag(etag) }); err != nil {
		t.Errorf("replacement with the current ETag: %v", err)
	}
	if err := s.putLock(ctx, s3Lock{Token: "fourth"}, func(o *minio.PutObjectOptions) { o.SetMatchETag(etag) }); !isPreconditionFailed(err) {
		t.Errorf("replacement with a stale ETag: %v, want a precondition failure", err)
	}
	b, _, err := s.get(ctx, lockKey)
	if err != nil || !strings.Contains(string(b), `"token":"third"`) {
		t.Errorf("lock object = %s, %v; want the third write", b, err)
	}
}
