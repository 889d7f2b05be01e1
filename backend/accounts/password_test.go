package accounts

import (
	"regexp"
	"testing"
)

func TestPasswordHash(t *testing.T) {
	hash, err := hashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	phc := regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !phc.MatchString(hash) {
		t.Fatalf("hash %q is not a PHC argon2id string", hash)
	}
	again, _ := hashPassword("correct horse")
	if again == hash {
		t.Error("two hashes of one password are equal: salt not random")
	}

	tests := []struct {
		name     string
		hash     string
		password string
		want     bool
		wantErr  bool
	}{
		{"right", hash, "correct horse", true, false},
		{"wrong", hash, "correct horse ", false, false},
		{"other algorithm", "$2a$10$abcdefghijklmnopqrstuv", "x", false, true},
		{"bad params", "$argon2id$v=19$m=x,t=2,p=1$c2FsdA$aGFzaA", "x", false, true},
		{"zero time", "$argon2id$v=19$m=64,t=0,p=1$c2FsdA$aGFzaA", "x", false, true},
		{"other version", "$argon2id$v=16$m=64,t=1,p=1$c2FsdA$aGFzaA", "x", false, true},
		{"bad base64", "$argon2id$v=19$m=64,t=1,p=1$!!$aGFzaA", "x", false, true},
		{"empty", "", "x", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := verifyPassword(tt.hash, tt.password)
			if ok != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("verifyPassword = %v, %v; want %v, error %v", ok, err, tt.want, tt.wantErr)
			}
		})
	}
}
