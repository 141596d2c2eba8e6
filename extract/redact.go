package extract

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

const redacted = "[REDACTED]"

// MinKeyLength is the shortest API key syncd accepts. Real Affise keys are
// 32 or more hex characters; a key of a few characters cannot be told apart
// from ordinary text, so it could be neither hidden reliably nor masked
// without rewriting words around it.
const MinKeyLength = 8

var (
	// API-Key=..., api-key: ..., "API-Key":"...", apikey=...
	keyPattern = regexp.MustCompile(`(?i)(api[-_]?key["']?\s*[:=]\s*["']?)([^\s"'&;,]+)`)
)

// CheckKey says what is wrong with an API key, if anything. The error reads
// as the end of "api key ..." and never shows the key.
func CheckKey(key string) error {
	if key == "" {
		return errors.New("is empty")
	}
	for _, r := range key {
		switch {
		case r == '\n' || r == '\r':
			return errors.New("contains a line break (an API key is one line: check how it was pasted or stored, e.g. a trailing newline in a secret file)")
		case r == utf8.RuneError:
			return errors.New("is not valid UTF-8 text")
		case unicode.IsControl(r):
			return fmt.Errorf("contains a control character (%U); an API key is printable characters only", r)
		case unicode.IsSpace(r):
			return errors.New("contains a space; an API key is one word")
		case !unicode.IsPrint(r):
			return fmt.Errorf("contains a non-printable character (%U); an API key is printable characters only", r)
		}
	}
	if n := utf8.RuneCountInString(key); n < MinKeyLength {
		unit := "characters"
		if n == 1 {
			unit = "character"
		}
		return fmt.Errorf("is %d %s long: too short to be an Affise API key (those are 32 or more hex characters); syncd refuses keys under %d characters, which it could not keep out of its output", n, unit, MinKeyLength)
	}
	return nil
}

// Redact masks any "API-Key=value" / "API-Key: value" text in s. It knows
// no key: where one is known, Client.Redact or RedactKey masks it too. There
// is deliberately no process-wide list of keys: the configured key is the one
// value, handed to whoever prints text that may echo it.
func Redact(s string) string {
	return keyPattern.ReplaceAllString(s, "${1}"+redacted)
}

// RedactKey masks key in s wherever it stands as a token of its own: as
// written, and as URLs, JSON and Go quoting escape it. The key's characters
// inside a longer word are left alone, so a key that happens to be a common
// fragment ("Key", "tion") cannot turn "API-Key" into "API-[REDACTED]".
func RedactKey(s, key string) string {
	if key == "" {
		return s
	}
	for _, form := range keyForms(key) {
		s = redactToken(s, form)
	}
	return s
}

// keyForms is key as written and as the encodings that may carry it into
// text: a URL query or path, a JSON string, a Go-quoted string.
func keyForms(key string) []string {
	forms := []string{key, url.QueryEscape(key), url.PathEscape(key)}
	if b, err := json.Marshal(key); err == nil {
		forms = append(forms, string(b[1:len(b)-1]))
	}
	q := strconv.Quote(key)
	forms = append(forms, q[1:len(q)-1])
	// Longest first: a longer encoding is masked before a shorter form
	// could cut into it.
	sort.SliceStable(forms, func(i, j int) bool { return len(forms[i]) > len(forms[j]) })
	seen := map[string]bool{}
	out := forms[:0]
	for _, f := range forms {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}

// redactToken replaces tok in s where nothing but a delimiter (or an
// escape sequence such as %3D, \n or \u0022) touches its word characters.
func redactToken(s, tok string) string {
	if !strings.Contains(s, tok) {
		return s
	}
	var b strings.Builder
	last := 0
	for i := 0; i <= len(s)-len(tok); {
		j := strings.Index(s[i:], tok)
		if j < 0 {
			break
		}
		start, end := i+j, i+j+len(tok)
		if tokenStarts(s, start, tok) && tokenEnds(s, end, tok) {
			b.WriteString(s[last:start])
			b.WriteString(redacted)
			last, i = end, end
			continue
		}
		i = start + 1
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

func tokenStarts(s string, at int, tok string) bool {
	if at == 0 || !isWordByte(tok[0]) || !isWordByte(s[at-1]) {
		return true
	}
	return endsWithEscape(s[:at])
}

func tokenEnds(s string, at int, tok string) bool {
	return at == len(s) || !isWordByte(tok[len(tok)-1]) || !isWordByte(s[at])
}

// isWordByte: letters and digits make up tokens; any other byte delimits
// them. Bytes of multi-byte characters count as letters.
func isWordByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= utf8.RuneSelf
}

// endsWithEscape reports whether s ends with %XX, \uXXXX, \xXX or a
// one-letter backslash escape: the key may follow one in encoded text.
func endsWithEscape(s string) bool {
	n := len(s)
	switch {
	case n >= 3 && s[n-3] == '%' && isHex(s[n-2]) && isHex(s[n-1]):
		return true
	case n >= 6 && s[n-6] == '\\' && s[n-5] == 'u' && isHex(s[n-4]) && isHex(s[n-3]) && isHex(s[n-2]) && isHex(s[n-1]):
		return true
	case n >= 4 && s[n-4] == '\\' && s[n-3] == 'x' && isHex(s[n-2]) && isHex(s[n-1]):
		return true
	case n >= 2 && s[n-2] == '\\':
		return true
	}
	return false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// redactedError shows a redacted text but still unwraps to the original
// error, so errors.Is/As keep working (e.g. *models.FieldError).
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
