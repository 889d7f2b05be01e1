package api

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	jsonv2 "github.com/go-json-experiment/json"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
)

// agentBatch is a batch as the agent encodes it (encoding/json).
func agentBatch(t testing.TB, n int) []byte {
	t.Helper()
	start := time.Date(2026, 12, 1, 10, 0, 0, 123456789, time.UTC)
	list := berthv1.UsageRecordList{Items: make([]berthv1.UsageRecord, n)}
	list.Kind, list.APIVersion = "UsageRecordList", berthv1.SchemeGroupVersion.String()
	for i := range list.Items {
		list.Items[i] = berthv1.UsageRecord{
			Node: "n1", ContainerID: "c-" + strings.Repeat("a", i%3), WindowStart: start.Add(time.Duration(i) * 15 * time.Second),
			WindowEnd: start.Add(time.Duration(i+1) * 15 * time.Second), PodUID: "uid-1", Namespace: "ns", Pod: "pod-é", Container: "app",
			CPUSeconds: 1.0 / 3, MemoryByteSeconds: 1.5e20, MemoryBytes: 1 << 40, MemoryPeakBytes: -1, NetworkRxBytes: 9007199254740993,
			NetworkTxBytes: 0, RunningSeconds: 15,
		}
		if i%2 == 1 {
			list.Items[i].User = "alice"
		}
	}
	data, err := json.Marshal(list)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// strictDecode is the general decoding of a batch that decodeRecordList
// must never be more lenient than.
func strictDecode(body []byte) (berthv1.UsageRecordList, error) {
	var list berthv1.UsageRecordList
	err := jsonv2.Unmarshal(body, &list, jsonv2.RejectUnknownMembers(true))
	return list, err
}

// A batch as agents send it decodes to what the general decoder makes of
// it; any other form is left to the general decoder (errNotPlain), which
// decides.
func TestDecodeRecordList(t *testing.T) {
	batch := string(agentBatch(t, 3))
	want, err := strictDecode([]byte(batch))
	if err != nil {
		t.Fatal(err)
	}
	var got berthv1.UsageRecordList
	if err := decodeRecordList([]byte(batch), &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded %+v\nwant    %+v", got, want)
	}

	record := `{"node":"n1","containerID":"c","windowStart":"2026-12-01T10:00:00Z","windowEnd":"2026-12-01T10:00:15Z","podUID":"u","namespace":"ns","pod":"p","container":"app","cpuSeconds":1,"memoryByteSeconds":1,"memoryBytes":1,"memoryPeakBytes":1,"networkRxBytes":1,"networkTxBytes":1,"runningSeconds":15}`
	wrap := func(items string) string {
		return `{"kind":"UsageRecordList","apiVersion":"berth.dev/v1","metadata":{},"items":[` + items + `]}`
	}
	edit := func(old, new string) string { return wrap(strings.Replace(record, old, new, 1)) }
	left := []struct{ name, body string }{
		{"an unknown member", edit(`"node"`, `"extra":1,"node"`)},
		{"a member twice", edit(`"pod":"p"`, `"pod":"p","pod":"q"`)},
		{"a member twice, once escaped", edit(`"pod":"p"`, `"pod":"p","p\u006fd":"q"`)},
		{"a member named in another case", edit(`"node"`, `"Node"`)},
		{"an escaped member name", edit(`"node"`, `"n\u006fde"`)},
		{"null for a string", edit(`"pod":"p"`, `"pod":null`)},
		{"null for a number", edit(`"cpuSeconds":1`, `"cpuSeconds":null`)},
		{"a string for a number", edit(`"memoryBytes":1`, `"memoryBytes":"1"`)},
		{"a number for a string", edit(`"pod":"p"`, `"pod":1`)},
		{"a fraction for an integer", edit(`"memoryBytes":1`, `"memoryBytes":1.5`)},
		{"an exponent for an integer", edit(`"memoryBytes":1`, `"memoryBytes":1e3`)},
		{"an integer past int64", edit(`"memoryBytes":1`, `"memoryBytes":9223372036854775808`)},
		{"a float past float64", edit(`"cpuSeconds":1`, `"cpuSeconds":1e400`)},
		{"an escaped string", edit(`"pod":"p"`, `"pod":"p\n"`)},
		{"a time that is not RFC 3339", edit(`"2026-12-01T10:00:00Z"`, `"2026-12-01 10:00:00Z"`)},
		{"a time without its zone", edit(`"2026-12-01T10:00:00Z"`, `"2026-12-01T10:00:00"`)},
		{"an hour 24", edit(`"2026-12-01T10:00:00Z"`, `"2026-12-01T24:00:00Z"`)},
		{"a time as a number", edit(`"2026-12-01T10:00:00Z"`, `0`)},
		{"metadata with a member", `{"kind":"UsageRecordList","metadata":{"resourceVersion":"1"},"items":[]}`},
		{"items null", `{"kind":"UsageRecordList","items":null}`},
		{"an item null", wrap("null")},
		{"an array", `[` + record + `]`},
		{"trailing data", wrap(record) + `{}`},
		{"truncated", wrap(record)[:100]},
		{"invalid UTF-8", edit(`"pod":"p"`, "\"pod\":\"p\xff\"")},
	}
	for _, tt := range left {
		t.Run(tt.name, func(t *testing.T) {
			var list berthv1.UsageRecordList
			if err := decodeRecordList([]byte(tt.body), &list); err != errNotPlain {
				t.Fatalf("decodeRecordList = %v, want errNotPlain", err)
			}
		})
	}
	t.Run("the plain form", func(t *testing.T) {
		var list berthv1.UsageRecordList
		if err := decodeRecordList([]byte(wrap(record+","+record)), &list); err != nil || len(list.Items) != 2 {
			t.Fatalf("%d items, %v", len(list.Items), err)
		}
	})
}

// Whatever decodeRecordList accepts, the general decoder accepts too, as
// the same batch.
func FuzzDecodeRecordList(f *testing.F) {
	f.Add(agentBatch(f, 2))
	f.Add([]byte(`{"items":[{"node":"n","cpuSeconds":-0.0e-0,"windowStart":"2026-12-01T10:00:00.5+01:00"}]}`))
	f.Add([]byte(`{"kind":"","apiVersion":"","metadata":{},"items":[]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var got berthv1.UsageRecordList
		if decodeRecordList(body, &got) != nil {
			return
		}
		want, err := strictDecode(body)
		if err != nil {
			t.Fatalf("decodeRecordList took %q, which the general decoder refuses: %v", body, err)
		}
		if !reflect.DeepEqual(got, want) && !(len(got.Items) == 0 && len(want.Items) == 0) {
			t.Fatalf("decoded %+v\nthe general decoder %+v", got, want)
		}
	})
}

// BenchmarkDecodeRecordList decodes a batch of 4000 records as agents send
// it; BenchmarkDecodeRecordListGeneral with go-json-experiment, strict.
func BenchmarkDecodeRecordList(b *testing.B) {
	body := agentBatch(b, 4000)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var list berthv1.UsageRecordList
		if err := decodeRecordList(body, &list); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeRecordListGeneral(b *testing.B) {
	body := agentBatch(b, 4000)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := strictDecode(body); err != nil {
			b.Fatal(err)
		}
	}
}
