package accounts

import (
	"crypto/sha256"
	"strings"
	"testing"
	"time"
)

func TestCreateUser(t *testing.T) {
	s := testStore(t)
	parent := t
	tests := []struct {
		name     string
		user     string
		password string
		want     error
	}{
		{"valid", "alice", "correct horse", nil},
		{"duplicate", "alice", "another password", ErrAlreadyExists},
		{"digits and dashes", "build-bot-2", "correct horse", nil},
		{"longest name", strings.Repeat("a", 63), "correct horse", nil},
		{"empty name", "", "correct horse", ErrInvalid},
		{"upper case", "Alice", "correct horse", ErrInvalid},
		{"leading dash", "-bob", "correct horse", ErrInvalid},
		{"trailing dash", "bob-", "correct horse", ErrInvalid},
		{"underscore", "b_ob", "correct horse", ErrInvalid},
		{"dot", "b.ob", "correct horse", ErrInvalid},
		{"name too long", strings.Repeat("a", 64), "correct horse", ErrInvalid},
		{"short password", "carol", "seven77", ErrInvalid},
		{"eight multibyte characters", "dave", "ééééééé€", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := s.CreateUser(t.Context(), tt.user, tt.password, false)
			wantErr(t, "CreateUser", err, tt.want)
			if tt.want != nil {
				return
			}
			deleteUserAtEnd(parent, s, tt.user)
			if u.ID == 0 || u.Name != tt.user || u.CreatedAt.IsZero() || u.ClusterAdmin {
				t.Errorf("created %+v", u)
			}
			got, err := s.GetUser(t.Context(), tt.user)
			if err != nil || got != u {
				t.Errorf("GetUser = %+v, %v; want %+v", got, err, u)
			}
		})
	}
}

func TestUserLifecycle(t *testing.T) {
	s := testStore(t)
	ctx := t.Context()
	before, err := s.UserCount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := s.CreateUser(ctx, "lifecycle-admin", "correct horse", true)
	if err != nil || !admin.ClusterAdmin {
		t.Fatalf("CreateUser admin = %+v, %v", admin, err)
	}
	deleteUserAtEnd(t, s, admin.Name)
	mustCreateUser(t, s, "lifecycle-user")

	if n, err := s.UserCount(ctx); err != nil || n != before+2 {
		t.Errorf("UserCount = %d, %v; want %d", n, err, before+2)
	}
	users, err := s.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range users {
		if strings.HasPrefix(u.Name, "lifecycle-") {
			names = append(names, u.Name)
		}
	}
	if strings.Join(names, ",") != "lifecycle-admin,lifecycle-user" {
		t.Errorf("ListUsers has %v, want lifecycle-admin,lifecycle-user in order", names)
	}

	wantErr(t, "DeleteUser", s.DeleteUser(ctx, "lifecycle-user"), nil)
	wantErr(t, "DeleteUser again", s.DeleteUser(ctx, "lifecycle-user"), ErrNotFound)
	_, err = s.GetUser(ctx, "lifecycle-user")
	wantErr(t, "GetUser deleted", err, ErrNotFound)
	if n, _ := s.UserCount(ctx); n != before+1 {
		t.Errorf("UserCount after delete = %d, want %d", n, before+1)
	}
}

func TestCheckPassword(t *testing.T) {
	s := testStore(t)
	want := mustCreateUser(t, s, "checker")
	tests := []struct {
		name     string
		user     string
		password string
		want     error
	}{
		{"right", "checker", "correct horse", nil},
		{"wrong", "checker", "correct horsE", ErrInvalidCredentials},
		{"empty", "checker", "", ErrInvalidCredentials},
		{"unknown user", "nobody-here", "correct horse", ErrInvalidCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := s.CheckPassword(t.Context(), tt.user, tt.password)
			wantErr(t, "CheckPassword", err, tt.want)
			if tt.want == nil && u != want {
				t.Errorf("CheckPassword = %+v, want %+v", u, want)
			}
		})
	}
}

func TestSetPassword(t *testing.T) {
	s := ownStore(t)
	ctx := t.Context()
	u := mustCreateUser(t, s, "changer")
	revoked := recordRevocations(s)
	secret := func(name, kind string) string {
		sec, _, err := s.CreateToken(ctx, u.ID, name, kind, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.AuthenticateToken(ctx, sec); err != nil { // cached, so the change must reach the cache
			t.Fatal(err)
		}
		return sec
	}
	current, laptop, phone, ci := secret("session-current", KindSession), secret("session-laptop", KindSession), secret("session-phone", KindSession), secret("ci", KindAPI)

	_, err := s.SetPassword(ctx, "changer", "short", current)
	wantErr(t, "SetPassword short", err, ErrInvalid)
	_, err = s.SetPassword(ctx, "no-such-changer", "long enough", "")
	wantErr(t, "SetPassword unknown", err, ErrNotFound)
	ended, err := s.SetPassword(ctx, "changer", "battery staple", current)
	wantErr(t, "SetPassword", err, nil)
	if ended != 2 {
		t.Errorf("SetPassword ended %d sessions, want 2", ended)
	}

	_, err = s.CheckPassword(ctx, "changer", "correct horse")
	wantErr(t, "old password", err, ErrInvalidCredentials)
	_, err = s.CheckPassword(ctx, "changer", "battery staple")
	wantErr(t, "new password", err, nil)

	for _, tt := range []struct {
		name, secret string
		want         error
	}{
		{"the session that changed it", current, nil},
		{"another session", laptop, ErrUnauthenticated},
		{"a third session", phone, ErrUnauthenticated},
		{"an API token", ci, nil},
	} {
		_, _, err := s.AuthenticateToken(ctx, tt.secret)
		wantErr(t, tt.name, err, tt.want)
	}
	want := []Revocation{{Credentials: [][32]byte{sha256.Sum256([]byte(laptop)), sha256.Sum256([]byte(phone))}}}
	if got := revoked(); !sameRevocations(got, want) {
		t.Errorf("revocations told %v, want %v", got, want)
	}

	ended, err = s.SetPassword(ctx, "changer", "battery staple 2", "")
	wantErr(t, "SetPassword keeping none", err, nil)
	if ended != 1 {
		t.Errorf("SetPassword without a session to keep ended %d, want 1", ended)
	}
}
