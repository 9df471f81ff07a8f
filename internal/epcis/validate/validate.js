// Validates EPCIS 2.0 JSON documents against the standard's JSON schema with
// GS1 France's epcis2.js (validateEpcisDocument). Usage: node validate.js FILE...
// Prints one line per file and exits 1 if any document is invalid.
'use strict';
const fs = require('node:fs');
const { validateEpcisDocument } = require('epcis2.js');

let failed = 0;
for (const file of process.argv.slice(2)) {
  let res;
  try {
    res = validateEpcisDocument(JSON.parse(fs.readFileSync(file, 'utf8')), false);
  } catch (e) {
    res = { success: false, errors: [String(e && e.message ? e.message : e)] };
  }
  if (res.success) {
    console.log(`ok ${file}`);
  } else {
    failed++;
    console.log(`invalid ${file}: ${JSON.stringify(res.errors)}`);
  }
}
process.exit(failed ? 1 : 0);
