package sdk

import (
	"encoding/binary"
)

// Severity of an alert (ABI v1 numbering).
type Severity uint8

// Severities.
const (
	Info     Severity = 1
	Warning  Severity = 2
	Critical Severity = 3
)

// OutputVersion is the first byte of every ABI v1 output.
const OutputVersion = 1

// Timer operations (ABI v1 numbering).
const (
	TimerSet           = 1 // event-time timer: At is Unix ns of event time
	TimerCancel        = 2 // cancel by name (either clock)
	TimerSetProcessing = 3 // processing-time timer: At is a delay in ns (> 0)
)

// Alert is an alert raised by the contract.
type Alert struct {
	Severity Severity
	Code     string
	Message  string
}

// TimerOp sets (Op TimerSet, At Unix ns of event time), sets on the
// server's clock (Op TimerSetProcessing, At a delay in ns) or cancels (Op
// TimerCancel) the twin's timer called Name.
type TimerOp struct {
	Op   uint8
	At   int64
	Name string
}

// Output collects what a contract call returns besides the state. The SDK
// resets it before every call; a contract only adds to it.
type Output struct {
	status string
	reject string
	view   []byte
	alerts []Alert
	timers []TimerOp
}

// Reset empties o, keeping its buffers.
func (o *Output) Reset() {
	o.status, o.reject, o.view = "", "", o.view[:0]
	clear(o.alerts)
	o.alerts = o.alerts[:0]
	clear(o.timers)
	o.timers = o.timers[:0]
}

// SetStatus sets the twin's new status.
func (o *Output) SetStatus(s string) { o.status = s }

// Alert raises an alert.
func (o *Output) Alert(sev Severity, code, message string) {
	o.alerts = append(o.alerts, Alert{sev, code, message})
}

// SetTimer sets an event-time timer: the runtime delivers a timer event
// called name, with time t (Unix ns, > 0) and clock ClockEvent, when the
// twin's watermark reaches t — before the first event at or after t, never
// by the server's clock, identically live, on replay and in `custos policy
// test`. Setting a timer that exists moves it (and may switch its clock).
func (o *Output) SetTimer(name string, t int64) {
	o.timers = append(o.timers, TimerOp{TimerSet, t, name})
}

// SetProcessingTimer sets a processing-time timer: the runtime delivers a
// timer event called name, with clock ClockProcessing, delay ns (> 0) after
// the server applied this event, by the server's clock — for "no data for
// 15 minutes" checks, never for verdicts on event time. Its event's time
// is the server's time when it fired. Setting a timer that exists moves it.
func (o *Output) SetProcessingTimer(name string, delay int64) {
	o.timers = append(o.timers, TimerOp{TimerSetProcessing, delay, name})
}

// CancelTimer cancels the timer called name, if any.
func (o *Output) CancelTimer(name string) {
	o.timers = append(o.timers, TimerOp{TimerCancel, 0, name})
}

// ViewBuffer returns an empty buffer to append the JSON view to; pass the
// result to SetView. It reuses memory between calls.
func (o *Output) ViewBuffer() []byte { return o.view[:0] }

// SetView sets the JSON view of the new state.
func (o *Output) SetView(json []byte) { o.view = json }

// Reject refuses the event: the host keeps the old state and sends the
// input to the dead-letter subject with this reason.
func (o *Output) Reject(reason string) { o.reject = reason }

// Status returns the status set by SetStatus.
func (o *Output) Status() string { return o.status }

// Rejected returns the reason given to Reject.
func (o *Output) Rejected() string { return o.reject }

// View returns the view set by SetView.
func (o *Output) View() []byte { return o.view }

// Alerts returns the alerts raised so far.
func (o *Output) Alerts() []Alert { return o.alerts }

// Timers returns the timer operations so far.
func (o *Output) Timers() []TimerOp { return o.timers }

// AppendBinary appends the ABI v1 output encoding of state and o to b.
func (o *Output) AppendBinary(b, state []byte) []byte {
	b = append(b, OutputVersion, 0, 0, 0)
	b = appendBytes(b, state)
	b = appendString(b, o.status)
	b = appendBytes(b, o.view)
	b = appendString(b, o.reject)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(o.alerts)))
	for _, a := range o.alerts {
		b = append(b, byte(a.Severity), 0, 0, 0)
		b = appendString(b, a.Code)
		b = appendString(b, a.Message)
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(o.timers)))
	for _, t := range o.timers {
		b = append(b, t.Op, 0, 0, 0)
		b = binary.LittleEndian.AppendUint64(b, uint64(t.At))
		b = appendString(b, t.Name)
	}
	return b
}

func appendBytes(b, s []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func appendString(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}
