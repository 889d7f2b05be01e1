package hostimages

import (
	"context"
	"fmt"
	"time"
)

// MaxLogBytes bounds a build's log; past it the builder keeps the end
// of the build out of the log and says so.
const MaxLogBytes = 32 << 20

// LogChunk is a piece of a build's log as it was written.
type LogChunk struct {
	// Offset is where the piece starts in the log.
	Offset int64
	At     time.Time
	Data   []byte
}

// AppendLog adds a piece at the end of a build's log; offset must be the
// log's length so far (the builder alone writes a build's log).
func (s *Store) AppendLog(ctx context.Context, buildID, offset int64, data []byte) error {
	if len(data) == 0 {
		return nil
	}
	_, err := s.pool.Exec(ctx, `WITH chunk AS (
			INSERT INTO hostimage_build_logs (build_id, log_offset, data) VALUES ($1, $2, $3))
		UPDATE hostimage_builds SET log_size = $2 + length($3) WHERE id = $1`, buildID, offset, data)
	if err != nil {
		return fmt.Errorf("build log: %w", err)
	}
	s.events.notify(ctx, eventLog, fmt.Sprint(buildID))
	return nil
}

// ReadLog returns the pieces of a build's log that end after from, at
// most limit of them, oldest first. A piece that straddles from is cut
// there.
func (s *Store) ReadLog(ctx context.Context, buildID, from int64, limit int) ([]LogChunk, error) {
	rows, err := s.pool.Query(ctx, `SELECT log_offset, written_at, data FROM hostimage_build_logs
		WHERE build_id = $1 AND log_offset + length(data) > $2 ORDER BY log_offset LIMIT $3`, buildID, from, limit)
	if err != nil {
		return nil, fmt.Errorf("build log: %w", err)
	}
	defer rows.Close()
	var out []LogChunk
	for rows.Next() {
		var c LogChunk
		if err := rows.Scan(&c.Offset, &c.At, &c.Data); err != nil {
			return nil, err
		}
		if c.Offset < from {
			c.Data = c.Data[from-c.Offset:]
			c.Offset = from
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
