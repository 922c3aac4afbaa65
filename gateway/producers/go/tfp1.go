// Package tfp1 computes tokenwatch's tfp1 credential fingerprint, for producers that write
// canonical access events (DESIGN §2) from Go:
//
//	"tfp1:" + first 22 chars of base64url(HMAC-SHA-256(key, credential))
//
// where credential is the raw value (UTF-8) without a leading case-insensitive "Bearer" scheme,
// trimmed of JavaScript white space (the set String.prototype.trim removes, which is not Go's
// unicode.IsSpace: U+FEFF is white space, U+0085 and U+001C are not). Same as tokenwatch's
// schemas/fingerprint.ts; checked against gateway/vectors.json. Copy this file into your module.
package tfp1

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
)

// Prefix starts every tfp1 fingerprint.
const Prefix = "tfp1:"

// MinKeyBytes is the shortest key accepted (TOKENWATCH_FP_KEY).
const MinKeyBytes = 16

var (
	// ErrShortKey: the key is shorter than MinKeyBytes.
	ErrShortKey = errors.New("TOKENWATCH_FP_KEY must be at least 16 bytes")
	// ErrEmptyCredential: nothing is left once the scheme and white space are removed.
	ErrEmptyCredential = errors.New("credential is empty")
)

// isJSSpace reports whether r is JavaScript white space (WhiteSpace or LineTerminator).
func isJSSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0x00a0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff:
		return true
	}
	return r >= 0x2000 && r <= 0x200a
}

// StripScheme removes surrounding white space and a leading case-insensitive "Bearer" scheme.
func StripScheme(credential string) string {
	s := strings.TrimFunc(credential, isJSSpace)
	if len(s) >= 6 && strings.EqualFold(s[:6], "bearer") {
		rest := s[6:]
		if rest == "" {
			return ""
		}
		if t := strings.TrimLeftFunc(rest, isJSSpace); len(t) < len(rest) {
			s = t
		}
	}
	return strings.TrimFunc(s, isJSSpace)
}

// Keyed holds a validated key, for many fingerprints.
type Keyed struct{ key []byte }

// New checks the key (at least 16 bytes).
func New(key []byte) (*Keyed, error) {
	if len(key) < MinKeyBytes {
		return nil, ErrShortKey
	}
	return &Keyed{key: append([]byte(nil), key...)}, nil
}

// Fingerprint returns the tfp1 fingerprint of a raw credential (e.g. "Bearer eyJ…").
func (k *Keyed) Fingerprint(credential string) (string, error) {
	value := StripScheme(credential)
	if value == "" {
		return "", ErrEmptyCredential
	}
	m := hmac.New(sha256.New, k.key)
	m.Write([]byte(value))
	return Prefix + base64.RawURLEncoding.EncodeToString(m.Sum(nil))[:22], nil
}

// Fingerprint returns the tfp1 fingerprint of credential under key.
func Fingerprint(credential string, key []byte) (string, error) {
	k, err := New(key)
	if err != nil {
		return "", err
	}
	return k.Fingerprint(credential)
}
