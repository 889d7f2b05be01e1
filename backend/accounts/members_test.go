package accounts

import (
	"maps"
	"reflect"
	"testing"
)

func TestSetMember(t *testing.T) {
	s := testStore(t)
	mustCreateUser(t, s, "member-a")
	tests := []struct {
		name    string
		project string
		user    string
		role    string
		want    error
	}{
		{"admin", "shop", "member-a", RoleAdmin, nil},
		{"change role", "shop", "member-a", RoleView, nil},
		{"edit", "blog", "member-a", RoleEdit, nil},
		{"unknown user", "shop", "member-nobody", RoleView, ErrNotFound},
		{"bad role", "shop", "member-a", "owner", ErrInvalid},
		{"bad project", "Shop", "member-a", RoleView, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, "SetMember", s.SetMember(t.Context(), tt.project, tt.user, tt.role), tt.want)
		})
	}
}

func TestMemberships(t *testing.T) {
	s := testStore(t)
	ctx := t.Context()
	ann := mustCreateUser(t, s, "ann")
	bob := mustCreateUser(t, s, "bob")
	nobody := mustCreateUser(t, s, "not-a-member")
	for _, m := range []Member{
		{"web", "bob", RoleView}, {"web", "ann", RoleAdmin}, {"db", "ann", RoleEdit}, {"db", "bob", RoleAdmin},
	} {
		wantErr(t, "SetMember", s.SetMember(ctx, m.Project, m.User, m.Role), nil)
	}

	roleOf := func(userID int64, project string) string {
		t.Helper()
		role, err := s.RoleOf(ctx, userID, project)
		if err != nil {
			t.Fatalf("RoleOf: %v", err)
		}
		return role
	}
	t.Run("RoleOf", func(t *testing.T) {
		tests := []struct {
			name    string
			userID  int64
			project string
			want    string
		}{
			{"admin", ann.ID, "web", RoleAdmin},
			{"view", bob.ID, "web", RoleView},
			{"not a member", nobody.ID, "web", ""},
			{"unknown project", ann.ID, "nowhere", ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				for range 2 { // the second answer comes from the cache
					if got := roleOf(tt.userID, tt.project); got != tt.want {
						t.Errorf("RoleOf = %q, want %q", got, tt.want)
					}
				}
			})
		}
	})
	t.Run("ListMembers", func(t *testing.T) {
		got, err := s.ListMembers(ctx, "web")
		if err != nil {
			t.Fatal(err)
		}
		want := []Member{{"web", "ann", RoleAdmin}, {"web", "bob", RoleView}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("ListMembers = %v, want %v", got, want)
		}
	})
	t.Run("ProjectsOf", func(t *testing.T) {
		got, err := s.ProjectsOf(ctx, ann.ID)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[string]string{"web": RoleAdmin, "db": RoleEdit}; !maps.Equal(got, want) {
			t.Errorf("ProjectsOf = %v, want %v", got, want)
		}
	})
	t.Run("changes reach the cache", func(t *testing.T) {
		wantErr(t, "SetMember", s.SetMember(ctx, "web", "bob", RoleEdit), nil)
		if got := roleOf(bob.ID, "web"); got != RoleEdit {
			t.Errorf("after SetMember: %q, want edit", got)
		}
		wantErr(t, "RemoveMember", s.RemoveMember(ctx, "web", "bob"), nil)
		wantErr(t, "RemoveMember again", s.RemoveMember(ctx, "web", "bob"), ErrNotFound)
		if got := roleOf(bob.ID, "web"); got != "" {
			t.Errorf("after RemoveMember: %q, want none", got)
		}
		wantErr(t, "DeleteProject", s.DeleteProject(ctx, "db"), nil)
		if got := roleOf(bob.ID, "db"); got != "" {
			t.Errorf("after DeleteProject: %q, want none", got)
		}
		if members, _ := s.ListMembers(ctx, "db"); len(members) != 0 {
			t.Errorf("after DeleteProject: members %v", members)
		}
		wantErr(t, "DeleteUser", s.DeleteUser(ctx, "ann"), nil)
		if got := roleOf(ann.ID, "web"); got != "" {
			t.Errorf("after DeleteUser: %q, want none", got)
		}
	})
}
