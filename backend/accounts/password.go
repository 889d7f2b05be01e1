package accounts

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

// argon2Params are argon2id's cost settings, stored in each hash so that
// they can be raised later without invalidating existing hashes.
type argon2Params struct {
	memory  uint32 // KiB
	time    uint32
	threads uint8
	keyLen  uint32
}

// passwordParams is OWASP's minimum for argon2id: 19 MiB, two passes, one
// lane; about 20-50 ms per hash.
var passwordParams = argon2Params{memory: 19456, time: 2, threads: 1, keyLen: 32}

const saltLen = 16

var b64 = base64.RawStdEncoding

// hashPassword returns a PHC string: $argon2id$v=19$m=...,t=...,p=...$salt$hash.
func hashPassword(password string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	p := passwordParams
	key := argon2.IDKey([]byte(password), salt, p.time, p.memory, p.threads, p.keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.memory, p.time, p.threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

var errBadHash = errors.New("malformed password hash")

// verifyPassword reports whether password matches a hash made by
// hashPassword, comparing in constant time.
func verifyPassword(hash, password string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errBadHash
	}
	var p argon2Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.memory, &p.time, &p.threads); err != nil || p.time == 0 || p.threads == 0 {
		return false, errBadHash
	}
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false, errBadHash
	}
	got := argon2.IDKey([]byte(password), salt, p.time, p.memory, p.threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// dummyHash is verified against when the user does not exist, so that the
// answer takes as long as for a wrong password and does not reveal which
// names exist.
var dummyHash = sync.OnceValue(func() string {
	h, err := hashPassword("berth-no-such-user")
	if err != nil {
		panic(fmt.Sprintf("hash dummy password: %v", err))
	}
	return h
})

// withHashSlot runs f once one of the store's hashing slots is free.
func (s *Store) withHashSlot(ctx context.Context, f func()) error {
	select {
	case s.hashSlots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.hashSlots }()
	f()
	return nil
}
