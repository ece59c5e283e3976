'use strict';
// The line protocol of the SQL store CLIs (stores-cli.js here, ../nodesqlite/sqlite-cli.js),
// shared so both speak it alike. Require it before any other package: it guards stdout (through
// ../node/harness.js) and installs the clock.
//
// Protocol: every line on stdin is one JSON object {"op": name, "args": {...}}; for each, in order,
// one line goes to stdout: {"ok":true,"value":v} or {"ok":false,"error":"..."}. Nothing else is ever
// written to stdout (console.* goes to stderr). The process ends when stdin closes, after running
// the closers. args.now (epoch ms), when given, is the clock (Date.now() and new Date()) while that
// op runs.
//
// It exports serve(ops, closers), the harness helpers (h), call (a store method as a promise),
// sessionOf (a record as express-session holds a loaded session) and storeOps (the ops both CLIs
// run alike on a store built from args.store).

const realStdoutWrite = process.stdout.write.bind(process.stdout);
const h = require('../node/harness.js'); // from here on, console.* and process.stdout.write go to stderr
const { promisify } = require('node:util');
const readline = require('node:readline');

// ---------------------------------------------------------------- clock
// A Date whose now is args.now while an op runs: the packages read the clock through the global
// Date (Date.now(), new Date()), so replacing it controls every expiry they compute.
const RealDate = Date;
let fixedNow = null;
class ClockDate extends RealDate {
  constructor(...a) {
    if (a.length === 0 && fixedNow !== null) super(fixedNow);
    else super(...a);
  }
  static now() {
    return fixedNow !== null ? fixedNow : RealDate.now();
  }
}
global.Date = ClockDate;

// sessionOf is the record as express-session holds a loaded session: a Session whose cookie is a
// Cookie, made by the store's createSession (express-session's Store.prototype.createSession).
function sessionOf(store, sid, record) {
  if (typeof record !== 'string') throw new Error('args.record must be the record as JSON text');
  const req = { sessionID: sid, sessionStore: store };
  return store.createSession(req, JSON.parse(record));
}

// call runs a callback-style store method as a promise.
function call(store, method, ...a) {
  return promisify(store[method].bind(store))(...a);
}

// storeOps returns the ops open, set, get, touch, destroy and prune on the store args.store picks:
// build(spec) resolves to {store, prune}, and runs once per distinct spec (its JSON text).
function storeOps(build) {
  const stores = new Map();
  async function storeOf(args) {
    if (!args.store || typeof args.store !== 'object') throw new Error('args.store is required');
    const key = JSON.stringify(args.store);
    if (!stores.has(key)) stores.set(key, build(args.store));
    return stores.get(key);
  }
  return {
    async open(args) {
      await storeOf(args);
      return true;
    },
    async set(args) {
      const { store } = await storeOf(args);
      const sess = sessionOf(store, args.sid, args.record);
      await call(store, 'set', args.sid, sess);
      return JSON.stringify(sess);
    },
    async get(args) {
      const { store } = await storeOf(args);
      const sess = await call(store, 'get', args.sid);
      return sess ? JSON.stringify(sess) : null;
    },
    async touch(args) {
      const { store } = await storeOf(args);
      await call(store, 'touch', args.sid, sessionOf(store, args.sid, args.record));
      return true;
    },
    async destroy(args) {
      const { store } = await storeOf(args);
      await call(store, 'destroy', args.sid);
      return true;
    },
    async prune(args) {
      const { prune } = await storeOf(args);
      await prune();
      return true;
    },
  };
}

// serve answers the ops read from stdin, one at a time, in order; closers run when stdin closes.
function serve(ops, closers) {
  async function run(line) {
    let req;
    try {
      req = JSON.parse(line);
      if (!req || typeof req !== 'object' || typeof req.op !== 'string') throw new Error('want {"op": name, "args": {...}}');
      if (!Object.hasOwn(ops, req.op)) throw new Error(`unknown op ${JSON.stringify(req.op)}`);
    } catch (err) {
      return { ok: false, error: `bad request: ${h.errMessage(err)}` };
    }
    const args = req.args && typeof req.args === 'object' ? req.args : {};
    fixedNow = typeof args.now === 'number' ? args.now : null;
    try {
      const value = await ops[req.op](args);
      return { ok: true, value: value === undefined ? null : value };
    } catch (err) {
      return { ok: false, error: String(h.errMessage(err)) };
    } finally {
      fixedNow = null;
    }
  }

  process.on('unhandledRejection', (err) => h.log('unhandled rejection:', h.errText(err)));
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  let chain = Promise.resolve();
  rl.on('line', (line) => {
    if (line.trim() === '') return;
    chain = chain.then(async () => realStdoutWrite(JSON.stringify(await run(line)) + '\n'));
  });
  rl.on('close', () => {
    chain
      .then(() => Promise.allSettled(closers.map((c) => c())))
      .finally(() => process.exit(0));
  });
}

module.exports = { serve, h, call, sessionOf, storeOps };
