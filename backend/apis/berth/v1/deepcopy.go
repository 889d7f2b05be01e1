package v1

import "k8s.io/apimachinery/pkg/runtime"

// The types here hold no pointers beyond metadata and a few times, so a
// copy of the struct plus a deep copy of the metadata is a deep copy.

func (in *Project) DeepCopyObject() runtime.Object {
	out := *in
	in.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	return &out
}

func (in *ProjectList) DeepCopyObject() runtime.Object {
	out := *in
	out.Items = make([]Project, len(in.Items))
	for i := range in.Items {
		out.Items[i] = *in.Items[i].DeepCopyObject().(*Project)
	}
	return &out
}

func (in *User) DeepCopyObject() runtime.Object {
	out := *in
	in.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	return &out
}

func (in *UserList) DeepCopyObject() runtime.Object {
	out := *in
	out.Items = make([]User, len(in.Items))
	for i := range in.Items {
		out.Items[i] = *in.Items[i].DeepCopyObject().(*User)
	}
	return &out
}

func (in *PasswordChange) DeepCopyObject() runtime.Object {
	out := *in
	return &out
}

func (in *Token) DeepCopyObject() runtime.Object {
	out := *in
	in.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	if in.Status.ExpiresAt != nil {
		out.Status.ExpiresAt = in.Status.ExpiresAt.DeepCopy()
	}
	if in.Status.LastUsed != nil {
		out.Status.LastUsed = in.Status.LastUsed.DeepCopy()
	}
	return &out
}

func (in *TokenList) DeepCopyObject() runtime.Object {
	out := *in
	out.Items = make([]Token, len(in.Items))
	for i := range in.Items {
		out.Items[i] = *in.Items[i].DeepCopyObject().(*Token)
	}
	return &out
}

func (in *Member) DeepCopyObject() runtime.Object {
	out := *in
	in.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	return &out
}

func (in *MemberList) DeepCopyObject() runtime.Object {
	out := *in
	out.Items = make([]Member, len(in.Items))
	for i := range in.Items {
		out.Items[i] = *in.Items[i].DeepCopyObject().(*Member)
	}
	return &out
}

func (in *WhoAmI) DeepCopyObject() runtime.Object {
	out := *in
	return &out
}

func (in *AuditEntryList) DeepCopyObject() runtime.Object {
	out := *in
	out.Items = append([]AuditEntry(nil), in.Items...)
	return &out
}
