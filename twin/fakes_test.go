package twin

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
)

// memStore is an in-memory Store for the domain's unit tests; the real
// backends are tested by store/storetest.
type memStore struct {
	mu      sync.Mutex
	twins   map[string]*Twin
	records map[string][]Record
	alerts  []Alert
	fail    error
	commits int
	same    map[string]bool // Batch.Same of the last commit, by twin
}

func newMemStore() *memStore {
	return &memStore{twins: map[string]*Twin{}, records: map[string][]Record{}}
}

func (m *memStore) Twin(ctx context.Context, id string) (*Twin, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.twins[id]
	if !ok {
		return nil, ErrNotFound
	}
	return t.Clone(), nil
}

func (m *memStore) Twins(ctx context.Context, q TwinQuery) ([]*Twin, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ids []string
	for id := range m.twins {
		if id > q.After {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	if q.Limit == 0 {
		q.Limit = 100
	}
	var out []*Twin
	for _, id := range ids {
		if len(out) == q.Limit {
			break
		}
		out = append(out, m.twins[id].Clone())
	}
	return out, nil
}

func (m *memStore) Commit(ctx context.Context, b *Batch) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	seen := make(map[string]bool)
	for _, t := range b.Twins {
		if seen[t.ID] {
			return fmt.Errorf("twin %s twice in one batch", t.ID) // as PostgreSQL's upsert would
		}
		seen[t.ID] = true
	}
	m.commits++
	m.same = map[string]bool{}
	for i, t := range b.Twins {
		if len(b.Same) == len(b.Twins) {
			m.same[t.ID] = b.Same[i]
		}
		m.twins[t.ID] = t.Clone()
	}
	for _, r := range b.Records {
		r.Event = append([]byte(nil), r.Event...)
		m.records[r.Twin] = append(m.records[r.Twin], r)
	}
	m.alerts = append(m.alerts, b.Alerts...)
	return nil
}

func (m *memStore) History(ctx context.Context, q HistoryQuery) ([]Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Record(nil), m.records[q.Twin]...), nil
}

func (m *memStore) Alerts(ctx context.Context, q AlertQuery) ([]Alert, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Alert
	for _, a := range m.alerts {
		if q.Twin == "" || a.Twin == q.Twin {
			out = append(out, a)
		}
	}
	return out, nil
}

func (m *memStore) Close() error { return nil }

// bandContract is a native stand-in for a contract: state is the count of
// readings (u64) and the last value (f64); readings above "max" raise an
// alert; value 666 makes it fail like a trap; value 999 sets a timer.
type bandContract struct{}

type fakeHost struct{ c Contract }

var fakeModule = Hash{1, 2, 3}

func (h fakeHost) Resolve(ctx context.Context, name, version string) (ContractRef, error) {
	if name != "band" {
		return ContractRef{}, fmt.Errorf("%w: %s", ErrUnknownPolicy, name)
	}
	return ContractRef{Name: "band", Version: "1", SHA256: fakeModule}, nil
}

func (h fakeHost) Contract(ctx context.Context, module Hash) (Contract, error) {
	if module != fakeModule {
		return nil, ErrUnknownPolicy
	}
	return h.c, nil
}

func (bandContract) Init(ctx context.Context, call Call, event []byte) (Output, error) {
	if err := ctx.Err(); err != nil { // as a wasm host does
		return Output{}, fmt.Errorf("contract: %w", err)
	}
	var e Event
	if err := e.UnmarshalBinary(event); err != nil {
		return Output{}, err
	}
	if strings.Contains(e.Field(1), "refuse") {
		return Output{Reject: "params refused"}, nil
	}
	return Output{State: make([]byte, 16)}, nil
}

func (bandContract) Apply(ctx context.Context, call Call, state, event []byte) (Output, error) {
	if err := ctx.Err(); err != nil {
		return Output{}, fmt.Errorf("contract: %w", err)
	}
	var e Event
	if err := e.UnmarshalBinary(event); err != nil {
		return Output{}, err
	}
	if e.Seq != call.Seq || !e.Time.Equal(call.Time) {
		return Output{}, errors.New("call does not match event")
	}
	st := append([]byte(nil), state...)
	var out Output
	if e.Kind == KindReading {
		switch e.Value {
		case 666:
			return Output{}, &ContractError{Twin: call.Twin, Seq: call.Seq, Kind: FailureTrap, Err: errors.New("unreachable")}
		case 999:
			out.Timers = []Timer{{Name: "silence", At: e.Time.Add(time.Minute)}}
		case 998:
			out.Timers = []Timer{{Name: "silence", Processing: true, Delay: time.Minute}}
		case 997:
			out.Timers = []Timer{{Name: "silence"}} // cancel
		case 555:
			return Output{}, &ContractError{Twin: call.Twin, Seq: call.Seq, Kind: FailureQuarantined, Err: errors.New("watchdog")}
		}
		binary.LittleEndian.PutUint64(st, binary.LittleEndian.Uint64(st)+1)
		binary.LittleEndian.PutUint64(st[8:], math.Float64bits(e.Value))
		if e.Value > 8 {
			out.Alerts = append(out.Alerts, ContractAlert{Severity: SeverityWarning, Code: "too_warm", Message: "above 8"})
		}
		if e.Value > 100 {
			out.Status = StatusCompromised
		}
	}
	if e.Kind == KindTimer {
		out.Alerts = append(out.Alerts, ContractAlert{Severity: SeverityWarning, Code: "silent", Message: e.Field(0) + "/" + e.Field(1)})
	}
	out.State = st
	return out, nil
}

func (bandContract) View(ctx context.Context, call Call, state []byte) ([]byte, error) {
	return fmt.Appendf(nil, `{"readings":%d}`, binary.LittleEndian.Uint64(state)), nil
}
