// Writes ../merkle/testdata/oz_vectors.json: roots and proofs computed by
// @openzeppelin/merkle-tree (the reference implementation) for leaves
// (string twin, uint64 seq, bytes32 digest). merkle_test.go checks the Go
// tree against them.
'use strict';
const fs = require('fs');
const path = require('path');
const { StandardMerkleTree } = require('@openzeppelin/merkle-tree');
const { keccak256 } = require('ethereum-cryptography/keccak');

function digest(i) {
  return '0x' + Buffer.from(keccak256(Buffer.from('digest-' + i))).toString('hex');
}
const cases = [];
for (const n of [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33]) {
  const values = [];
  for (let i = 0; i < n; i++) values.push(['twin-' + i + '-' + 'x'.repeat(i * 3), String(i * 7 + 1), digest(i)]);
  const tree = StandardMerkleTree.of(values, ['string', 'uint64', 'bytes32']);
  const proofs = values.map((v, i) => tree.getProof(i));
  cases.push({ n, root: tree.root, leaves: values.map((v) => ({ twin: v[0], seq: Number(v[1]), digest: v[2] })), proofs });
}
const out = path.join(__dirname, '..', 'merkle', 'testdata', 'oz_vectors.json');
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, JSON.stringify(cases, null, 1) + '\n');
