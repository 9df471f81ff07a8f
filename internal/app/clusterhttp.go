package app

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/custos-dev/custos/twin"
)

// ResultPrefix starts the core NATS subject on which the node that applied
// a command input publishes its result, for the node that took the HTTP
// request: custos.cluster.result.<stream seq> (docs/cluster.md, "HTTP and
// dashboard through any node").
const ResultPrefix = "custos.cluster.result."

// wireResult is a twin.Result on ResultPrefix subjects.
type wireResult struct {
	Node      string            `json:"node"`
	Seq       uint64            `json:"seq"`
	Duplicate bool              `json:"duplicate,omitempty"`
	Err       *wireInputError   `json:"err,omitempty"`
	Failed    []wireFailedEvent `json:"failed,omitempty"`
}

type wireInputError struct {
	Reason twin.Reason `json:"reason"`
	Detail string      `json:"detail"`
}

type wireFailedEvent struct {
	Index int             `json:"index"`
	Err   *wireInputError `json:"err"`
}

func toWire(e *twin.InputError) *wireInputError {
	if e == nil {
		return nil
	}
	return &wireInputError{Reason: e.Reason, Detail: e.Detail}
}

func fromWire(e *wireInputError) *twin.InputError {
	if e == nil {
		return nil
	}
	return &twin.InputError{Reason: e.Reason, Detail: e.Detail}
}

// publishResult is the runtime's Results hook in cluster mode. Core NATS,
// at most once: a lost result is found in the store (waitResult).
func (a *App) publishResult(seq uint64, res twin.Result) {
	w := wireResult{Node: a.Config.Cluster.Node, Seq: res.Seq, Duplicate: res.Duplicate, Err: toWire(res.Err)}
	for _, f := range res.Failed {
		w.Failed = append(w.Failed, wireFailedEvent{Index: f.Index, Err: toWire(f.Err)})
	}
	b, _ := json.Marshal(w)
	if err := a.Conn.Publish(ResultPrefix+strconv.FormatUint(seq, 10), b); err != nil {
		a.log.Warn("command result not published", "seq", seq, "err", err)
	}
}

// subscribeResults passes the results of commands applied by other nodes
// to this node's runtime, for the HTTP requests waiting on them. Every node
// hears every command result: commands are few next to readings.
func (a *App) subscribeResults() error {
	self := a.Config.Cluster.Node
	sub, err := a.Conn.Subscribe(ResultPrefix+"*", func(m *nats.Msg) {
		seq, err := strconv.ParseUint(strings.TrimPrefix(m.Subject, ResultPrefix), 10, 64)
		var w wireResult
		if err != nil || json.Unmarshal(m.Data, &w) != nil || w.Node == self {
			return
		}
		res := twin.Result{Seq: w.Seq, Duplicate: w.Duplicate, Err: fromWire(w.Err)}
		for _, f := range w.Failed {
			res.Failed = append(res.Failed, twin.FailedEvent{Index: f.Index, Err: fromWire(f.Err)})
		}
		a.Runtime.Notify(seq, res)
	})
	if err != nil {
		return err
	}
	sub.SetPendingLimits(-1, 64<<20)
	a.closers = append(a.closers, func() { sub.Unsubscribe() })
	return nil
}

// waitResult waits for the result of the command input at stream sequence
// seq for twin id: from the runtime (this node applied it, or the owner's
// result arrived), or, as the owner may have died between its commit and
// the result's publication, from the store: a twin whose stream sequence
// is at or past seq has applied the input.
func (a *App) waitResult(ctx context.Context, id string, seq uint64) (twin.Result, error) {
	for {
		wctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		res, err := a.Runtime.Wait(wctx, seq)
		cancel()
		if err == nil {
			return res, nil
		}
		if ctx.Err() != nil {
			return twin.Result{}, ctx.Err()
		}
		if t, err := a.Store.Twin(ctx, id); err == nil && t.StreamSeq >= seq {
			return twin.Result{Seq: t.Seq}, nil
		} else if err != nil && !errors.Is(err, twin.ErrNotFound) {
			a.log.Warn("command result from the store", "twin", id, "err", err)
		}
	}
}

// ClusterState is this node's part of a cluster, for /readyz and logs.
type ClusterState struct {
	Node string `json:"node"`
	// Partitions owned now, with their fences.
	Partitions []PartitionState `json:"partitions"`
	Live       int              `json:"live_nodes"`
	// AnchorLeader: this node anchors (holds lease "anchor"), with that
	// lease's fence.
	AnchorLeader bool   `json:"anchor_leader"`
	AnchorFence  uint64 `json:"anchor_fence,omitempty"`
}

// PartitionState is one owned partition.
type PartitionState struct {
	Partition int    `json:"partition"`
	Fence     uint64 `json:"fence"`
}

// ClusterState returns this node's leases (nil outside cluster mode).
func (a *App) ClusterState() *ClusterState {
	if a.Config.Cluster == nil {
		return nil
	}
	st := &ClusterState{Node: a.Config.Cluster.Node, Partitions: []PartitionState{}}
	if a.Partitions != nil {
		for p, f := range a.Partitions.Owned() {
			st.Partitions = append(st.Partitions, PartitionState{Partition: p, Fence: f})
		}
		sort.Slice(st.Partitions, func(i, j int) bool { return st.Partitions[i].Partition < st.Partitions[j].Partition })
		st.Live = a.Partitions.Live()
	}
	if a.AnchorLeader != nil {
		if ok, f := a.AnchorLeader.Leading(); ok {
			st.AnchorLeader, st.AnchorFence = true, f
		}
	}
	return st
}
