package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/custos-dev/custos/twin"
)

// api calls the custos HTTP API with a JSON body and prints the JSON answer
// indented (see rawAPI).
func api(base, method, path string, body any) {
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			fatalf("%v", err)
		}
	}
	rawAPI(base, method, path, "application/json", b)
}

const twinUsage = `
custos twin — manage twins through the HTTP API of a running custos.

Usage:
  custos twin create ID --kind pallet --policy coldchain [--params '{"min_c":2,"max_c":8}'] [--custodian P] [--lateness 10m] [--ts RFC3339]
  custos twin get ID
  custos twin list [--status S] [--kind K] [--custodian P] [--limit N] [--after ID]
  custos twin history ID [--after SEQ] [--limit N]
  custos twin alerts ID [--after N] [--limit N]
  custos twin proof ID [--seq N] [--compact]   proof bundle of the twin's state at seq, once anchored
  custos twin event ID '{"type":"custody","to":"carrier-1"}'
      types: custody {to}, status {status}, close, aggregate {children}, disaggregate {children}
  custos twin upgrade ID --version V [--policy P]   move a twin to another policy version (custos_migrate)
  custos twin replay ID [--module M.wasm]...   re-execute the twin's events and recompute every digest (an auditor's check)
`

func twinCmd(args []string) {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(os.Stderr, strings.TrimLeft(twinUsage, "\n"))
		os.Exit(2)
	}
	sub, args := args[0], args[1:]
	if sub == "upgrade" {
		twinUpgradeCmd(args) // cmd/custos/policy.go
		return
	}
	if sub == "replay" {
		twinReplayCmd(args) // cmd/custos/replay.go
		return
	}
	fs := newFlags("twin "+sub, twinUsage)
	base := fs.String("api", "http://127.0.0.1:8080", "base URL of the custos HTTP API")
	var (
		kind, policy, version, params, custodian, parent *string
		lateness, ts                                     *string
		status, after                                    *string
		limit                                            *int
		compact                                          *bool
	)
	switch sub {
	case "create":
		kind = fs.String("kind", "", "twin kind: shipment, pallet, case, container, …")
		policy = fs.String("policy", "coldchain", "contract (policy) name")
		version = fs.String("version", "", "contract version (default: newest)")
		params = fs.String("params", "{}", "contract parameters, a JSON object")
		custodian = fs.String("custodian", "", "party holding the asset now")
		parent = fs.String("parent", "", "id of the containing twin")
		lateness = fs.String("lateness", "", "allowed-lateness window (e.g. 10m, at most 168h): readings are held back and applied in event-time order within it")
		ts = fs.String("ts", "", "event time of the creation, RFC 3339 (default: when custos receives it)")
	case "list":
		status = fs.String("status", "", "only twins with this status")
		kind = fs.String("kind", "", "only twins of this kind")
		custodian = fs.String("custodian", "", "only twins held by this party")
		after = fs.String("after", "", "cursor: list ids after this one")
		limit = fs.Int("limit", 100, "most twins to list")
	case "history", "alerts":
		after = fs.String("after", "", "only entries after this seq (history) or alert number (alerts)")
		limit = fs.Int("limit", 100, "most entries")
	case "proof":
		after = fs.String("seq", "", "the seq to prove (default: the twin's current seq)")
		compact = fs.Bool("compact", false, "the compact binary bundle (~1 KiB) instead of JSON")
	}
	// Allow the id before or after the flags.
	pos := fs.positional(args)
	need := func(n int, what string) {
		if len(pos) != n {
			fmt.Fprintf(os.Stderr, "custos twin %s: want %s\n", sub, what)
			os.Exit(2)
		}
	}
	switch sub {
	case "create":
		need(1, "ID")
		if *kind == "" {
			fatalf("twin create: --kind is required")
		}
		if !json.Valid([]byte(*params)) {
			fatalf("twin create: --params is not valid JSON")
		}
		api(*base, "POST", "/v1/twins", map[string]any{
			"id": pos[0], "kind": *kind, "policy": *policy, "version": *version,
			"params": json.RawMessage(*params), "custodian": *custodian, "parent": *parent,
			"lateness": *lateness, "ts": *ts,
		})
	case "get":
		need(1, "ID")
		api(*base, "GET", "/v1/twins/"+url.PathEscape(pos[0]), nil)
	case "list":
		need(0, "no arguments")
		q := url.Values{}
		for k, v := range map[string]string{"status": *status, "kind": *kind, "custodian": *custodian, "after": *after} {
			if v != "" {
				q.Set(k, v)
			}
		}
		q.Set("limit", strconv.Itoa(*limit))
		api(*base, "GET", "/v1/twins?"+q.Encode(), nil)
	case "history", "alerts":
		need(1, "ID")
		q := url.Values{"limit": {strconv.Itoa(*limit)}}
		if *after != "" {
			q.Set("after", *after)
		}
		api(*base, "GET", "/v1/twins/"+url.PathEscape(pos[0])+"/"+sub+"?"+q.Encode(), nil)
	case "proof":
		need(1, "ID")
		seq := *after
		if seq == "" {
			seq = currentSeq(*base, pos[0])
		}
		path := "/v1/twins/" + url.PathEscape(pos[0]) + "/proof?seq=" + url.QueryEscape(seq)
		if *compact {
			os.Stdout.Write(fetch(*base, path+"&format=compact"))
			return
		}
		api(*base, "GET", path, nil)
	case "event":
		need(2, "ID and a JSON event")
		if !json.Valid([]byte(pos[1])) {
			fatalf("twin event: %q is not valid JSON", pos[1])
		}
		api(*base, "POST", "/v1/twins/"+url.PathEscape(pos[0])+"/events", json.RawMessage(pos[1]))
	default:
		fmt.Fprintf(os.Stderr, "custos twin: unknown subcommand %q\n%s", sub, strings.TrimLeft(twinUsage, "\n"))
		os.Exit(2)
	}
}

const publishUsage = `
custos publish — publish readings for a twin to custos.telemetry.<ID> over NATS
and wait for JetStream to store them.

Usage:
  custos publish ID --type temperature --value 5.1 [--unit CEL] [--sensor t1] [--ts RFC3339]
  custos publish ID --json '{"ts":"2026-11-25T10:00:00Z","type":"temperature","value":5.1}'
  custos publish ID -f readings.jsonl     one reading (or {"readings":[…]}) per line; "-" for stdin
`

func publishCmd(args []string) {
	fs := newFlags("publish", publishUsage)
	natsURL := fs.String("nats-url", "nats://127.0.0.1:4222", "NATS server")
	creds := addNATSCredsFlags(fs)
	typ := fs.String("type", "", "reading type: temperature, humidity, shock, door, location, battery, light, tilt")
	value := fs.String("value", "", "reading value")
	unit := fs.String("unit", "", "unit (CEL, FAH, KEL, %RH, g, …)")
	sensor := fs.String("sensor", "", "sensor name")
	ts := fs.String("ts", "", "reading time, RFC 3339 (default: now)")
	lat := fs.String("lat", "", "latitude (location readings)")
	lon := fs.String("lon", "", "longitude (location readings)")
	raw := fs.String("json", "", "the message body as JSON")
	file := fs.String("f", "", "file of JSON lines to publish, one message each (\"-\" for stdin)")
	msgID := fs.String("msg-id", "", "Nats-Msg-Id header: re-sending with the same id is a no-op")
	pos := fs.positional(args)
	if len(pos) != 1 {
		fs.Usage()
		os.Exit(2)
	}
	id := pos[0]
	if !twin.ValidID(id) {
		fatalf("publish: %q is not a valid twin id (1–128 characters of [A-Za-z0-9_-])", id)
	}
	var bodies [][]byte
	switch {
	case *file != "":
		var r io.Reader = os.Stdin
		if *file != "-" {
			f, err := os.Open(*file)
			if err != nil {
				fatalf("publish: %v", err)
			}
			defer f.Close()
			r = f
		}
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := bytes.TrimSpace(sc.Bytes())
			if len(line) == 0 || line[0] == '#' {
				continue
			}
			bodies = append(bodies, append([]byte(nil), line...))
		}
		if err := sc.Err(); err != nil {
			fatalf("publish: read %s: %v", *file, err)
		}
	case *raw != "":
		bodies = [][]byte{[]byte(*raw)}
	case *typ != "":
		m := map[string]any{"type": *typ}
		if *ts == "" {
			m["ts"] = time.Now().UTC().Format(time.RFC3339Nano)
		} else {
			m["ts"] = *ts
		}
		for k, v := range map[string]string{"value": *value, "lat": *lat, "lon": *lon} {
			if v == "" {
				continue
			}
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				fatalf("publish: --%s %q is not a number", k, v)
			}
			m[k] = f
		}
		if *unit != "" {
			m["unit"] = *unit
		}
		if *sensor != "" {
			m["sensor"] = *sensor
		}
		b, _ := json.Marshal(m)
		bodies = [][]byte{b}
	default:
		fs.Usage()
		os.Exit(2)
	}
	nc, err := nats.Connect(*natsURL, append(creds.options(), nats.Name("custos publish"))...)
	if err != nil {
		fatalf("publish: connect %s: %v", *natsURL, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		fatalf("publish: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i, b := range bodies {
		var opts []jetstream.PublishOpt
		if *msgID != "" {
			mid := *msgID
			if len(bodies) > 1 {
				mid += ":" + strconv.Itoa(i)
			}
			opts = append(opts, jetstream.WithMsgID(mid))
		}
		ack, err := js.Publish(ctx, "custos.telemetry."+id, b, opts...)
		if err != nil {
			fatalf("publish: %v", err)
		}
		if len(bodies) == 1 {
			fmt.Printf("published to custos.telemetry.%s (stream %s, seq %d%s)\n", id, ack.Stream, ack.Sequence, dupNote(ack.Duplicate))
		}
	}
	if len(bodies) > 1 {
		fmt.Printf("published %d messages to custos.telemetry.%s\n", len(bodies), id)
	}
}

func dupNote(dup bool) string {
	if dup {
		return ", duplicate: already stored"
	}
	return ""
}

// currentSeq asks the API for a twin's current seq.
func currentSeq(base, id string) string {
	var t struct {
		Seq uint64 `json:"seq"`
	}
	if err := json.Unmarshal(fetch(base, "/v1/twins/"+url.PathEscape(id)), &t); err != nil {
		fatalf("twin %s: %v", id, err)
	}
	return strconv.FormatUint(t.Seq, 10)
}

// fetch GETs path and returns the body, exiting with the API's error.
func fetch(base, path string) []byte {
	status, data := call(base, "GET", path, "", nil)
	if status >= 300 {
		fatalf("%s", data)
	}
	return data
}
