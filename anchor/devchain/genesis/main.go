// Command genesis prints a `geth --dev` genesis on the fork rules public
// networks run today (devchain.PublicRules) with faucet funded, for
// anchor/ci-geth.sh:
//
//	go run ./anchor/devchain/genesis 0xFAUCET > genesis.json
//	geth init --datadir D genesis.json && geth --dev --datadir D ...
//
// geth --dev keeps the genesis of an existing data directory, so the node
// then charges today's gas schedule instead of every future fork's.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"

	"github.com/custos-dev/custos/anchor/devchain"
)

func main() {
	if len(os.Args) != 2 || !common.IsHexAddress(os.Args[1]) {
		fmt.Fprintln(os.Stderr, "usage: genesis FAUCET_ADDRESS")
		os.Exit(2)
	}
	faucet := common.HexToAddress(os.Args[1])
	g := core.DeveloperGenesisBlock(60_000_000, &faucet)
	g.Config = devchain.PublicRules()
	out, err := json.MarshalIndent(g, "", " ")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Stdout.Write(append(out, '\n'))
}
