package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
)

// The spool's files in StateDir/usage.
const (
	spoolDirName   = "usage"
	spoolStateFile = "state.json"
	batchPrefix    = "batch-"
	rejectedDir    = "rejected"
)

// spool keeps the usage records the master does not have yet, as one
// file per sample (batch-SEQ.json, SEQ growing), beside the sampler's
// cursors (state.json). Both are written whole (temporary file, fsync,
// rename), so a crash leaves the old or the new file, never half of one.
//
// A sample commits as: batch file, then state. A batch carries the
// cursors its sample moved, so that an agent killed between the two
// writes finds them there when it starts again. The sender lists the
// batch files under the same lock, so it never delivers (and removes) a
// batch whose state is not yet written. Either way the next windows start
// where the last stored ones ended: no gap, no overlap.
type spool struct {
	dir string

	mu  sync.Mutex
	seq uint64 // guarded by mu; of the newest batch written
}

// usageState is what the sampler keeps across restarts.
type usageState struct {
	Seq uint64 `json:"seq"`
	// LastSample is when the node last sampled every container: a
	// container first seen started after it is counted from its start.
	LastSample time.Time `json:"lastSample"`
	// Cursors hold each running container's counters at the end of its
	// last window, by container ID.
	Cursors map[string]usageCursor `json:"cursors"`
}

// spoolBatch is one batch file.
type spoolBatch struct {
	Items []berthv1.UsageRecord `json:"items"`
	// Cursors and LastSample are the state the sample left (only the
	// cursors it moved).
	Cursors    map[string]usageCursor `json:"cursors"`
	LastSample time.Time              `json:"lastSample"`
}

type usageCursor struct {
	At        time.Time `json:"at"`
	StartedAt time.Time `json:"startedAt"`
	CPUNanos  uint64    `json:"cpuNanos"`
	Memory    int64     `json:"memory"`
	RxBytes   uint64    `json:"rxBytes"`
	TxBytes   uint64    `json:"txBytes"`
}

// openSpool opens (making it) the spool in stateDir and loads the
// sampler's state.
func openSpool(stateDir string) (*spool, usageState, error) {
	dir := filepath.Join(stateDir, spoolDirName)
	if err := os.MkdirAll(filepath.Join(dir, rejectedDir), 0o700); err != nil {
		return nil, usageState{}, fmt.Errorf("usage spool: %w", err)
	}
	s := &spool{dir: dir}
	state := usageState{Cursors: map[string]usageCursor{}}
	data, err := os.ReadFile(filepath.Join(dir, spoolStateFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, state, fmt.Errorf("usage spool: %w", err)
	default:
		if err := json.Unmarshal(data, &state); err != nil {
			return nil, state, fmt.Errorf("usage spool %s: %w", spoolStateFile, err)
		}
		if state.Cursors == nil {
			state.Cursors = map[string]usageCursor{}
		}
	}
	s.seq = state.Seq
	names, err := s.batches()
	if err != nil {
		return nil, state, err
	}
	for _, n := range names {
		seq := seqOf(n)
		if seq <= state.Seq {
			continue
		}
		// Written, but the state after it was not: take its cursors.
		batch, err := s.read(n)
		if errors.Is(err, errDamaged) {
			if err := s.reject([]string{n}); err != nil {
				return nil, state, err
			}
			continue
		}
		if err != nil {
			return nil, state, err
		}
		maps.Copy(state.Cursors, batch.Cursors)
		state.LastSample = batch.LastSample
		s.seq = seq
	}
	return s, state, nil
}

// commit writes a sample: its records (none is fine) with the cursors it
// moved, and then the whole state after it.
func (s *spool) commit(records []berthv1.UsageRecord, moved map[string]usageCursor, state *usageState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(records) > 0 {
		data, err := json.Marshal(spoolBatch{Items: records, Cursors: moved, LastSample: state.LastSample})
		if err != nil {
			return err
		}
		if err := writeFileSync(filepath.Join(s.dir, fmt.Sprintf("%s%020d.json", batchPrefix, s.seq+1)), data); err != nil {
			return fmt.Errorf("usage spool: %w", err)
		}
		s.seq++
	}
	state.Seq = s.seq
	data, err := json.Marshal(state)
	if err != nil {
		return err
	}
	if err := writeFileSync(filepath.Join(s.dir, spoolStateFile), data); err != nil {
		return fmt.Errorf("usage spool: %w", err)
	}
	return nil
}

// batches lists the batch files waiting, oldest first.
func (s *spool) batches() ([]string, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("usage spool: %w", err)
	}
	var names []string
	for _, e := range entries {
		if n := e.Name(); strings.HasPrefix(n, batchPrefix) && strings.HasSuffix(n, ".json") {
			names = append(names, n)
		}
	}
	slices.Sort(names) // zero-padded sequence numbers sort in order
	return names, nil
}

// next reads the oldest waiting batches, up to about limit records, and
// returns them with their file names.
func (s *spool) next(limit int) ([]berthv1.UsageRecord, []string, error) {
	s.mu.Lock()
	names, err := s.batches()
	s.mu.Unlock()
	if err != nil {
		return nil, nil, err
	}
	var records []berthv1.UsageRecord
	var taken []string
	for _, n := range names {
		if len(taken) > 0 && len(records) >= limit {
			break
		}
		batch, err := s.read(n)
		if errors.Is(err, errDamaged) {
			// Never written half (rename), so this is damage from
			// outside: set it aside rather than block the spool.
			if err := s.reject([]string{n}); err != nil {
				return nil, nil, err
			}
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		records = append(records, batch.Items...)
		taken = append(taken, n)
	}
	return records, taken, nil
}

var errDamaged = errors.New("damaged batch file")

func (s *spool) read(name string) (spoolBatch, error) {
	var batch spoolBatch
	data, err := os.ReadFile(filepath.Join(s.dir, name))
	if err != nil {
		return batch, fmt.Errorf("usage spool: %w", err)
	}
	if err := json.Unmarshal(data, &batch); err != nil {
		return batch, fmt.Errorf("usage spool %s: %w: %v", name, errDamaged, err)
	}
	return batch, nil
}

// remove drops batches the master has.
func (s *spool) remove(names []string) error {
	for _, n := range names {
		if err := os.Remove(filepath.Join(s.dir, n)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("usage spool: %w", err)
		}
	}
	return nil
}

// reject moves batches the master refuses for good aside (rejected/), for
// an operator to look at.
func (s *spool) reject(names []string) error {
	for _, n := range names {
		if err := os.Rename(filepath.Join(s.dir, n), filepath.Join(s.dir, rejectedDir, n)); err != nil {
			return fmt.Errorf("usage spool: %w", err)
		}
	}
	return nil
}

func seqOf(name string) uint64 {
	var seq uint64
	fmt.Sscanf(strings.TrimPrefix(name, batchPrefix), "%020d", &seq)
	return seq
}

// writeFileSync replaces path with data durably: a temporary file,
// fsync, rename, fsync of the directory.
func writeFileSync(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
