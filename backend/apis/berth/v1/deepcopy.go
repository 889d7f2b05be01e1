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

func (in *UsageRecordList) DeepCopyObject() runtime.Object {
	out := *in
	out.Items = append([]UsageRecord(nil), in.Items...)
	return &out
}

func (in *UsageIngest) DeepCopyObject() runtime.Object {
	out := *in
	return &out
}

func (in *UsageReport) DeepCopyObject() runtime.Object {
	out := *in
	out.GroupBy = append([]string(nil), in.GroupBy...)
	out.Rows = make([]UsageRow, len(in.Rows))
	for i, r := range in.Rows {
		out.Rows[i] = r.deepCopy()
	}
	out.Total = in.Total.deepCopy()
	return &out
}

func (in UsageRow) deepCopy() UsageRow {
	out := in
	if in.Hour != nil {
		h := *in.Hour
		out.Hour = &h
	}
	if in.Minute != nil {
		m := *in.Minute
		out.Minute = &m
	}
	return out
}
