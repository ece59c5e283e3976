'use strict';
// Unsign benchmark, Node side: cookie-signature 1.0.7 (the copy express-session uses), on this one
// thread. JSON lines on stdin, one JSON line answered on stdout for each:
//
//   {"secret": "...", "signed": ["<id>.<sig>", ...], "ids": [...], "ms": 200}
//        checks that every signed value unsigns to its id (and that a forged one does not),
//        warms up (the JIT) for at least half a second and calibrates a round to about `ms`
//        milliseconds; answers {"ready": true}
//   {"round": true}   runs one timed round (a fixed number of ops, timed with hrtime around the
//                     loop); answers {"nsPerOp": ...}
//
// It exits when stdin closes. The harness alternates these rounds with the Go rounds, with this
// process pinned to the core the Go rounds run on.
const readline = require('node:readline');
const signature = require('cookie-signature');

let spec = null;
let batches = 1;
let sink = 0;

// batch unsigns every value once.
function batch() {
  const { signed, secret } = spec;
  for (let i = 0; i < signed.length; i++) {
    if (signature.unsign(signed[i], secret) !== false) sink++;
  }
}

function setup(msg) {
  spec = msg;
  spec.signed.forEach((v, i) => {
    if (signature.unsign(v, spec.secret) !== spec.ids[i]) throw new Error(`value ${i} does not unsign to its id`);
  });
  const forged = spec.signed[0].slice(0, -1) + (spec.signed[0].endsWith('A') ? 'B' : 'A');
  if (signature.unsign(forged, spec.secret) !== false) throw new Error('a forged signature was accepted');
  // Warm up (the JIT) for at least half a second while finding how many batches fill a round.
  for (;;) {
    const t0 = process.hrtime.bigint();
    for (let b = 0; b < batches; b++) batch();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (ms >= 500) {
      batches = Math.max(1, Math.round((batches * (spec.ms || 1000)) / ms));
      return { ready: true };
    }
    batches *= 2;
  }
}

function round() {
  sink = 0;
  const t0 = process.hrtime.bigint();
  for (let b = 0; b < batches; b++) batch();
  const ns = Number(process.hrtime.bigint() - t0);
  if (sink !== batches * spec.signed.length) throw new Error(`${batches * spec.signed.length - sink} values refused`);
  return { nsPerOp: ns / (batches * spec.signed.length) };
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  try {
    const msg = JSON.parse(line);
    const out = spec === null ? setup(msg) : round();
    process.stdout.write(JSON.stringify(out) + '\n');
  } catch (err) {
    console.error(`[unsign.js] ${err && err.stack ? err.stack : err}`);
    process.exit(1);
  }
});
