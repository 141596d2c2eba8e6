package pgserver

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL speaks it: the client
// proves it knows the password without sending it, and the server proves
// it knows it too. Channel binding (SCRAM-SHA-256-PLUS) is not offered;
// TLS, when configured, protects the channel instead.

const (
	scramMechanism  = "SCRAM-SHA-256"
	scramIterations = 4096 // PostgreSQL's default
)

// scramSecret is what the server keeps of the password: the salted keys,
// computed once, never the password itself.
type scramSecret struct {
	salt      []byte
	storedKey []byte
	serverKey []byte
}

func newSCRAMSecret(password string) (*scramSecret, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	salted, err := pbkdf2.Key(sha256.New, password, salt, scramIterations, sha256.Size)
	if err != nil {
		return nil, err
	}
	clientKey := hmacSHA256(salted, "Client Key")
	stored := sha256.Sum256(clientKey)
	return &scramSecret{salt: salt, storedKey: stored[:], serverKey: hmacSHA256(salted, "Server Key")}, nil
}

func hmacSHA256(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

// errBadProof: the client does not know the password. Said to the client
// only as PostgreSQL says it, without telling which part was wrong.
var errBadProof = errors.New("password authentication failed")

// scramExchange is one authentication in progress.
type scramExchange struct {
	secret          *scramSecret
	clientFirstBare string
	serverFirst     string
	gs2Header       string
	nonce           string
}

// first reads the client-first-message and returns the server-first one.
func (x *scramExchange) first(clientFirst []byte) (string, error) {
	msg := string(clientFirst)
	// gs2-header: "n,," (no channel binding), "y,," (client could bind
	// but thinks the server cannot), "p=..." (asks for binding: refused,
	// it was not offered).
	var rest string
	switch {
	case strings.HasPrefix(msg, "n,"), strings.HasPrefix(msg, "y,"):
		i := strings.IndexByte(msg[2:], ',')
		if i < 0 {
			return "", errors.New("malformed SCRAM client-first-message")
		}
		x.gs2Header = msg[:2+i+1]
		rest = msg[2+i+1:]
	case strings.HasPrefix(msg, "p="):
		return "", errors.New("SCRAM channel binding was not offered")
	default:
		return "", errors.New("malformed SCRAM client-first-message")
	}
	x.clientFirstBare = rest
	var clientNonce string
	for _, attr := range strings.Split(rest, ",") {
		if v, ok := strings.CutPrefix(attr, "r="); ok {
			clientNonce = v
		}
		if strings.HasPrefix(attr, "m=") {
			return "", errors.New("SCRAM extensions are not supported")
		}
	}
	if clientNonce == "" {
		return "", errors.New("SCRAM client-first-message has no nonce")
	}
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	x.nonce = clientNonce + base64.StdEncoding.EncodeToString(b)
	x.serverFirst = fmt.Sprintf("r=%s,s=%s,i=%s", x.nonce, base64.StdEncoding.EncodeToString(x.secret.salt), strconv.Itoa(scramIterations))
	return x.serverFirst, nil
}

// final checks the client-final-message's proof and returns the
// server-final-message.
func (x *scramExchange) final(clientFinal []byte) (string, error) {
	msg := string(clientFinal)
	i := strings.LastIndex(msg, ",p=")
	if i < 0 {
		return "", errors.New("malformed SCRAM client-final-message")
	}
	withoutProof, proofB64 := msg[:i], msg[i+3:]
	var binding, nonce string
	for _, attr := range strings.Split(withoutProof, ",") {
		if v, ok := strings.CutPrefix(attr, "c="); ok {
			binding = v
		}
		if v, ok := strings.CutPrefix(attr, "r="); ok {
			nonce = v
		}
	}
	if binding != base64.StdEncoding.EncodeToString([]byte(x.gs2Header)) {
		return "", errors.New("SCRAM channel binding does not match")
	}
	if subtle.ConstantTimeCompare([]byte(nonce), []byte(x.nonce)) != 1 {
		return "", errors.New("SCRAM nonce does not match")
	}
	proof, err := base64.StdEncoding.DecodeString(proofB64)
	if err != nil || len(proof) != sha256.Size {
		return "", errors.New("malformed SCRAM proof")
	}
	authMessage := x.clientFirstBare + "," + x.serverFirst + "," + withoutProof
	signature := hmacSHA256(x.secret.storedKey, authMessage)
	clientKey := make([]byte, len(proof))
	for k := range proof {
		clientKey[k] = proof[k] ^ signature[k]
	}
	stored := sha256.Sum256(clientKey)
	if subtle.ConstantTimeCompare(stored[:], x.secret.storedKey) != 1 {
		return "", errBadProof
	}
	return "v=" + base64.StdEncoding.EncodeToString(hmacSHA256(x.secret.serverKey, authMessage)), nil
}
