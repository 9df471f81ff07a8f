package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/custos-dev/custos/twin"
)

const watchUsage = `
custos twin watch — a live terminal view of one twin: status, temperature
against its band, a chart of recent readings, time out of band, custody and
the latest alerts, redrawn on every change (from /v1/stream).

Usage:
  custos twin watch ID [--api URL] [--token T] [--once]
`

// watchView is what the terminal view shows.
type watchView struct {
	Twin     *twin.Twin
	Temps    []float64 // recent temperatures, oldest first
	Alerts   []twin.Alert
	Custody  []string
	Live     bool
	Err      string
	Updated  time.Time
	MaxTemps int
}

func watchCmd(args []string) {
	fs := newFlags("twin watch", watchUsage)
	base := fs.String("api", "http://127.0.0.1:8080", "base URL of the custos HTTP API")
	token := fs.String("token", "", "bearer token (default $CUSTOS_TOKEN)")
	once := fs.Bool("once", false, "print the view once and exit")
	pos := fs.positional(args)
	if len(pos) != 1 {
		fs.Usage()
		os.Exit(2)
	}
	if *token == "" {
		*token = os.Getenv("CUSTOS_TOKEN")
	}
	id := pos[0]
	if !twin.ValidID(id) {
		fatalf("twin watch: %q is not a valid twin id", id)
	}
	c := &watchClient{base: strings.TrimRight(*base, "/"), token: *token, id: id, hc: &http.Client{Timeout: 30 * time.Second}}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	v := &watchView{MaxTemps: 60}
	if err := c.load(ctx, v); err != nil {
		fatalf("twin watch: %v", err)
	}
	if *once {
		renderWatch(os.Stdout, v, 100)
		return
	}
	fmt.Print("\x1b[?25l")       // hide the cursor
	defer fmt.Print("\x1b[?25h") // and show it again
	draw := func() {
		var b strings.Builder
		renderWatch(&b, v, 100)
		fmt.Print("\x1b[H\x1b[2J" + b.String())
	}
	draw()
	events := make(chan string, 64)
	go c.follow(ctx, events, v)
	redraw := time.NewTicker(time.Second) // "updated … ago" ages
	defer redraw.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Println()
			return
		case ev := <-events:
			switch ev {
			case "state", "alert", "live", "down":
				if ev == "state" || ev == "alert" {
					c.load(ctx, v) // readings, alerts and custody since
				}
			}
			draw()
		case <-redraw.C:
			draw()
		}
	}
}

type watchClient struct {
	base, token, id string
	hc              *http.Client
}

func (c *watchClient) get(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, "GET", c.base+path, nil)
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%v (is `custos run` running? --api says where)", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		var e struct{ Error, Code string }
		json.NewDecoder(resp.Body).Decode(&e)
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, e.Error)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// load fetches the twin, its recent temperatures, alerts and custody.
func (c *watchClient) load(ctx context.Context, v *watchView) error {
	p := "/v1/twins/" + url.PathEscape(c.id)
	var t twin.Twin
	if err := c.get(ctx, p, &t); err != nil {
		v.Err = err.Error()
		return err
	}
	v.Twin, v.Err, v.Updated = &t, "", time.Now()
	after := uint64(0)
	if t.Seq > 1000 {
		after = t.Seq - 1000
	}
	var h struct {
		Records []struct {
			Event struct {
				Type  string  `json:"type"`
				Value float64 `json:"value"`
				Kind  string  `json:"kind"`
				From  string  `json:"from"`
				To    string  `json:"to"`
				TS    string  `json:"ts"`
			} `json:"event"`
		} `json:"records"`
	}
	if err := c.get(ctx, fmt.Sprintf("%s/history?kind=reading&limit=1000&after=%d", p, after), &h); err == nil {
		v.Temps = v.Temps[:0]
		for _, r := range h.Records {
			if r.Event.Type == "temperature" {
				v.Temps = append(v.Temps, r.Event.Value)
			}
		}
		if len(v.Temps) > v.MaxTemps {
			v.Temps = v.Temps[len(v.Temps)-v.MaxTemps:]
		}
	}
	var a struct{ Alerts []twin.Alert }
	if err := c.get(ctx, p+"/alerts?limit=1000", &a); err == nil {
		v.Alerts = a.Alerts
	}
	var l struct {
		Records []struct {
			Event map[string]any `json:"event"`
		} `json:"records"`
	}
	if err := c.get(ctx, p+"/events?limit=1000", &l); err == nil {
		v.Custody = v.Custody[:0]
		for _, r := range l.Records {
			if r.Event["kind"] == "custody" {
				ts, _ := r.Event["ts"].(string)
				v.Custody = append(v.Custody, fmt.Sprintf("%s  %v → %v", shortTime(ts), r.Event["from"], r.Event["to"]))
			}
		}
	}
	return nil
}

// follow reads /v1/stream for the twin and reports event types, and
// reconnects (resuming alerts) when the connection drops.
func (c *watchClient) follow(ctx context.Context, events chan<- string, v *watchView) {
	last := ""
	for ctx.Err() == nil {
		q := "?twin=" + url.QueryEscape(c.id) + "&initial=false"
		if c.token != "" {
			q += "&access_token=" + url.QueryEscape(c.token)
		}
		req, _ := http.NewRequestWithContext(ctx, "GET", c.base+"/v1/stream"+q, nil)
		if last != "" {
			req.Header.Set("Last-Event-ID", last)
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil && resp.StatusCode == 200 {
			v.Live = true
			events <- "live"
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			ev := ""
			for sc.Scan() {
				line := sc.Text()
				switch {
				case strings.HasPrefix(line, "event: "):
					ev = line[7:]
				case strings.HasPrefix(line, "id: "):
					last = line[4:]
				case line == "" && ev != "":
					events <- ev
					ev = ""
				}
			}
			resp.Body.Close()
		} else if resp != nil {
			resp.Body.Close()
		}
		v.Live = false
		events <- "down"
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
}

const (
	ansiReset = "\x1b[0m"
	ansiBold  = "\x1b[1m"
	ansiDim   = "\x1b[2m"
	ansiRed   = "\x1b[31m"
	ansiGreen = "\x1b[32m"
	ansiAmber = "\x1b[33m"
)

// coldchainView is the view of the coldchain contract.
type coldchainView struct {
	Temp        *float64 `json:"temperature_c"`
	Out         float64  `json:"time_out_of_band_s"`
	MKT         *float64 `json:"mkt_c"`
	Readings    int      `json:"readings"`
	InExcursion bool     `json:"in_excursion"`
	Compromised bool     `json:"compromised"`
	Budget      float64  `json:"excursion_budget_s"`
	Band        *struct {
		Min float64 `json:"min_c"`
		Max float64 `json:"max_c"`
	} `json:"band"`
}

// renderWatch writes the view, width columns wide.
func renderWatch(w io.Writer, v *watchView, width int) {
	t := v.Twin
	if t == nil {
		fmt.Fprintf(w, "%s\n", v.Err)
		return
	}
	var cv coldchainView
	json.Unmarshal(t.View, &cv)
	colour := ansiGreen
	switch {
	case t.Status == twin.StatusCompromised || cv.Compromised || cv.InExcursion:
		colour = ansiRed
	case t.Alerts > 0:
		colour = ansiAmber
	}
	live := ansiDim + "○ offline" + ansiReset
	if v.Live {
		live = ansiGreen + "● live" + ansiReset
	}
	fmt.Fprintf(w, "%s%s%s  %s%s%s  %s  %s\n", ansiBold, t.ID, ansiReset, colour, strings.ToUpper(t.Status), ansiReset, live, ansiDim+v.Updated.Format("15:04:05")+ansiReset)
	fmt.Fprintf(w, "%s · custodian %s · %s %s · seq %d · digest %s…\n\n", t.Kind, orDash(t.Custodian), t.Contract.Name, t.Contract.Version, t.Seq, t.Digest.String()[:14])
	temp := "–"
	if cv.Temp != nil {
		c := ansiGreen
		if cv.InExcursion {
			c = ansiRed
		}
		temp = fmt.Sprintf("%s%.1f °C%s", c, *cv.Temp, ansiReset)
	}
	band := ""
	if cv.Band != nil {
		band = fmt.Sprintf("  (band %g–%g °C)", cv.Band.Min, cv.Band.Max)
	}
	mkt := "–"
	if cv.MKT != nil {
		mkt = fmt.Sprintf("%.1f °C", *cv.MKT)
	}
	fmt.Fprintf(w, "  temperature  %s%s\n  MKT          %s\n", temp, band, mkt)
	if cv.Budget > 0 {
		const bw = 30
		frac := math.Min(1, cv.Out/cv.Budget)
		n := int(math.Round(frac * bw))
		c := ansiAmber
		if frac >= 1 {
			c = ansiRed
		}
		fmt.Fprintf(w, "  out of band  %s%s%s%s %s of %s budget\n", c, strings.Repeat("█", n), ansiDim+strings.Repeat("░", bw-n), ansiReset,
			time.Duration(cv.Out*float64(time.Second)).Round(time.Second), time.Duration(cv.Budget*float64(time.Second)))
	}
	fmt.Fprintf(w, "  readings     %d   alerts %d\n\n", cv.Readings, t.Alerts)
	if len(v.Temps) > 0 {
		fmt.Fprintf(w, "  last %d temperatures\n", len(v.Temps))
		lo, hi := 2.0, 8.0
		if cv.Band != nil {
			lo, hi = cv.Band.Min, cv.Band.Max
		}
		fmt.Fprintf(w, "  %s\n\n", sparkline(v.Temps, lo, hi))
	}
	if len(v.Custody) > 0 {
		fmt.Fprintf(w, "  custody\n")
		for _, c := range v.Custody {
			fmt.Fprintf(w, "    %s\n", c)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "  alerts\n")
	if len(v.Alerts) == 0 {
		fmt.Fprintf(w, "    %snone%s\n", ansiDim, ansiReset)
	}
	for i := len(v.Alerts) - 1; i >= 0 && i >= len(v.Alerts)-8; i-- {
		a := v.Alerts[i]
		c := ansiDim
		switch a.Severity {
		case twin.SeverityCritical:
			c = ansiRed
		case twin.SeverityWarning:
			c = ansiAmber
		}
		msg := a.Message
		if len(msg) > width-40 {
			msg = msg[:width-40] + "…"
		}
		fmt.Fprintf(w, "    %s %s%-8s%s %-18s %s\n", a.Time.Local().Format("Jan 02 15:04"), c, a.Severity, ansiReset, a.Code, msg)
	}
	if v.Err != "" {
		fmt.Fprintf(w, "\n%s%s%s\n", ansiRed, v.Err, ansiReset)
	}
	fmt.Fprintf(w, "\n%sCtrl-C to quit%s\n", ansiDim, ansiReset)
}

// sparkline draws values as block characters, red outside [lo, hi].
func sparkline(vs []float64, lo, hi float64) string {
	const blocks = "▁▂▃▄▅▆▇█"
	mn, mx := math.Min(lo, slicesMin(vs)), math.Max(hi, slicesMax(vs))
	var b strings.Builder
	r := []rune(blocks)
	for _, v := range vs {
		i := 0
		if mx > mn {
			i = int(math.Round((v - mn) / (mx - mn) * float64(len(r)-1)))
		}
		if v < lo || v > hi {
			b.WriteString(ansiRed + string(r[i]) + ansiReset)
		} else {
			b.WriteString(ansiGreen + string(r[i]) + ansiReset)
		}
	}
	return b.String()
}

func slicesMin(vs []float64) float64 {
	m := math.Inf(1)
	for _, v := range vs {
		m = math.Min(m, v)
	}
	return m
}

func slicesMax(vs []float64) float64 {
	m := math.Inf(-1)
	for _, v := range vs {
		m = math.Max(m, v)
	}
	return m
}

func shortTime(ts string) string {
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return ts
	}
	return t.Local().Format("Jan 02 15:04")
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}
