// Compiles TwinAnchor.sol with the pinned solc (package-lock.json) into
// build/TwinAnchor.abi and build/TwinAnchor.bin. Output is deterministic:
// fixed settings, no metadata hash, sorted ABI keys as solc emits them.
'use strict';
const fs = require('fs');
const path = require('path');
const solc = require('solc');

const src = fs.readFileSync(path.join(__dirname, 'TwinAnchor.sol'), 'utf8');
const input = {
  language: 'Solidity',
  sources: { 'TwinAnchor.sol': { content: src } },
  settings: {
    optimizer: { enabled: true, runs: 10000 },
    evmVersion: 'cancun',
    metadata: { bytecodeHash: 'none', appendCBOR: false },
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
  },
};
const out = JSON.parse(solc.compile(JSON.stringify(input)));
const errs = (out.errors || []).filter((e) => e.severity === 'error');
for (const e of out.errors || []) console.error(e.formattedMessage);
if (errs.length) process.exit(1);
const c = out.contracts['TwinAnchor.sol'].TwinAnchor;
const dir = path.join(__dirname, 'build');
fs.mkdirSync(dir, { recursive: true });
fs.writeFileSync(path.join(dir, 'TwinAnchor.abi'), JSON.stringify(c.abi, null, 2) + '\n');
fs.writeFileSync(path.join(dir, 'TwinAnchor.bin'), c.evm.bytecode.object + '\n');
console.error('compiled TwinAnchor with solc ' + solc.version());
