package policytest

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/custos-dev/custos/twin"
)

// memStore is an in-memory twin.Store: what the runtime needs to run a
// contract offline, with nothing durable.
type memStore struct {
	mu      sync.Mutex
	twins   map[string]*twin.Twin
	records map[string][]twin.Record
	alerts  []twin.Alert
}

var _ twin.Store = (*memStore)(nil)

func newMemStore() *memStore {
	return &memStore{twins: make(map[string]*twin.Twin), records: make(map[string][]twin.Record)}
}

func (s *memStore) Twin(_ context.Context, id string) (*twin.Twin, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.twins[id]
	if !ok {
		return nil, fmt.Errorf("twin %s: %w", id, twin.ErrNotFound)
	}
	return t.Clone(), nil
}

func (s *memStore) Twins(_ context.Context, q twin.TwinQuery) ([]*twin.Twin, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.twins))
	for id := range s.twins {
		if id > q.After {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	var out []*twin.Twin
	for _, id := range ids {
		t := s.twins[id]
		if !q.Match(t) {
			continue
		}
		out = append(out, t.Clone())
		if len(out) == limit {
			break
		}
	}
	return out, nil
}

func (s *memStore) Commit(_ context.Context, b *twin.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range b.Twins {
		s.twins[t.ID] = t.Clone()
	}
	for _, r := range b.Records {
		r.Event = append([]byte(nil), r.Event...)
		rs := s.records[r.Twin]
		if i, found := slices.BinarySearchFunc(rs, r.Seq, func(a twin.Record, seq uint64) int { return int(a.Seq) - int(seq) }); found {
			rs[i] = r
		} else {
			s.records[r.Twin] = slices.Insert(rs, i, r)
		}
	}
	s.alerts = append(s.alerts, b.Alerts...)
	return nil
}

func (s *memStore) History(_ context.Context, q twin.HistoryQuery) ([]twin.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	var out []twin.Record
	for _, r := range s.records[q.Twin] {
		if r.Seq <= q.AfterSeq || (!q.From.IsZero() && r.Time.Before(q.From)) || (!q.To.IsZero() && !r.Time.Before(q.To)) {
			continue
		}
		out = append(out, r)
		if len(out) == limit {
			break
		}
	}
	return out, nil
}

func (s *memStore) Alerts(_ context.Context, q twin.AlertQuery) ([]twin.Alert, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	var out []twin.Alert
	for _, a := range s.alerts {
		if (q.Twin != "" && a.Twin != q.Twin) || a.N <= q.AfterN {
			continue
		}
		out = append(out, a)
		if len(out) == limit {
			break
		}
	}
	return out, nil
}

func (s *memStore) Close() error { return nil }
