package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/custos-dev/custos/contracts"
	"github.com/custos-dev/custos/internal/app"
	"github.com/custos-dev/custos/internal/policytest"
	"github.com/custos-dev/custos/twin"
	"github.com/custos-dev/custos/wasm-policies/builtin"
)

// An event-time scenario: one twin on one reference contract, and the
// events it gets (events-file lines: readings and commands, in event-time
// order). The last line closes the twin, which also releases readings an
// allowed-lateness window still holds.
type etScenario struct {
	policy    string // reference contract (built from wasm-policies/<policy>)
	params    string
	custodian string
	lines     []string
}

// etStart is the create time of every scenario's twin.
var etStart = time.Date(2026, 11, 25, 9, 59, 0, 0, time.UTC)

func etTS(min, sec int) string {
	return time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC).Add(time.Duration(min)*time.Minute + time.Duration(sec)*time.Second).Format(time.RFC3339)
}

func etReading(min, sec int, body string) string {
	return fmt.Sprintf(`{"ts":%q,%s}`, etTS(min, sec), body)
}

func etCommand(min int, body string) string {
	return fmt.Sprintf(`{"command":{%s,"ts":%q}}`, body, etTS(min, 0))
}

// etScenarios exercise what event time changes: event-time timers due
// between readings (budget, door, handoff), verdicts computed over
// event-time intervals (excursion budget, MKT, humidity budget, time out of
// the corridor) and commands stamped with their own ts.
func etScenarios() []etScenario {
	var cold, humid, custody, geo []string
	// coldchain: in band, then out of band from 10:20 for 30 minutes with a
	// 15-minute budget: the event-time budget timer (10:35) fires between the
	// 10:34 and 10:36 readings, wherever they come from.
	for m := 0; m <= 80; m += 2 {
		v := 5.0 + float64(m%6)/10
		if m >= 20 && m < 50 {
			v = 9.5 + float64(m%4)/4
		}
		cold = append(cold, etReading(m, 0, fmt.Sprintf(`"sensor":"t1","type":"temperature","value":%g`, v)))
		if m%10 == 4 {
			cold = append(cold, etReading(m, 30, `"sensor":"h1","type":"humidity","value":55`))
		}
		if m == 4 {
			cold = append(cold, etCommand(5, `"type":"status","status":"in_transit"`))
		}
	}
	cold = append(cold, etCommand(90, `"type":"close"`))

	// humidshock: the door example of the issue (open 12:00:00 — here
	// 10:00:00 — closed ten seconds later, limit 60 s: no alert), then a
	// door left open two minutes (alert from the event-time timer at +60 s,
	// before the next reading), humidity over the limit past its budget,
	// shocks.
	humid = append(humid,
		etReading(0, 0, `"sensor":"d1","type":"door","value":1`),
		etReading(0, 10, `"sensor":"d1","type":"door","value":0`),
	)
	for m := 1; m <= 40; m++ {
		rh := 50.0
		if m >= 10 && m < 25 {
			rh = 70
		}
		humid = append(humid, etReading(m, 0, fmt.Sprintf(`"sensor":"h1","type":"humidity","value":%g`, rh)))
		switch m {
		case 12:
			humid = append(humid, etReading(m, 20, `"sensor":"d1","type":"door","value":1`))
		case 14:
			humid = append(humid, etReading(m, 20, `"sensor":"d1","type":"door","value":0`))
		case 20, 30:
			humid = append(humid, etReading(m, 30, `"sensor":"a1","type":"shock","value":5`))
		}
	}
	humid = append(humid, etCommand(50, `"type":"close"`))

	// custody: handoffs with a 20-minute deadline; carrier-1 is late, so
	// the event-time handoff timer fires before the next reading and the
	// transfer that follows is a gap. Temperature readings carry the time
	// forward between commands.
	custody = append(custody, etCommand(0, `"type":"custody","to":"carrier-1"`))
	for m := 1; m <= 60; m++ {
		custody = append(custody, etReading(m, 0, fmt.Sprintf(`"sensor":"t1","type":"temperature","value":%d`, 4+m%3)))
		switch m {
		case 10:
			custody = append(custody, etCommand(m, `"type":"status","status":"in_transit"`))
		case 35:
			custody = append(custody, etCommand(m, `"type":"custody","to":"carrier-2"`))
		case 50:
			custody = append(custody, etCommand(m, `"type":"custody","to":"pharmacy"`))
		}
	}
	custody = append(custody, etCommand(70, `"type":"close"`))

	// geofence: along the corridor, out of it for a while, back, arrived.
	track := [][2]float64{
		{52.37, 4.89}, {52.30, 4.95}, {52.20, 5.03}, {52.10, 5.12}, {52.05, 5.40}, {52.00, 5.50},
		{51.90, 5.40}, {51.80, 5.30}, {51.70, 5.30}, {51.60, 5.40}, {51.50, 5.45}, {51.45, 5.46},
	}
	for i, p := range track {
		geo = append(geo, etReading(5*i, 0, fmt.Sprintf(`"sensor":"gps","type":"location","lat":%g,"lon":%g`, p[0], p[1])))
		geo = append(geo, etReading(5*i+2, 0, `"sensor":"t1","type":"temperature","value":5`))
	}
	geo = append(geo, etCommand(70, `"type":"close"`))

	return []etScenario{
		{policy: "coldchain", params: `{"min_c":2,"max_c":8,"excursion_budget_s":900}`, custodian: "acme", lines: cold},
		{policy: "humidshock", params: `{"max_rh":60,"humidity_budget_s":600,"max_g":3,"max_shocks":2,"door_open_max_s":60}`, lines: humid},
		{policy: "custody", params: `{"parties":["acme","carrier-1","carrier-2","pharmacy"],"transfers":{"acme":["carrier-1"],"carrier-1":["carrier-2","pharmacy"],"carrier-2":["pharmacy"]},"handoff_deadline_s":1200}`, custodian: "acme", lines: custody},
		{policy: "geofence", params: `{"corridor":[[52.37,4.89],[52.09,5.12],[51.44,5.47]],"width_km":5,"arrival_km":3}`, lines: geo},
	}
}

// etModule returns the wasm of a reference contract: the built-in
// coldchain new twins get, the others built from source (as
// wasm-policies/conformance does).
func etModule(t *testing.T, policy string) []byte {
	t.Helper()
	if policy == "coldchain" {
		return builtin.ColdchainWAT().Wasm
	}
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("go toolchain not found at " + goBin)
		}
		t.Skip("go toolchain not found at " + goBin)
	}
	out := filepath.Join(t.TempDir(), policy+".wasm")
	cmd := exec.Command(goBin, "build", "-buildmode=c-shared", "-trimpath", "-buildvcs=false", "-o", out, "../../wasm-policies/"+policy)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", policy, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// etOutcome is what the equivalence compares.
type etOutcome struct {
	alerts  []string // "seq ts severity code: message"
	status  string
	view    string
	digests []string // "seq digest", the digest chain
	late    int      // records flagged LATE
}

func compactJSON(t *testing.T, b []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatalf("view %s: %v", b, err)
	}
	return buf.String()
}

func etAlert(seq uint64, ts time.Time, sev, code, msg string) string {
	return fmt.Sprintf("%d %s %s %s: %s", seq, ts.UTC().Format(time.RFC3339Nano), sev, code, msg)
}

// etLive reads the outcome of twin id from a running app's store.
func etLive(t *testing.T, a *app.App, id string) etOutcome {
	t.Helper()
	ctx := context.Background()
	tw, err := a.Store.Twin(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	o := etOutcome{status: tw.Status, view: compactJSON(t, tw.View)}
	als, err := a.Store.Alerts(ctx, twin.AlertQuery{Twin: id, Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(als, func(x, y twin.Alert) int { return int(x.N) - int(y.N) })
	for _, al := range als {
		o.alerts = append(o.alerts, etAlert(al.Seq, al.Time, al.Severity, al.Code, al.Message))
	}
	recs, err := a.Store.History(ctx, twin.HistoryQuery{Twin: id, Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		o.digests = append(o.digests, fmt.Sprintf("%d %s", r.Seq, r.Digest))
		if r.Late {
			o.late++
		}
	}
	return o
}

// etPolicyTest runs the scenario through internal/policytest (what
// `custos policy test` runs) for twin id.
func etPolicyTest(t *testing.T, sc etScenario, wasm []byte, id string) etOutcome {
	t.Helper()
	lines, err := policytest.Run(context.Background(), policytest.Config{
		Module: wasm, Name: sc.policy, Twin: id, Params: json.RawMessage(sc.params), Custodian: sc.custodian, Start: etStart,
		Host: contracts.Config{CacheDir: testCache()}, Trusted: sc.policy == "coldchain", // as the app registers its built-in
	}, strings.NewReader(strings.Join(sc.lines, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	var o etOutcome
	for _, l := range lines {
		if l.Error != "" {
			t.Fatalf("policy test line %d: %s", l.Line, l.Error)
		}
		for _, al := range l.Alerts {
			o.alerts = append(o.alerts, etAlert(l.Seq, l.Time, al.Severity, al.Code, al.Message))
		}
		if l.Digest != nil {
			o.digests = append(o.digests, fmt.Sprintf("%d %s", l.Seq, *l.Digest))
		}
		o.status = l.Status
		if len(l.View) > 0 {
			o.view = compactJSON(t, l.View)
		}
	}
	return o
}

func etCreate(t *testing.T, a *app.App, id string, sc etScenario, lateness string) {
	t.Helper()
	body := map[string]any{
		"id": id, "kind": "pallet", "policy": sc.policy, "params": json.RawMessage(sc.params),
		"ts": etStart.Format(time.RFC3339),
	}
	if sc.custodian != "" {
		body["custodian"] = sc.custodian
	}
	if lateness != "" {
		body["lateness"] = lateness
	}
	if code, resp := httpDo(t, a, "POST", "/v1/twins", body); code != http.StatusCreated {
		t.Fatalf("create %s: %d %s", id, code, resp)
	}
}

// etMessages turns event lines into NATS messages for twin id: each
// reading its own message (paced) or runs of readings batched (burst).
func etMessages(id string, lines []string, batch bool) (subjects []string, bodies [][]byte) {
	var run []json.RawMessage
	flush := func() {
		if len(run) == 0 {
			return
		}
		b, _ := json.Marshal(map[string]any{"readings": run})
		subjects, bodies = append(subjects, "custos.telemetry."+id), append(bodies, b)
		run = nil
	}
	for _, l := range lines {
		var env struct {
			Command json.RawMessage `json:"command"`
		}
		if err := json.Unmarshal([]byte(l), &env); err != nil {
			panic(err)
		}
		if env.Command != nil {
			flush()
			subjects, bodies = append(subjects, "custos.command."+id), append(bodies, []byte(env.Command))
			continue
		}
		if !batch {
			subjects, bodies = append(subjects, "custos.telemetry."+id), append(bodies, []byte(l))
			continue
		}
		run = append(run, json.RawMessage(l))
	}
	flush()
	return subjects, bodies
}

// etDeliver publishes the messages; paced waits for each to be applied
// before the next, as a device streaming live would be seen. It returns
// once the twin is closed (the last line).
func etDeliver(t *testing.T, a *app.App, js jetstream.JetStream, id string, subjects []string, bodies [][]byte, paced bool) {
	t.Helper()
	for i := range subjects {
		ack := publish(t, js, subjects[i], bodies[i])
		if paced {
			waitTwin(t, a, id, func(tw *twin.Twin) bool { return tw.StreamSeq >= ack.Sequence })
		}
	}
	waitTwin(t, a, id, func(tw *twin.Twin) bool { return tw.Status == twin.StatusClosed })
}

// etShuffle shuffles each run of readings between commands in blocks that
// span less than the lateness window in event time (readings are at most
// a few minutes apart; blocks of four stay under 10 minutes).
func etShuffle(lines []string, seed uint64) []string {
	r := rand.New(rand.NewPCG(seed, 7))
	out := slices.Clone(lines)
	var block []int
	flush := func() {
		r.Shuffle(len(block), func(i, j int) { out[block[i]], out[block[j]] = out[block[j]], out[block[i]] })
		block = block[:0]
	}
	for i, l := range out {
		if strings.HasPrefix(l, `{"command"`) {
			flush()
			continue
		}
		if block = append(block, i); len(block) == 4 {
			flush()
		}
	}
	flush()
	return out
}

func diffOutcome(t *testing.T, what string, got, want etOutcome, digests bool) {
	t.Helper()
	if !slices.Equal(got.alerts, want.alerts) {
		t.Errorf("%s: alerts differ:\n got:  %s\n want: %s", what, strings.Join(got.alerts, "\n       "), strings.Join(want.alerts, "\n       "))
	}
	if got.status != want.status || got.view != want.view {
		t.Errorf("%s: status %q view %s, want %q %s", what, got.status, got.view, want.status, want.view)
	}
	if digests && !slices.Equal(got.digests, want.digests) {
		t.Errorf("%s: digest chains differ (%d vs %d records):\n got:  %v\n want: %v", what, len(got.digests), len(want.digests), got.digests, want.digests)
	}
}

// TestEventTimeEquivalence: the same readings and commands, delivered (a)
// one at a time as a device streaming live, (b) in one burst four days
// after they were measured, (c) shuffled within the twin's allowed-lateness
// window and (d) through `custos policy test`, give the same alerts at the
// same event times and seqs, the same status and the same view, for
// coldchain, humidshock, custody and geofence; (a), (b) and (d) the same
// digest chain. Event-time timers fire by event time in all four.
func TestEventTimeEquivalence(t *testing.T) {
	scenarios := etScenarios()
	modules := map[string][]byte{}
	for _, sc := range scenarios {
		modules[sc.policy] = etModule(t, sc.policy)
	}
	// (a) and (b) run in apps of their own: the digest commits to the twin
	// id, so both twins are called alike.
	live := start(t, t.TempDir())
	defer live.Close()
	_, liveJS := client(t, live)
	burst := start(t, t.TempDir())
	defer burst.Close()
	_, burstJS := client(t, burst)
	for _, a := range []*app.App{live, burst} {
		for _, sc := range scenarios {
			if sc.policy == "coldchain" {
				continue
			}
			if code, body := deploy(t, a, sc.policy, "1.0.0", modules[sc.policy]); code != http.StatusCreated && code != http.StatusOK {
				t.Fatalf("deploy %s: %d %s", sc.policy, code, body)
			}
		}
	}
	for _, sc := range scenarios {
		t.Run(sc.policy, func(t *testing.T) {
			id := "ET-" + sc.policy
			etCreate(t, live, id, sc, "")
			subj, bodies := etMessages(id, sc.lines, false)
			etDeliver(t, live, liveJS, id, subj, bodies, true)
			a := etLive(t, live, id)

			etCreate(t, burst, id, sc, "")
			subj, bodies = etMessages(id, sc.lines, true)
			etDeliver(t, burst, burstJS, id, subj, bodies, false)
			b := etLive(t, burst, id)

			shuffled := id + "-c"
			etCreate(t, burst, shuffled, sc, "10m")
			subj, bodies = etMessages(shuffled, etShuffle(sc.lines, 1), false)
			etDeliver(t, burst, burstJS, shuffled, subj, bodies, false)
			c := etLive(t, burst, shuffled)

			// The same shuffled delivery to a twin without a lateness
			// window: readings come LATE (the control that shows the
			// shuffling matters).
			noWindow := id + "-nowindow"
			etCreate(t, burst, noWindow, sc, "")
			subj, bodies = etMessages(noWindow, etShuffle(sc.lines, 1), false)
			etDeliver(t, burst, burstJS, noWindow, subj, bodies, false)
			if cw := etLive(t, burst, noWindow); cw.late == 0 || c.late != 0 || a.late != 0 {
				t.Errorf("LATE records: %d shuffled without a window, want some; %d within the window, %d live, want none", cw.late, c.late, a.late)
			}

			d := etPolicyTest(t, sc, modules[sc.policy], id)

			if len(a.alerts) < 2 {
				t.Fatalf("only %d alerts: the scenario does not exercise the contract: %v", len(a.alerts), a.alerts)
			}
			diffOutcome(t, "(b) burst vs (a) live", b, a, true)
			diffOutcome(t, "(c) shuffled vs (a) live", c, a, false)
			diffOutcome(t, "(d) policy test vs (a) live", d, a, true)
			if len(a.digests) < len(sc.lines) {
				t.Errorf("(a) has %d records for %d lines", len(a.digests), len(sc.lines))
			}
			// The door example: open 10:00:00, closed 10:00:10, limit 60 s:
			// nothing at 10:01:00, live or in policy test.
			for _, al := range append(a.alerts, d.alerts...) {
				if strings.Contains(al, etTS(1, 0)) && strings.Contains(al, "door_open_too_long") {
					t.Errorf("door closed within the limit raised %s", al)
				}
			}
		})
	}
}

// TestNoDataProcessingTimer: coldchain with no_data_s sets a
// processing-time timer on every reading; a twin that then stays silent
// gets the no_data alert by the server's clock, and the timer's record
// says it is processing-time. It does not move the watermark.
func TestNoDataProcessingTimer(t *testing.T) {
	a := start(t, t.TempDir())
	defer a.Close()
	_, js := client(t, a)
	sc := etScenario{policy: "coldchain", params: `{"no_data_s":1}`, custodian: "acme"}
	etCreate(t, a, "SILENT-1", sc, "")
	publish(t, js, "custos.telemetry.SILENT-1", reading("2026-11-25T10:00:00Z", 5))
	ctx := context.Background()
	var fired twin.Alert
	deadline := time.Now().Add(15 * time.Second)
	for fired.Code == "" {
		als, err := a.Store.Alerts(ctx, twin.AlertQuery{Twin: "SILENT-1"})
		if err != nil {
			t.Fatal(err)
		}
		for _, al := range als {
			if al.Code == "no_data" {
				fired = al
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no no_data alert after 15 s; alerts %+v", als)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if fired.Message != "no reading for 1 s by the server's clock" {
		t.Errorf("alert %+v", fired)
	}
	recs, err := a.Store.History(ctx, twin.HistoryQuery{Twin: "SILENT-1", AfterSeq: fired.Seq - 1, Limit: 1})
	if err != nil || len(recs) != 1 {
		t.Fatalf("history at seq %d: %v %v", fired.Seq, recs, err)
	}
	var ev twin.Event
	if err := ev.UnmarshalBinary(recs[0].Event); err != nil {
		t.Fatal(err)
	}
	if ev.Kind != twin.KindTimer || ev.Field(0) != "no_data" || ev.Field(1) != twin.ClockProcessing || recs[0].Late {
		t.Fatalf("timer record: event %+v late %v", ev, recs[0].Late)
	}
	// The timer's time is the server's; the watermark stays the reading's.
	tw, err := a.Store.Twin(ctx, "SILENT-1")
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC); !tw.Watermark.Equal(want) || !ev.Time.After(want.Add(24*time.Hour)) {
		t.Errorf("watermark %v (want %v), timer time %v (want the server's)", tw.Watermark, want, ev.Time)
	}
}
