package merkle_test

import (
	"fmt"

	"github.com/custos-dev/custos/anchor/merkle"
	"github.com/custos-dev/custos/twin"
)

func Example() {
	leaves := []merkle.Leaf{
		{Twin: "pallet-1", Seq: 3, Digest: twin.Keccak256([]byte("a"))},
		{Twin: "pallet-2", Seq: 9, Digest: twin.Keccak256([]byte("b"))},
		{Twin: "case-17", Seq: 1, Digest: twin.Keccak256([]byte("c"))},
		{Twin: "case-18", Seq: 4, Digest: twin.Keccak256([]byte("d"))},
	}
	tree := merkle.Build(leaves)
	leaf := leaves[1].Hash()
	path, _ := tree.Proof(leaf)
	fmt.Println("path length:", len(path))
	fmt.Println("verifies:", merkle.Verify(tree.Root(), leaf, path))
	fmt.Println("tampered seq verifies:", merkle.Verify(tree.Root(), merkle.LeafHash("pallet-2", 10, leaves[1].Digest), path))
	// Output:
	// path length: 2
	// verifies: true
	// tampered seq verifies: false
}
