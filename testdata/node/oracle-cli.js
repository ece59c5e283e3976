#!/usr/bin/env node
'use strict';

// Batch CLI over oracle.js for the Go tests.
//
//   stdin : {"ops":[{"op":"sign","args":{...}}, ...]}
//   stdout: {"results":[{"ok":true,"value":{...}} | {"ok":false,"error":"..."}, ...],
//            "versions":{"node":"v20...","express-session":"1.19.0",...}}
//
// Ops run one after another, in order. Exit status is 0 unless stdin could not
// be read or parsed (then 2, with the reason on stderr). Only the result
// document is written to stdout: console output of any package is sent to
// stderr, and depd deprecation warnings go to stderr anyway.

const realStdoutWrite = process.stdout.write.bind(process.stdout);
for (const m of ['log', 'info', 'debug', 'warn', 'dir', 'table', 'trace']) {
  console[m] = console.error.bind(console);
}
process.stdout.write = function () {
  return process.stderr.write.apply(process.stderr, arguments);
};

const oracle = require('./oracle.js');

function readStdin() {
  return new Promise(function (resolve, reject) {
    const chunks = [];
    process.stdin.on('data', function (c) { chunks.push(c); });
    process.stdin.on('end', function () { resolve(Buffer.concat(chunks).toString('utf8')); });
    process.stdin.on('error', reject);
  });
}

async function main() {
  let doc;
  try {
    doc = JSON.parse(await readStdin());
    if (!doc || typeof doc !== 'object' || !Array.isArray(doc.ops)) {
      throw new Error('input must be a JSON object with an "ops" array');
    }
  } catch (err) {
    process.stderr.write('oracle-cli: unreadable input: ' + (err && err.message || err) + '\n');
    process.exitCode = 2;
    return;
  }

  const results = [];
  for (const item of doc.ops) {
    try {
      if (!item || typeof item !== 'object') throw new Error('op must be an object');
      if (!oracle.OPS.includes(item.op)) throw new Error('unknown op: ' + JSON.stringify(item.op));
      const args = item.args === undefined || item.args === null ? {} : item.args;
      const value = await oracle[item.op](args);
      results.push({ ok: true, value: value });
    } catch (err) {
      results.push({ ok: false, error: String(err && err.message || err) });
    }
  }
  oracle.close();
  const out = JSON.stringify({ results: results, versions: oracle.versions() }) + '\n';
  realStdoutWrite(out);
}

main().catch(function (err) {
  process.stderr.write('oracle-cli: ' + (err && err.stack || err) + '\n');
  process.exitCode = 1;
});
