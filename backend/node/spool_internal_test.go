package node

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
)

// An agent killed after it wrote a batch but before the state after it
// finds the batch's cursors when it starts again, so that its next windows
// start where the batch's ended; the batches are delivered in order.
func TestSpoolRecoversFromACrashBetweenBatchAndState(t *testing.T) {
	dir := t.TempDir()
	sp, state, err := openSpool(dir)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	rec := func(start time.Time) berthv1.UsageRecord {
		return berthv1.UsageRecord{ContainerID: "c1", WindowStart: start, WindowEnd: start.Add(15 * time.Second)}
	}
	moved := map[string]usageCursor{"c1": {At: t0.Add(15 * time.Second), CPUNanos: 1e9}}
	state.Cursors["c1"] = moved["c1"]
	state.LastSample = t0.Add(15 * time.Second)
	if err := sp.commit([]berthv1.UsageRecord{rec(t0)}, moved, &state); err != nil {
		t.Fatal(err)
	}
	// The second sample's batch reaches the disk; its state does not.
	second := spoolBatch{Items: []berthv1.UsageRecord{rec(t0.Add(15 * time.Second))},
		Cursors: map[string]usageCursor{"c1": {At: t0.Add(30 * time.Second), CPUNanos: 2e9}}, LastSample: t0.Add(30 * time.Second)}
	data, _ := json.Marshal(second)
	if err := writeFileSync(filepath.Join(dir, spoolDirName, fmt.Sprintf("%s%020d.json", batchPrefix, 2)), data); err != nil {
		t.Fatal(err)
	}

	sp, state, err = openSpool(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c := state.Cursors["c1"]; !c.At.Equal(t0.Add(30*time.Second)) || c.CPUNanos != 2e9 || !state.LastSample.Equal(t0.Add(30*time.Second)) {
		t.Fatalf("state after the crash: %+v", state)
	}
	records, names, err := sp.next(usageBatchRecords)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 2 || len(records) != 2 || !records[0].WindowStart.Equal(t0) || !records[1].WindowStart.Equal(t0.Add(15*time.Second)) {
		t.Fatalf("waiting: %v %+v", names, records)
	}
	// The next sample continues the sequence.
	if err := sp.commit([]berthv1.UsageRecord{rec(t0.Add(30 * time.Second))}, nil, &state); err != nil {
		t.Fatal(err)
	}
	if state.Seq != 3 {
		t.Fatalf("seq %d, want 3", state.Seq)
	}
	if err := sp.remove(names); err != nil {
		t.Fatal(err)
	}
	if _, names, _ := sp.next(usageBatchRecords); len(names) != 1 || seqOf(names[0]) != 3 {
		t.Fatalf("left: %v", names)
	}
}
