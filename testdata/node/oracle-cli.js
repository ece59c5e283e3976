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
// stderr, and depd deprecation warnings go to stderr anyway. The stdin/stdout
// protocol and the stdout guard are harness.js's runOps.

const h = require('./harness.js');
const oracle = require('./oracle.js');

h.runOps(Object.fromEntries(oracle.OPS.map((name) => [name, (args) => oracle[name](args)])), {
  close: () => oracle.close(),
  versions: () => oracle.versions(),
});
