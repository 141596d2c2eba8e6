package extract

import (
	"regexp"
	"sort"
	"strings"
	"sync"
)

const redacted = "[REDACTED]"

var (
	secretsMu sync.RWMutex
	secrets   []string // every key a Client was built with, longest first

	// API-Key=..., api-key: ..., "API-Key":"...", apikey=...
	keyPattern = regexp.MustCompile(`(?i)(api[-_]?key["']?\s*[:=]\s*["']?)([^\s"'&;,]+)`)
)

// registerSecret makes Redact mask key from now on.
func registerSecret(key string) {
	if len(key) < 4 {
		return // too short to mask without mangling ordinary text
	}
	secretsMu.Lock()
	defer secretsMu.Unlock()
	for _, s := range secrets {
		if s == key {
			return
		}
	}
	secrets = append(secrets, key)
	sort.Slice(secrets, func(i, j int) bool { return len(secrets[i]) > len(secrets[j]) })
}

// Redact masks, in s, every API key a Client of this process was built with
// and any "API-Key=value" / "API-Key: value" text. Use it on any text that
// might echo a key: error bodies, URLs, configs.
func Redact(s string) string {
	secretsMu.RLock()
	for _, k := range secrets {
		s = redactKey(s, k)
	}
	secretsMu.RUnlock()
	return keyPattern.ReplaceAllString(s, "${1}"+redacted)
}

func redactKey(s, key string) string {
	if key == "" || !strings.Contains(s, key) {
		return s
	}
	return strings.ReplaceAll(s, key, redacted)
}

// redactedError shows a redacted text but still unwraps to the original
// error, so errors.Is/As keep working (e.g. *models.FieldError).
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
