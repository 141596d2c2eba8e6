package bucket

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config says where the S3 service is. Credentials are not here on
// purpose: they come from the standard AWS chain only (see OpenS3), so no
// config file ever holds a secret.
type S3Config struct {
	// Endpoint is "" for AWS, or a URL such as "http://127.0.0.1:7070"
	// for another S3 service; its scheme decides TLS.
	Endpoint string
	// Region is the bucket's region; "" lets the client ask AWS for it,
	// and means "us-east-1" at any other endpoint.
	Region string
	// PathStyle addresses the bucket as endpoint/bucket rather than
	// bucket.endpoint, which most self-hosted services need.
	PathStyle bool
}

// S3 is a bucket in a prefix of an S3 bucket.
//
// Replacing an object is one PutObject (or a server-side copy), which S3
// makes visible whole or not at all, so nothing like Dir's rename is
// needed. A Version is the object's ETag: a replacement with different
// bytes changes it; one with the very same bytes may not, which no
// reader can tell apart anyway.
//
// An S3 owns a local scratch directory, made by OpenS3: call Close when
// done with the bucket to remove it.
type S3 struct {
	client   *minio.Client
	creds    *credentials.Credentials
	bucket   string
	prefix   string // "" or "a/b": no leading or trailing slash
	endpoint string // for messages: the URL the service was reached at
	scratch  string
	lock     lockTiming
}

var _ Bucket = (*S3)(nil)

// OpenS3 opens url, "s3://bucket" or "s3://bucket/prefix", and checks
// with one request that the bucket is there and the credentials may list
// it, so a typo or a missing grant stops syncd at start with one line
// that says what to fix, not at its first write.
//
// Credentials come from the AWS chain, in its usual order: the
// environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN), then the shared credentials file (AWS_PROFILE,
// AWS_SHARED_CREDENTIALS_FILE), then the instance's or container's IAM
// role.
//
// Errors start with the URL, so a caller prefixes the config key that
// held it: fmt.Errorf("warehouse.path %w", err).
func OpenS3(ctx context.Context, rawURL string, cfg S3Config) (*S3, error) {
	bucket, prefix, err := parseS3URL(rawURL)
	if err != nil {
		return nil, err
	}
	host, secure, err := parseEndpoint(cfg.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rawURL, err)
	}
	region := cfg.Region
	if region == "" && cfg.Endpoint != "" {
		region = "us-east-1"
	}
	lookup := minio.BucketLookupAuto
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	creds := credentials.NewChainCredentials([]credentials.Provider{
		&credentials.EnvAWS{},
		&credentials.FileAWSCredentials{},
		&credentials.IAM{},
	})
	client, err := minio.New(host, &minio.Options{Creds: creds, Secure: secure, Region: region, BucketLookup: lookup})
	if err != nil {
		return nil, fmt.Errorf("%s: S3 endpoint %s: %w", rawURL, cfg.Endpoint, err)
	}
	endpoint := cfg.Endpoint
	if endpoint == "" {
		endpoint = "https://" + host
	}
	s := &S3{client: client, creds: creds, bucket: bucket, prefix: prefix, endpoint: endpoint, lock: lockTiming{heartbeat: lockHeartbeat, stale: lockStale}}
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if s.scratch, err = os.MkdirTemp("", "syncd-lake-*"); err != nil {
		return nil, fmt.Errorf("%s: scratch directory: %w", s, err)
	}
	return s, nil
}

// validBucketName is S3's rule for new buckets: 3 to 63 lowercase
// letters, digits, dots and hyphens, starting and ending with a letter or
// digit, no "..", not an IP address. Checked here so a typo is named as
// one rather than as whatever the server makes of it.
func validBucketName(b string) bool {
	if len(b) < 3 || len(b) > 63 || strings.Contains(b, "..") || net.ParseIP(b) != nil {
		return false
	}
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if i > 0 && i < len(b)-1 {
			ok = ok || c == '.' || c == '-'
		}
		if !ok {
			return false
		}
	}
	return true
}

func parseS3URL(raw string) (bucket, prefix string, err error) {
	rest, ok := strings.CutPrefix(raw, "s3://")
	if !ok {
		return "", "", fmt.Errorf("%q is not an S3 URL: write it as s3://bucket or s3://bucket/prefix", raw)
	}
	if strings.ContainsAny(rest, "?#") {
		return "", "", fmt.Errorf("%s: an S3 URL has no query or fragment: write it as s3://bucket/prefix", raw)
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", fmt.Errorf("%s: the bucket name is missing: write it as s3://bucket/prefix", raw)
	}
	if !validBucketName(bucket) {
		return "", "", fmt.Errorf("%s: %q is not a valid S3 bucket name (3-63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit)", raw, bucket)
	}
	prefix = strings.TrimSuffix(prefix, "/")
	if prefix != "" {
		for seg := range strings.SplitSeq(prefix, "/") {
			if seg == "" || seg == "." || seg == ".." {
				return "", "", fmt.Errorf("%s: the prefix %q has an empty, . or .. segment: write it as s3://bucket/a/b", raw, prefix)
			}
		}
	}
	return bucket, prefix, nil
}

// parseEndpoint turns S3Config.Endpoint into minio's host and TLS flag.
func parseEndpoint(endpoint string) (host string, secure bool, err error) {
	if endpoint == "" {
		return "s3.amazonaws.com", true, nil
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return "", false, fmt.Errorf("S3 endpoint %q is not a URL like http://host:port or https://host: give the scheme and host only", redactURL(endpoint))
	}
	return u.Host, u.Scheme == "https", nil
}

// redactURL drops a user:password an endpoint should not have had, so
// the error about it does not repeat it.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		u.User = url.User("REDACTED")
		return u.String()
	}
	if i, j := strings.Index(s, "://"), strings.LastIndex(s, "@"); i >= 0 && j > i {
		return s[:i+3] + "REDACTED@" + s[j+1:]
	}
	return s
}

// check lists at most one key under the prefix: it needs the bucket to
// exist and s3:ListBucket, which the lake needs anyway, and unlike a HEAD
// its error has a body that tells a bad key from a missing grant.
func (s *S3) check(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	opts := minio.ListObjectsOptions{Prefix: s.full(""), Recursive: true, MaxKeys: 1}
	for obj := range s.client.ListObjects(ctx, s.bucket, opts) {
		if obj.Err != nil {
			return s.explain(ctx, obj.Err)
		}
		break
	}
	return nil
}

// explain turns the bucket check's failure into what to fix. It uses no
// text from the credentials, and little from the server: S3's own
// messages about signatures can carry the request they signed.
func (s *S3) explain(ctx context.Context, err error) error {
	resp := minio.ToErrorResponse(err)
	b := fmt.Sprintf("bucket %q at %s", s.bucket, s.endpoint)
	switch resp.Code {
	case "NoSuchBucket":
		return fmt.Errorf("%s: bucket %q does not exist at %s; create it first", s, s.bucket, s.endpoint)
	case "InvalidAccessKeyId", "XAdminUserNotFound": // the latter is versitygw's
		return fmt.Errorf("%s: %s does not know the access key from %s; check the credentials", s, s.endpoint, credSource())
	case "SignatureDoesNotMatch":
		return fmt.Errorf("%s: %s refused the secret key from %s (it does not match the access key); check the credentials", s, s.endpoint, credSource())
	case "ExpiredToken", "InvalidToken", "TokenRefreshRequired":
		return fmt.Errorf("%s: %s refused the session token from %s (%s); renew the credentials", s, s.endpoint, credSource(), resp.Code)
	case "AccessDenied", "AllAccessDisabled":
		if v, cerr := s.creds.GetWithContext(nil); cerr == nil && v.SignerType.IsAnonymous() {
			return fmt.Errorf("%s: no AWS credentials found for %s: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, name a profile of the shared credentials file (AWS_PROFILE, AWS_SHARED_CREDENTIALS_FILE), or run with an IAM role", s, b)
		}
		return fmt.Errorf("%s: access denied to %s for the credentials from %s; grant them s3:ListBucket, s3:GetObject, s3:PutObject and s3:DeleteObject there", s, b, credSource())
	case "AuthorizationHeaderMalformed", "PermanentRedirect", "IllegalLocationConstraintException":
		where := ""
		if resp.Region != "" {
			where = " (the bucket is in " + resp.Region + ")"
		}
		return fmt.Errorf("%s: %s is not in the region the request was signed for%s; set the bucket's region", s, b, where)
	case "":
		if ctx.Err() != nil {
			return fmt.Errorf("%s: no answer from %s in time (%w); check the endpoint and the network", s, s.endpoint, ctx.Err())
		}
		// No S3 answer at all: DNS, a refused connection, TLS.
		return fmt.Errorf("%s: cannot reach %s (%w); check the endpoint and the network", s, s.endpoint, err)
	default:
		return fmt.Errorf("%s: checking %s: %s (HTTP %d)", s, b, resp.Code, resp.StatusCode)
	}
}

// credSource names where the chain most likely found the credentials,
// without a word of them, so an error can say which ones to fix.
func credSource() string {
	env := func(a, b string) bool { return os.Getenv(a) != "" || os.Getenv(b) != "" }
	if env("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY") && env("AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY") {
		return "the AWS credential chain (environment AWS_ACCESS_KEY_ID)"
	}
	file := os.Getenv("AWS_SHARED_CREDENTIALS_FILE")
	if file == "" {
		if home, err := os.UserHomeDir(); err == nil {
			file = filepath.Join(home, ".aws", "credentials")
		}
	}
	if _, err := os.Stat(file); err == nil {
		profile := os.Getenv("AWS_PROFILE")
		if profile == "" {
			profile = "default"
		}
		return fmt.Sprintf("the AWS credential chain (profile %q of %s)", profile, file)
	}
	return "the AWS credential chain (the IAM role)"
}

// Close removes the scratch directory. The bucket itself needs no
// closing; an S3 must not be used after Close.
func (s *S3) Close() error {
	if s.scratch == "" {
		return nil
	}
	return os.RemoveAll(s.scratch)
}

func (s *S3) String() string {
	if s.prefix == "" {
		return "s3://" + s.bucket
	}
	return "s3://" + s.bucket + "/" + s.prefix
}

func (s *S3) Scratch() string { return s.scratch }

// full maps a key (or a List prefix) to the object name in the bucket.
func (s *S3) full(key string) string {
	if s.prefix == "" {
		return key
	}
	return s.prefix + "/" + key
}

// isNoSuchKey tells a missing object from every other failure.
func isNoSuchKey(err error) bool {
	resp := minio.ToErrorResponse(err)
	return resp.Code == "NoSuchKey"

}

// notExist keeps minio's error for the message and adds ErrNotExist for
// errors.Is.
func notExist(err error) error {
	if isNoSuchKey(err) {
		return fmt.Errorf("%w: %w", ErrNotExist, err)
	}
	return err
}

func (s *S3) Put(ctx context.Context, key, src string) error {
	defer os.Remove(src)
	if err := checkKey(key); err != nil {
		return err
	}
	f, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := s.put(ctx, key, f, st.Size(), minio.PutObjectOptions{}); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

func (s *S3) PutBytes(ctx context.Context, key string, b []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := s.put(ctx, key, bytes.NewReader(b), int64(len(b)), minio.PutObjectOptions{}); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// put is one PUT request, never a multipart upload: a single PUT is
// atomic for readers and leaves no parts behind when the process dies
// half-way. It caps an object at S3's 5 GiB for one PUT, far above a
// lake's files.
func (s *S3) put(ctx context.Context, key string, r io.Reader, size int64, opts minio.PutObjectOptions) error {
	opts.DisableMultipart = true
	_, err := s.client.PutObject(ctx, s.bucket, s.full(key), r, size, opts)
	return err
}

func (s *S3) Get(ctx context.Context, key string) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	b, _, err := s.get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	return b, nil
}

// get reads an object whole with the ETag of that very read, which Lock
// needs to replace it only if nobody has since.
func (s *S3) get(ctx context.Context, key string) ([]byte, string, error) {
	body, info, err := s.getObject(ctx, key)
	if err != nil {
		return nil, "", err
	}
	defer body.Close()
	b, err := io.ReadAll(body)
	if err != nil {
		return nil, "", err
	}
	return b, info.ETag, nil
}

// getObject is one GET. minio's Client.GetObject is lazy: it asks for
// the size first and then GETs with If-Match, so an object replaced in
// between fails with a precondition error instead of reading either
// version whole.
func (s *S3) getObject(ctx context.Context, key string) (io.ReadCloser, minio.ObjectInfo, error) {
	body, info, _, err := minio.Core{Client: s.client}.GetObject(ctx, s.bucket, s.full(key), minio.GetObjectOptions{})
	if err != nil {
		return nil, info, notExist(err)
	}
	return body, info, nil
}

// s3File is a downloaded copy: it is the snapshot the contract asks for,
// and a Parquet reader's many small ReadAts stay local.
type s3File struct{ *os.File }

func (f s3File) Size() int64 {
	st, err := f.Stat()
	if err != nil {
		return 0
	}
	return st.Size()
}

func (f s3File) Close() error {
	err := f.File.Close()
	if rerr := os.Remove(f.Name()); err == nil {
		err = rerr
	}
	return err
}

func (s *S3) Open(ctx context.Context, key string) (File, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	body, _, err := s.getObject(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	defer body.Close()
	f, err := os.CreateTemp(s.scratch, "open-*")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	if _, err := io.Copy(f, body); err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	return s3File{f}, nil
}

// Move is a server-side copy, then a delete: S3 has no rename. A crash
// between the two leaves both objects, dst already whole, and the
// replayed Move copies again and deletes.
func (s *S3) Move(ctx context.Context, src, dst string) error {
	if err := errors.Join(checkKey(src), checkKey(dst)); err != nil {
		return err
	}
	_, err := s.client.CopyObject(ctx,
		minio.CopyDestOptions{Bucket: s.bucket, Object: s.full(dst)},
		minio.CopySrcOptions{Bucket: s.bucket, Object: s.full(src)})
	if isNoSuchKey(err) {
		_, serr := s.client.StatObject(ctx, s.bucket, s.full(dst), minio.StatObjectOptions{})
		if serr == nil {
			return nil // moved before a crash; this is the replay
		}
		if !isNoSuchKey(serr) {
			return fmt.Errorf("move %s to %s: %w", src, dst, serr)
		}
	}
	if err != nil {
		return fmt.Errorf("move %s to %s: %w", src, dst, notExist(err))
	}
	if err := s.client.RemoveObject(ctx, s.bucket, s.full(src), minio.RemoveObjectOptions{}); err != nil && !isNoSuchKey(err) {
		return fmt.Errorf("move %s to %s: copied, but removing the source: %w", src, dst, err)
	}
	return nil
}

func (s *S3) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	err := s.client.RemoveObject(ctx, s.bucket, s.full(key), minio.RemoveObjectOptions{})
	if err != nil && !isNoSuchKey(err) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

func (s *S3) List(ctx context.Context, prefix string) ([]Object, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops minio's lister when an error ends the loop early
	var out []Object
	base := s.full("")
	for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.full(prefix), Recursive: true}) {
		if obj.Err != nil {
			return nil, fmt.Errorf("list %s: %w", prefix, obj.Err)
		}
		key := strings.TrimPrefix(obj.Key, base)
		if strings.HasSuffix(key, "/") {
			continue // a "directory" marker some tools make: not an object
		}
		out = append(out, Object{Key: key, Size: obj.Size, Version: obj.ETag, Modified: obj.LastModified.UTC()})
	}
	slices.SortFunc(out, func(a, b Object) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}
