package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/custos-dev/custos/examples/coldchain/sim"
	"github.com/custos-dev/custos/internal/app"
)

// outDir is where the browser test saves its screenshots: $CUSTOS_TEST_OUT,
// or custos-test-output under the system's temporary directory.
func outDir() string {
	if d := os.Getenv("CUSTOS_TEST_OUT"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "custos-test-output")
}

// TestDashboardLive loads the dashboard in headless Chromium against a
// running custos filled by the simulator, pushes a twin out of its band
// and sees its row turn red without a reload; it saves screenshots of the
// fleet and of the twin page. With CUSTOS_UPDATE_DOCS=1 it also writes
// docs/dashboard.png.
func TestDashboardLive(t *testing.T) {
	bin := findChromium()
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium not found (CI installs it: apt-get install -y chromium)")
		}
		t.Skip("chromium not installed: apt-get install chromium to run the dashboard test")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	a, err := app.Start(ctx, app.Config{Data: t.TempDir(), NATSListen: "127.0.0.1:0", HTTP: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), CacheDir: filepath.Join(os.TempDir(), "custos-test-wazero-cache"),
		Anchor: &app.AnchorConfig{Interval: 300 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	base := "http://" + a.HTTPAddr

	// A small simulated fleet, with its reefer failure.
	st, err := sim.Run(ctx, sim.Config{API: base, NATSURL: a.NATS.ClientURL(), Shipments: 3, Pallets: 2, Cases: 2,
		Journey: 6 * time.Hour, Step: 10 * time.Minute, Wall: time.Second, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	// The twin the test will push out of band: in band for now.
	const id = "VAX-PAL-7"
	now := time.Now().UTC()
	// Created (event time) before its first reading, so none is late.
	body := `{"id":"` + id + `","kind":"pallet","policy":"coldchain","custodian":"coolways","params":` + sim.Params +
		`,"ts":"` + now.Add(-time.Hour).Format(time.RFC3339Nano) + `"}`
	resp, err := http.Post(base+"/v1/twins", "application/json", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create %s: %s", id, resp.Status)
	}
	nc, err := nats.Connect(a.NATS.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	pub := func(ts time.Time, v float64) {
		msg := fmt.Sprintf(`{"ts":%q,"sensor":"t1","type":"temperature","value":%g,"unit":"CEL"}`, ts.Format(time.RFC3339Nano), v)
		if _, err := js.Publish(ctx, "custos.telemetry."+id, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 10; i > 0; i-- {
		pub(now.Add(-time.Duration(i)*5*time.Minute), 5+float64(i%3)*0.4)
	}
	// A logger not read out for three hours.
	body = `{"id":"LOGGER-3H","kind":"pallet","policy":"coldchain","params":` + sim.Params +
		`,"ts":"` + now.Add(-4*time.Hour).Format(time.RFC3339Nano) + `"}`
	if resp, err = http.Post(base+"/v1/twins", "application/json", bytes.NewBufferString(body)); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	msg := fmt.Sprintf(`{"ts":%q,"sensor":"t1","type":"temperature","value":5}`, now.Add(-3*time.Hour-time.Minute).Format(time.RFC3339Nano))
	if _, err := js.Publish(ctx, "custos.telemetry.LOGGER-3H", []byte(msg)); err != nil {
		t.Fatal(err)
	}

	b := startBrowser(t, bin, 1400, 900)
	b.navigate(t, base+"/")
	row := `document.querySelector('tr[data-twin="` + id + `"]')`
	b.waitJS(t, ctx, "fleet loaded", `document.querySelectorAll('#fleet tbody tr').length >= `+fmt.Sprint(st.Twins+2))
	b.waitJS(t, ctx, id+" green", row+` && `+row+`.dataset.health === 'green'`)
	b.waitJS(t, ctx, "live stream connected", `document.querySelector('#live').className === 'live'`)
	b.waitJS(t, ctx, "compromised twins shown red", `document.querySelectorAll('tr[data-health="red"]').length >= `+fmt.Sprint(len(st.Compromised)))
	b.eval(t, `window.__noReload = 42`, nil)

	// The excursion: 12.5 °C now.
	pub(now, 12.5)
	b.waitJS(t, ctx, id+" red after the excursion", row+` && `+row+`.dataset.health === 'red'`)
	var marker int
	b.eval(t, `window.__noReload || 0`, &marker)
	if marker != 42 {
		t.Fatal("the page was reloaded; the row must turn red live")
	}
	var temp string
	b.eval(t, row+`.cells[5].textContent`, &temp)
	if temp != "12.5" {
		t.Errorf("temperature cell = %q, want 12.5", temp)
	}
	// Freshness: its reading was just published ("data fresh"); a twin
	// whose logger has not been read out shows its age ("data 3 h old").
	var age string
	b.eval(t, row+`.cells[8].textContent`, &age)
	if age != "data fresh" {
		t.Errorf("data cell = %q, want data fresh", age)
	}
	logger := `document.querySelector('tr[data-twin="LOGGER-3H"]')`
	b.waitJS(t, ctx, "LOGGER-3H data 3 h old", logger+` && `+logger+`.cells[8].textContent === 'data 3 h old'`)
	b.waitJS(t, ctx, "alert in the feed", `[...document.querySelectorAll('#feed li')].some(li => li.textContent.includes('`+id+`'))`)
	out := outDir()
	b.screenshot(t, filepath.Join(out, "dashboard-fleet.png"))

	// The twin page of a compromised pallet: chart, alerts, custody.
	twinID := st.Compromised[1]
	b.eval(t, `location.hash = '#/twin/`+twinID+`'`, nil)
	b.waitJS(t, ctx, "chart drawn", `document.querySelectorAll('#chart circle.pt.bad').length > 0 && document.querySelector('#chart rect.band')`)
	b.waitJS(t, ctx, "custody timeline", `document.querySelectorAll('#tCustody li.custody').length >= 3`)
	b.waitJS(t, ctx, "alerts listed", `document.querySelectorAll('#tAlerts li.sev-critical').length >= 1`)
	var status string
	b.eval(t, `document.querySelector('#tStatus').textContent`, &status)
	if status != "compromised" {
		t.Errorf("twin page status = %q, want compromised", status)
	}
	// Anchoring: the proof of the latest seq, downloaded and verified
	// against the (embedded) chain from the page.
	b.waitJS(t, ctx, "proof available", `!!document.querySelector('#verifyBtn')`)
	var href string
	b.eval(t, `document.querySelector('#proofLine a').getAttribute('href')`, &href)
	if resp, err := http.Get(base + href); err != nil || resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Disposition"), ".proof.json") {
		t.Errorf("proof download %s: %v %v", href, err, resp)
	} else {
		resp.Body.Close()
	}
	b.eval(t, `document.querySelector('#verifyBtn').click()`, nil)
	b.waitJS(t, ctx, "proof verified", `document.querySelector('#verifyOut').textContent.includes('proof verified')`)
	b.screenshot(t, filepath.Join(out, "dashboard-twin.png"))
	if os.Getenv("CUSTOS_UPDATE_DOCS") == "1" {
		b.call(t, "Emulation.setDeviceMetricsOverride", map[string]any{"width": 1400, "height": 1400, "deviceScaleFactor": 1, "mobile": false}, nil)
		time.Sleep(300 * time.Millisecond)
		b.screenshot(t, filepath.Join("..", "..", "docs", "dashboard.png"))
		b.eval(t, `location.hash = '#/'`, nil)
		time.Sleep(500 * time.Millisecond)
		b.call(t, "Emulation.setDeviceMetricsOverride", map[string]any{"width": 1400, "height": 900, "deviceScaleFactor": 1, "mobile": false}, nil)
		time.Sleep(300 * time.Millisecond)
		b.screenshot(t, filepath.Join("..", "..", "docs", "dashboard-fleet.png"))
	}
	_ = json.Valid
}
