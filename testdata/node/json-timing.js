'use strict';
// Times Node's JSON.parse and JSON.stringify of the exact bytes of each file
// named on the command line (the Go benchmarks write their inputs and pass
// them here), so Go's decode and encode can be compared with Node's on the
// same record:
//
//   node json-timing.js rec1.json rec2.json
//
// Prints one JSON document: {"results":[{"file","bytes","parseNs",
// "stringifyNs","roundTrip"}...],"node":"v20..."}. parseNs and stringifyNs
// are mean nanoseconds per call, measured after a warm-up for at least
// JSON_TIMING_MS milliseconds (default 200) and 3 calls. roundTrip tells
// whether JSON.stringify(JSON.parse(text)) gave back the text exactly (true
// for a record as express-session writes it). Exits 2 on a missing argument
// or an unreadable file.

const fs = require('fs');

const budgetNs = BigInt(Math.max(1, Number(process.env.JSON_TIMING_MS) || 200)) * 1000000n;

function time(fn) {
  for (let i = 0; i < 3; i++) fn(); // warm-up: let the JIT settle
  const start = process.hrtime.bigint();
  let calls = 0;
  let elapsed = 0n;
  do {
    fn();
    calls++;
    elapsed = process.hrtime.bigint() - start;
  } while (elapsed < budgetNs || calls < 3);
  return Number(elapsed) / calls;
}

function main(files) {
  if (files.length === 0) {
    process.stderr.write('usage: node json-timing.js file...\n');
    process.exit(2);
  }
  const results = [];
  for (const file of files) {
    let buf;
    try {
      buf = fs.readFileSync(file);
    } catch (err) {
      process.stderr.write('json-timing: ' + err.message + '\n');
      process.exit(2);
    }
    const text = buf.toString('utf8');
    let value;
    const parseNs = time(function () { value = JSON.parse(text); });
    let out;
    const stringifyNs = time(function () { out = JSON.stringify(value); });
    results.push({ file: file, bytes: buf.length, parseNs: parseNs, stringifyNs: stringifyNs, roundTrip: out === text });
  }
  process.stdout.write(JSON.stringify({ results: results, node: process.version }) + '\n');
}

main(process.argv.slice(2));
