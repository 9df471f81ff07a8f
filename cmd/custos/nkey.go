package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/custos-dev/custos/internal/natsrv"
)

const nkeyUsage = `
custos nkey — make a NATS user key for the embedded server.

Writes the key's seed (the secret; give it to the device or person, as their
--nats-creds) to FILE with mode 0600, and prints the line to add to the
--nats-users file of custos run (which holds only the public key).

Usage:
  custos nkey FILE --role device|dashboard|operator|admin [--tenant T] [--twins ID,ID]
`

func nkeyCmd(args []string) {
	fs := newFlags("nkey", nkeyUsage)
	role := fs.String("role", "", "device, dashboard, operator or admin")
	tenant := fs.String("tenant", "", "confine the user to twins whose id starts with TENANT-")
	twins := fs.String("twins", "", "devices: the only twins (comma-separated) it may publish readings for")
	pos := fs.positional(args)
	if len(pos) != 1 || *role == "" {
		fs.Usage()
		os.Exit(2)
	}
	if _, err := os.Stat(pos[0]); err == nil {
		fatalf("nkey: %s exists; not overwriting a key", pos[0])
	}
	pub, err := natsrv.NewUserKey(pos[0])
	if err != nil {
		fatalf("nkey: %v", err)
	}
	line := []string{pub, *role}
	if *tenant != "" {
		line = append(line, "tenant="+*tenant)
	}
	if *twins != "" {
		line = append(line, "twins="+*twins)
	}
	if _, err := natsrv.ParseUsers(strings.NewReader(strings.Join(line, " "))); err != nil {
		os.Remove(pos[0])
		fatalf("nkey: %v", err)
	}
	fmt.Fprintf(os.Stderr, "seed written to %s (keep it secret); add this line to the --nats-users file:\n", pos[0])
	fmt.Println(strings.Join(line, " "))
}
