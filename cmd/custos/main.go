// Command custos is the custos digital-twin runtime and its client.
//
//	custos run                 start the runtime (embedded NATS, store and HTTP API)
//	custos twin create|get|list|history|alerts|event   manage twins over HTTP
//	custos publish             publish readings to NATS
//	custos policy list|deploy|test   contract modules: list, deploy live, test offline
//
// Run `custos <command> -h` for the flags of each.
package main

import (
	"fmt"
	"os"
)

const usage = `custos — a digital-twin runtime that runs a WebAssembly contract per physical asset.

Usage:
  custos run [flags]                     start the runtime on embedded defaults
  custos twin create ID --kind K --policy P [--params JSON]
  custos twin get ID                     show a twin's state
  custos twin list [--status S]          list twins
  custos twin history ID                 applied events with their digests
  custos twin alerts ID                  alerts raised on a twin
  custos twin event ID JSON              custody, status, close, aggregate, disaggregate
  custos publish ID --type T --value V   publish a reading (or --json, or -f file.jsonl)
  custos twin upgrade ID --version V     move a twin to another contract version (custos_migrate)
  custos policy list                     deployed contract modules, with twins on each
  custos policy deploy M.wasm --name N --version V   validate, dry-run and deploy a module live
  custos policy test M.wasm --events e.jsonl [--params p.json] [--expect x.jsonl]
                                         run a contract offline exactly as the runtime would
  custos twin watch ID                   live terminal view of a twin
  custos nkey FILE --role R [--tenant T] a NATS user key (devices, dashboards, operators)
  custos sim                             simulate a cold-chain fleet (fills the dashboard)
  custos twin proof ID --seq N           a proof bundle for a twin's state at seq
  custos twin replay ID                  re-execute a twin's events, recompute every digest
  custos verify proof.json --rpc URL --operator ADDR --contract ADDR --chain-id N
                                         check a proof bundle against the chain and the pinned operator
  custos anchor deploy|authorize|revoke|rotate|key|status
                                         the TwinAnchor contract, its operator's keys, anchoring progress
  custos bench                           measure ingest against raw JetStream
  custos version

Every flag also reads an environment variable: --data is CUSTOS_DATA, and so on.
Run "custos COMMAND -h" for details. Documentation: README.md and docs/.
`

var version = "dev"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	cmd, args := os.Args[1], os.Args[2:]
	switch cmd {
	case "run":
		runCmd(args)
	case "twin":
		if len(args) > 0 && args[0] == "watch" {
			watchCmd(args[1:])
			return
		}
		twinCmd(args)
	case "publish":
		publishCmd(args)
	case "policy":
		policyCmd(args)
	case "bench":
		benchCmd(args)
	case "anchor":
		anchorCmd(args)
	case "verify":
		verifyCmd(args)
	case "sim":
		simCmd(args)
	case "nkey":
		nkeyCmd(args)
	case "version", "--version":
		fmt.Println("custos", version)
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "custos: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
}
