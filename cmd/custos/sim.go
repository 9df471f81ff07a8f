package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/custos-dev/custos/examples/coldchain/sim"
)

const simUsage = `
custos sim — simulate a cold-chain fleet against a running custos.

Shipments of pallets of cases (2–8 °C, 30 min excursion budget) travel by
refrigerated truck: doors open at stops, one truck's reefer fails long enough
to compromise its load, and custody passes producer → carrier → distributor →
pharmacy. Twins and commands go over the HTTP API, readings over NATS. The
simulated journey ends now, so the dashboard shows it as just finished.

Usage:
  custos sim [--shipments 3] [--pallets 2] [--cases 3] [--wall 20s]
`

func simCmd(args []string) {
	fs := newFlags("sim", simUsage)
	base := fs.String("api", "http://127.0.0.1:8080", "base URL of the custos HTTP API")
	natsURL := fs.String("nats-url", "nats://127.0.0.1:4222", "NATS server")
	creds := addNATSCredsFlags(fs)
	token := fs.String("token", "", "bearer token with admin scope, if the API requires one")
	prefix := fs.String("prefix", "SHP", "twin id prefix")
	ships := fs.Int("shipments", 3, "shipments")
	pallets := fs.Int("pallets", 2, "pallets per shipment")
	cases := fs.Int("cases", 3, "cases per pallet")
	journey := fs.Duration("journey", 12*time.Hour, "simulated length of each journey")
	step := fs.Duration("step", 5*time.Minute, "simulated time between readings")
	wall := fs.Duration("wall", 20*time.Second, "real time the simulation takes")
	noFail := fs.Bool("no-reefer-failure", false, "no reefer failure")
	seed := fs.Int("seed", 1, "random seed")
	fs.parse(args)
	if *token == "" {
		*token = os.Getenv("CUSTOS_TOKEN")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	t0 := time.Now()
	st, err := sim.Run(ctx, sim.Config{
		API: *base, NATSURL: *natsURL, NATSOptions: creds.options(), Token: *token, Prefix: *prefix,
		Shipments: *ships, Pallets: *pallets, Cases: *cases, Journey: *journey, Step: *step, Wall: *wall,
		NoReeferFailure: *noFail, Seed: uint64(*seed), Progress: os.Stderr,
	})
	if err != nil {
		fatalf("%v", err)
	}
	fmt.Printf("simulated %d twins: %d readings, %d commands in %s\n", st.Twins, st.Readings, st.Commands, time.Since(t0).Round(time.Millisecond))
	if len(st.Compromised) > 0 {
		fmt.Printf("reefer failure on %s (%d twins should turn compromised)\n", st.Compromised[0], len(st.Compromised))
	}
	fmt.Printf("open the dashboard: %s/\n", *base)
}
