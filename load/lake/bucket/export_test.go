package bucket

import "time"

// SetLockTiming shortens the S3 lock's heartbeat and staleness, which
// are tens of seconds in use, so tests can watch them work.
func SetLockTiming(s *S3, heartbeat, stale time.Duration) {
	s.lock = lockTiming{heartbeat: heartbeat, stale: stale}
}
