package metering

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
)

// copyRecords COPYs records (those at idx, all when idx is nil) into
// table in PostgreSQL's binary format, encoded here in one buffer: a
// batch of thousands of records spent more time in pgx's per-value
// encoding (a []any per row, a plan looked up per value) than PostgreSQL
// took to store it. The columns are recordColumns'.
func copyRecords(ctx context.Context, tx pgx.Tx, table string, records []berthv1.UsageRecord, idx []int) (int64, error) {
	n := len(idx)
	if idx == nil {
		n = len(records)
	}
	e := copyEncoder{buf: make([]byte, 0, 19+n*400)}
	e.buf = append(e.buf, "PGCOPY\n\xff\r\n\x00"...)
	e.buf = binary.BigEndian.AppendUint32(e.buf, 0) // flags
	e.buf = binary.BigEndian.AppendUint32(e.buf, 0) // header extension
	for i := range n {
		j := i
		if idx != nil {
			j = idx[i]
		}
		e.record(&records[j])
	}
	e.buf = binary.BigEndian.AppendUint16(e.buf, 0xffff) // trailer
	sql := "COPY " + pgx.Identifier{table}.Sanitize() + " (" + strings.Join(recordColumns, ", ") + ") FROM STDIN (FORMAT binary)"
	tag, err := tx.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(e.buf), sql)
	return tag.RowsAffected(), err
}

// copyEncoder appends rows of the binary COPY format.
type copyEncoder struct{ buf []byte }

// record appends one row, in recordColumns' order.
func (e *copyEncoder) record(r *berthv1.UsageRecord) {
	podSeconds := 0.0
	if r.Container == InfraContainer {
		podSeconds = r.RunningSeconds
	}
	e.buf = binary.BigEndian.AppendUint16(e.buf, uint16(len(recordColumns)))
	e.text(r.Node)
	e.text(r.ContainerID)
	e.timestamp(r.WindowStart)
	e.timestamp(r.WindowEnd)
	e.text(r.Namespace)
	e.text(r.Pod)
	e.text(r.PodUID)
	e.text(r.Container)
	e.text(r.User)
	e.float(r.CPUSeconds)
	e.float(r.MemoryByteSeconds)
	e.int(r.MemoryBytes)
	e.int(r.MemoryPeakBytes)
	e.int(r.NetworkRxBytes)
	e.int(r.NetworkTxBytes)
	e.float(r.RunningSeconds)
	e.float(podSeconds)
}

// text is a text value: its bytes, which PostgreSQL checks are valid in
// the database's encoding as it does for any client's text.
func (e *copyEncoder) text(s string) {
	e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(len(s)))
	e.buf = append(e.buf, s...)
}

// postgresEpoch is where PostgreSQL's timestamps count from, in Unix
// microseconds.
const postgresEpoch = 946684800 * 1_000_000

// timestamp is a timestamptz: microseconds since 2000-01-01 UTC, the
// nanoseconds truncated as pgx does.
func (e *copyEncoder) timestamp(t time.Time) {
	e.buf = binary.BigEndian.AppendUint32(e.buf, 8)
	e.buf = binary.BigEndian.AppendUint64(e.buf, uint64(t.Unix()*1_000_000+int64(t.Nanosecond())/1000-postgresEpoch))
}

func (e *copyEncoder) float(f float64) {
	e.buf = binary.BigEndian.AppendUint32(e.buf, 8)
	e.buf = binary.BigEndian.AppendUint64(e.buf, math.Float64bits(f))
}

func (e *copyEncoder) int(n int64) {
	e.buf = binary.BigEndian.AppendUint32(e.buf, 8)
	e.buf = binary.BigEndian.AppendUint64(e.buf, uint64(n))
}
