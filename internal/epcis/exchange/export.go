package exchange

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/custos-dev/custos/internal/epcis"
	"github.com/custos-dev/custos/twin"
)

// ErrTooLarge: an export would hold more than MaxExportRecords events.
var ErrTooLarge = errors.New("export too large")

// MaxExportRecords caps the events of one export.
const MaxExportRecords = 200_000

// Export renders the histories of twins (records with event time in
// [from, to]; zero = open) as one EPCISDocument.
func (x *Exchange) Export(ctx context.Context, ids []string, from, to time.Time) (*epcis.Document, error) {
	hs := make([]epcis.History, 0, len(ids))
	total := 0
	epcs := map[string]string{}
	for _, id := range ids {
		t, err := x.cfg.Store.Twin(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("twin %s: %w", id, err)
		}
		h := epcis.History{Twin: t}
		q := twin.HistoryQuery{Twin: id, From: from, To: to, Limit: 1000}
		for {
			recs, err := x.cfg.Store.History(ctx, q)
			if err != nil {
				return nil, fmt.Errorf("history %s: %w", id, err)
			}
			h.Records = append(h.Records, recs...)
			total += len(recs)
			if total > MaxExportRecords {
				return nil, fmt.Errorf("%w: over %d events; narrow the window (from, to) or page the fleet (limit)", ErrTooLarge, MaxExportRecords)
			}
			if len(recs) < q.Limit {
				break
			}
			q.AfterSeq = recs[len(recs)-1].Seq
		}
		aq := twin.AlertQuery{Twin: id, From: from, To: to, Limit: 1000}
		for {
			as, err := x.cfg.Store.Alerts(ctx, aq)
			if err != nil {
				return nil, fmt.Errorf("alerts %s: %w", id, err)
			}
			h.Alerts = append(h.Alerts, as...)
			if len(as) < aq.Limit {
				break
			}
			aq.AfterN = as[len(as)-1].N
		}
		hs = append(hs, h)
	}
	mods := map[twin.Hash]twin.ContractRef{}
	for _, p := range x.cfg.Policies.Policies() {
		mods[p.SHA256] = p
	}
	return epcis.Export(hs, epcis.ExportOptions{
		Created: time.Now(),
		EPC: func(id string) string {
			if e, ok := epcs[id]; ok {
				return e
			}
			e := x.Identifier(ctx, id)
			if e == "" {
				e = epcis.TwinURIPrefix + id
			}
			epcs[id] = e
			return e
		},
		Module: func(sha twin.Hash) (string, string, bool) {
			p, ok := mods[sha]
			return p.Name, p.Version, ok
		},
	})
}
