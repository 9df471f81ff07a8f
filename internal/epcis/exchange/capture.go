package exchange

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/custos-dev/custos/internal/bus"
	"github.com/custos-dev/custos/internal/epcis"
	"github.com/custos-dev/custos/twin"
)

// Job is a capture job, as the EPCIS 2.0 REST binding describes them
// (GET /capture/{captureID}): the document was validated and published
// when the job exists; the job runs until the runtime applied (or refused)
// every input it became.
type Job struct {
	CaptureID  string     `json:"captureID"`
	CreatedAt  time.Time  `json:"createdAt"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
	Running    bool       `json:"running"`
	// Success: every event and sensor report was applied.
	Success bool `json:"success"`
	// CaptureErrorBehaviour is "proceed": a document is validated whole
	// (refused whole, nothing published), then sensor reports custos
	// cannot take and inputs the runtime refuses are reported one by one
	// while the rest applies.
	CaptureErrorBehaviour string `json:"captureErrorBehaviour"`

	Events     int `json:"events"`     // EPCIS events in the document
	Captured   int `json:"captured"`   // events published now
	Duplicates int `json:"duplicates"` // events captured before (by eventID or hash): skipped
	Ignored    int `json:"ignored"`    // events that map to nothing (see docs/epcis.md)
	Messages   int `json:"messages"`   // input messages published
	Readings   int `json:"readings"`   // readings published
	Applied    int `json:"applied"`    // input messages processed by the runtime so far

	Errors []JobError `json:"errors"`
	// IgnoredEvents says why events were ignored (the first 100).
	IgnoredEvents []epcis.EventPlan `json:"ignoredEvents,omitempty"`

	done chan struct{}
}

// JobError is one thing of a capture that did not apply.
type JobError struct {
	Event         int    `json:"event"`
	EventID       string `json:"eventID,omitempty"`
	Twin          string `json:"twin,omitempty"`
	SensorElement *int   `json:"sensorElement,omitempty"`
	SensorReport  *int   `json:"sensorReport,omitempty"`
	Reason        string `json:"reason"`
	Detail        string `json:"detail"`
}

// ErrForbidden: the document names a twin the caller may not see.
var ErrForbidden = errors.New("forbidden")

// Capture validates a document and publishes what it maps to. A refused
// document returns an *epcis.DocumentError and publishes nothing. allow,
// if set, says which twins the caller may touch.
func (x *Exchange) Capture(ctx context.Context, data []byte, allow func(id string) bool) (*Job, error) {
	res := &resolver{ctx: ctx, x: x, cache: map[epcis.Key]string{}}
	plan, err := epcis.Capture(data, res)
	if res.err != nil {
		return nil, fmt.Errorf("epcis identifiers: %w", res.err)
	}
	if err != nil {
		return nil, err
	}
	job := &Job{CaptureID: newID(), CreatedAt: time.Now().UTC(), Running: true, CaptureErrorBehaviour: "proceed",
		Events: len(plan.Events), Errors: []JobError{}, done: make(chan struct{})}
	for _, r := range plan.Refused {
		el, rep := r.Element, r.Report
		job.Errors = append(job.Errors, JobError{Event: r.Event, EventID: r.EventID, SensorElement: &el, SensorReport: &rep, Reason: r.Reason, Detail: r.Detail})
	}
	// Which events were captured before?
	dup := make([]bool, len(plan.Events))
	for i, ev := range plan.Events {
		if ev.N == 0 {
			job.Ignored++
			if len(job.IgnoredEvents) < 100 {
				job.IgnoredEvents = append(job.IgnoredEvents, ev)
			}
			continue
		}
		_, err := x.events.Get(ctx, eventName(ev.Key))
		switch {
		case err == nil:
			dup[i] = true
			job.Duplicates++
		case !errors.Is(err, jetstream.ErrKeyNotFound):
			return nil, fmt.Errorf("epcis events: %w", err)
		}
	}
	// Every twin named must exist and be the caller's; creates must not.
	for _, id := range plan.Twins {
		if allow != nil && !allow(id) {
			return nil, fmt.Errorf("%w: twin %s", ErrForbidden, id)
		}
		if _, err := x.cfg.Store.Twin(ctx, id); err != nil {
			if errors.Is(err, twin.ErrNotFound) {
				return nil, &epcis.DocumentError{Reason: epcis.ReasonUnknownIdentifier, Event: -1,
					Detail: fmt.Sprintf("the document names twin %s, which does not exist", id)}
			}
			return nil, fmt.Errorf("twin %s: %w", id, err)
		}
	}
	for _, m := range plan.Messages {
		if !m.Create || dup[m.Event] {
			continue
		}
		if allow != nil && !allow(m.Twin) {
			return nil, fmt.Errorf("%w: twin %s", ErrForbidden, m.Twin)
		}
		if _, err := x.cfg.Store.Twin(ctx, m.Twin); err == nil {
			return nil, &epcis.DocumentError{Reason: epcis.ReasonInvalidEvent, Event: plan.Events[m.Event].Index,
				Detail: fmt.Sprintf("custos:create: twin %s exists already", m.Twin)}
		} else if !errors.Is(err, twin.ErrNotFound) {
			return nil, fmt.Errorf("twin %s: %w", m.Twin, err)
		}
	}
	// The document is valid: publish. From here a failure leaves a prefix
	// published; sending the document again completes it (idempotent).
	if err := x.put(ctx, plan.Mappings); err != nil {
		return nil, err
	}
	dlqFrom, err := x.lastSeq(ctx, bus.StreamDLQ)
	if err != nil {
		return nil, err
	}
	type sent struct {
		msg int
		f   jetstream.PubAckFuture
	}
	futures := make([]sent, 0, len(plan.Messages))
	for i, m := range plan.Messages {
		if dup[m.Event] {
			continue
		}
		msg := nats.NewMsg(m.Subject)
		msg.Data = m.Data
		msg.Header.Set(jetstream.MsgIDHeader, m.MsgID)
		f, err := x.cfg.JS.PublishMsgAsync(msg)
		if err != nil {
			return nil, fmt.Errorf("publish %s: %w", m.Subject, err)
		}
		futures = append(futures, sent{i, f})
		job.Messages++
		job.Readings += m.Readings
	}
	var waits []waitFor
	for _, s := range futures {
		select {
		case ack := <-s.f.Ok():
			if !ack.Duplicate { // a duplicate was applied (or is being) from its first publication
				waits = append(waits, waitFor{s.msg, ack.Sequence})
			}
		case err := <-s.f.Err():
			return nil, fmt.Errorf("publish: %w", err)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	var marks []jetstream.PubAckFuture
	for i, ev := range plan.Events {
		if ev.N == 0 || dup[i] {
			continue
		}
		job.Captured++
		f, err := x.cfg.JS.PublishAsync("$KV."+BucketEvents+"."+eventName(ev.Key), []byte(job.CaptureID))
		if err != nil {
			return nil, fmt.Errorf("epcis events: %w", err)
		}
		marks = append(marks, f)
	}
	for _, f := range marks {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return nil, fmt.Errorf("epcis events: %w", err)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	x.remember(job)
	x.wg.Add(1)
	go func() {
		defer x.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), x.cfg.JobTimeout)
		defer cancel()
		go func() {
			select {
			case <-x.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		errs := x.follow(ctx, job, plan, waits, dlqFrom)
		x.mu.Lock()
		now := time.Now().UTC()
		job.Errors = append(job.Errors, errs...)
		job.Running, job.FinishedAt = false, &now
		job.Success = len(job.Errors) == 0
		x.mu.Unlock()
		close(job.done)
	}()
	return x.snapshot(job), nil
}

// waitFor is a published input message of a capture: its index in the
// plan and its input stream sequence.
type waitFor struct {
	msg int
	seq uint64
}

// follow waits until the runtime has processed every input of a capture
// (the runtime's consumer acknowledges in order, after the durable
// commit) and collects what was refused: commands from the runtime's
// results, readings from the dead letters that name their input sequence.
func (x *Exchange) follow(ctx context.Context, job *Job, plan *epcis.Plan, waits []waitFor, dlqFrom uint64) []JobError {
	var errs []JobError
	if len(waits) == 0 {
		return nil
	}
	bySeq := make(map[uint64]waitFor, len(waits))
	last := uint64(0)
	for _, w := range waits {
		bySeq[w.seq] = w
		last = max(last, w.seq)
	}
	fail := func(w waitFor, reason, detail string) {
		m := &plan.Messages[w.msg]
		ev := plan.Events[m.Event]
		errs = append(errs, JobError{Event: ev.Index, EventID: ev.ID, Twin: m.Twin, Reason: reason, Detail: detail})
	}
	cons, err := x.cfg.JS.Consumer(ctx, bus.StreamInput, bus.Consumer)
	for err == nil {
		var info *jetstream.ConsumerInfo
		if info, err = cons.Info(ctx); err != nil {
			break
		}
		floor := info.AckFloor.Stream
		n := 0
		for _, w := range waits {
			if w.seq <= floor {
				n++
			}
		}
		x.mu.Lock()
		job.Applied = n
		x.mu.Unlock()
		if floor >= last {
			break
		}
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err != nil {
		fail(waits[len(waits)-1], "pending", fmt.Sprintf("inputs up to %d not confirmed processed: %v", last, err))
		return errs
	}
	for _, w := range waits {
		if plan.Messages[w.msg].Readings > 0 {
			continue
		}
		res, err := x.cfg.Runtime.Wait(ctx, w.seq)
		if err != nil {
			fail(w, "pending", fmt.Sprintf("input %d: no result: %v", w.seq, err))
			continue
		}
		if res.Err != nil {
			fail(w, string(res.Err.Reason), res.Err.Detail)
		}
		for _, f := range res.Failed {
			fail(w, string(f.Err.Reason), f.Err.Detail)
		}
	}
	// Readings refused by the runtime or their contract are dead letters
	// carrying the input's sequence.
	dlqTo, err := x.lastSeq(ctx, bus.StreamDLQ)
	if err != nil {
		fail(waits[0], "unknown", "dead letters unreadable: "+err.Error())
		return errs
	}
	if dlqTo > dlqFrom {
		st, err := x.cfg.JS.Stream(ctx, bus.StreamDLQ)
		for seq := dlqFrom + 1; err == nil && seq <= dlqTo; seq++ {
			m, gerr := st.GetMsg(ctx, seq)
			if gerr != nil {
				continue // deleted or expired
			}
			in, perr := strconv.ParseUint(m.Header.Get(bus.HeaderSeq), 10, 64)
			w, ok := bySeq[in]
			if perr != nil || !ok || plan.Messages[w.msg].Readings == 0 {
				continue
			}
			detail := m.Header.Get(bus.HeaderError)
			if i := m.Header.Get(bus.HeaderIndex); i != "" {
				detail = "reading " + i + " of the message: " + detail
			}
			fail(w, m.Header.Get(bus.HeaderReason), detail)
		}
	}
	return errs
}

// lastSeq is the last sequence of a stream.
func (x *Exchange) lastSeq(ctx context.Context, stream string) (uint64, error) {
	st, err := x.cfg.JS.Stream(ctx, stream)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", stream, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", stream, err)
	}
	return info.State.LastSeq, nil
}

func (x *Exchange) remember(j *Job) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.jobs[j.CaptureID] = j
	x.order = append(x.order, j.CaptureID)
	if len(x.order) > maxJobs {
		delete(x.jobs, x.order[0])
		x.order = x.order[1:]
	}
}

// Job returns a copy of a remembered capture job.
func (x *Exchange) Job(id string) (*Job, bool) {
	x.mu.Lock()
	j, ok := x.jobs[id]
	x.mu.Unlock()
	if !ok {
		return nil, false
	}
	return x.snapshot(j), true
}

// WaitJob waits until a job finishes (or ctx ends) and returns it.
func (x *Exchange) WaitJob(ctx context.Context, id string) (*Job, bool) {
	x.mu.Lock()
	j, ok := x.jobs[id]
	x.mu.Unlock()
	if !ok {
		return nil, false
	}
	select {
	case <-j.done:
	case <-ctx.Done():
	}
	return x.snapshot(j), true
}

func (x *Exchange) snapshot(j *Job) *Job {
	x.mu.Lock()
	defer x.mu.Unlock()
	c := *j
	c.Errors = append([]JobError{}, j.Errors...)
	return &c
}

// Subscribe serves CaptureSubject: each message is a document; a request
// gets the job (or {"error","code"}) as its reply.
func (x *Exchange) Subscribe() error {
	if x.cfg.Conn == nil {
		return errors.New("epcis exchange: no NATS connection")
	}
	sub, err := x.cfg.Conn.QueueSubscribe(CaptureSubject, "custos-epcis", func(m *nats.Msg) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		job, err := x.Capture(ctx, m.Data, nil)
		var reply []byte
		if err != nil {
			code, _ := errorCode(err)
			reply = marshal(map[string]any{"error": err.Error(), "code": code})
			x.log.Warn("epcis capture over nats refused", "err", err)
		} else {
			reply = marshal(job)
		}
		if m.Reply != "" {
			m.Respond(reply)
		}
	})
	if err != nil {
		return fmt.Errorf("subscribe %s: %w", CaptureSubject, err)
	}
	x.sub = sub
	return nil
}

// errorCode maps a capture error to an API code and HTTP status.
func errorCode(err error) (string, int) {
	var de *epcis.DocumentError
	switch {
	case errors.As(err, &de):
		return de.Reason, 400
	case errors.Is(err, ErrForbidden):
		return "forbidden", 403
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return "timeout", 504
	}
	return "unavailable", 503
}
