package extract

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// TestRedactKeyWholeTokens: the key is masked wherever it stands as a token
// of its own (URLs, headers, JSON, log text, escaped forms of those), and
// text where its characters merely occur inside other words is left alone.
func TestRedactKeyWholeTokens(t *testing.T) {
	const key = "0123abcd4567ef89"
	for in, want := range map[string]string{
		"GET /x?API-Key=" + key + "&page=2":                "GET /x?API-Key=[REDACTED]&page=2",
		"API-Key: " + key + "\r\nAccept: application/json": "API-Key: [REDACTED]\r\nAccept: application/json",
		`{"api_key":"` + key + `","id":1}`:                 `{"api_key":"[REDACTED]","id":1}`,
		"key " + key + " is not valid.":                    "key [REDACTED] is not valid.",
		key:                                                "[REDACTED]",
		key + "-" + key:                                    "[REDACTED]-[REDACTED]",
		"q=API-Key%3D" + key + "%26page%3D2":               "q=API-Key%3D[REDACTED]%26page%3D2",
		`"error":"bad key:\n` + key + `"`:                  `"error":"bad key:\n[REDACTED]"`,
		`"error":"\u0022` + key + `\u0022"`:                `"error":"\u0022[REDACTED]\u0022"`,
		"x" + key:                                          "x" + key, // another, longer token
		key + "9":                                          key + "9",
	} {
		if got := RedactKey(in, key); got != want {
			t.Errorf("RedactKey(%q)\n got  %q\n want %q", in, got, want)
		}
	}
}

// TestRedactKeyEncodedForms: a key with characters that URLs, JSON or Go
// quoting escape is masked in those forms too.
func TestRedactKeyEncodedForms(t *testing.T) {
	const key = `ab+cd/ef=gh"ij`
	quoted, _ := json.Marshal(key)
	for _, in := range []string{
		"raw " + key + " end",
		"q?API-Key=" + url.QueryEscape(key) + "&x=1",
		"/path/" + url.PathEscape(key) + "/x",
		`{"k":` + string(quoted) + `}`,
		"error: " + strconv.Quote(key),
	} {
		got := RedactKey(in, key)
		if !strings.Contains(got, redacted) || strings.Contains(got, "cd/ef") || strings.Contains(got, "cd%2Fef") {
			t.Errorf("RedactKey(%q) = %q: the key (or its encoding) survived", in, got)
		}
	}
}

// TestRedactShortTokensDoNotMangle: a key that happens to be a fragment of
// a word (here of "API-Key" and "connection") must not rewrite it.
func TestRedactShortTokensDoNotMangle(t *testing.T) {
	for _, key := range []string{"K", "ey", "tion", "onnectio"} {
		msg := "GET /3.0/offers: API-Key rejected: dial tcp: connect: connection refused"
		if got := RedactKey(msg, key); got != msg {
			t.Errorf("key %q mangled the message: %q", key, got)
		}
	}
	// As a token of its own it is still masked.
	if got := RedactKey("the key is tion.", "tion"); got != "the key is [REDACTED]." {
		t.Errorf("got %q", got)
	}
}

func TestCheckKey(t *testing.T) {
	for _, good := range []string{"0123456789abcdef0123456789abcdef01234567", "e2e-secret-key-1", "12345678"} {
		if err := CheckKey(good); err != nil {
			t.Errorf("CheckKey(%q): %v", good, err)
		}
	}
	for key, want := range map[string]string{
		"":                     "empty",
		"K":                    "1 character long",
		"abc1234":              "7 characters long",
		"abcdefgh\nijkl":       "line break",
		"abcdefghijkl\n":       "line break",
		"abcdefgh\rijkl":       "line break",
		"abcd\tefghijkl":       "control character",
		"abcd\x00efghijkl":     "control character",
		"abcd efghijkl":        "space",
		"abcdefgh\u200bijklmn": "non-printable",
	} {
		err := CheckKey(key)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckKey(%q) = %v, want an error containing %q", key, err, want)
			continue
		}
		if key != "" && strings.Contains(err.Error(), key) {
			t.Errorf("CheckKey(%q) shows the key: %v", key, err)
		}
	}
}

func TestNewClientRefusesKeysItCannotHide(t *testing.T) {
	for _, key := range []string{"K", "short", "abcdefgh\nijkl"} {
		_, err := NewClient(ClientConfig{BaseURL: "http://x", Key: key})
		if err == nil {
			t.Errorf("NewClient accepted key %q", key)
		}
	}
}
