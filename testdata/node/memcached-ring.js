'use strict';
// memcached ring oracle: drives connect-memcached 3.0.0 and its npm memcached
// 2.2 client over several memcached servers, with the client options given,
// and reports for every call the server the client's HashRing picks for the
// key, what the call answered, and the client's failure state.
// stores/memcached/failover_test.go runs the same steps through Go's Ring.
//
// Protocol (newline-delimited JSON):
//   stdin line 1:  {"servers":["host:port",...],"options":{...},"prefix":"sess:"}
//                  options are the npm memcached client's (retries, failures,
//                  retry, remove, failuresTimeout, reconnect, timeout, ...),
//                  handed to connect-memcached as they are.
//   stdout line 1: {"ready":true}
//   then stdin:    one request per line, answered in order, one at a time:
//     {"op":"set","sid":S,"session":{...}}  connect-memcached's set
//     {"op":"get","sid":S}                  connect-memcached's get
//     {"op":"destroy","sid":S}              connect-memcached's destroy
//     {"op":"where","sids":[S,...]}         HashRing.get(prefix+S) of each
//     {"op":"state"}                        the ring's servers and the issue logs
//   stdout: one {"op":...,"server":...,"err":...,"found":...,"session":...,
//   "events":[...]} per request: server is HashRing.get(prefix+sid) just
//   before the call (what the client sends it to), err the error message or
//   null, found whether get returned a session, events the client's events
//   (issue, failure, reconnecting, reconnect, remove) since the last answer.
//   EOF on stdin ends the client and the script.
// Only those lines go to stdout; everything else goes to stderr.

const readline = require('node:readline');

const writeOut = process.stdout.write.bind(process.stdout);
console.log = console.error.bind(console);
console.info = console.error.bind(console);

const session = require('express-session');
const MemcachedStore = require('connect-memcached')(session);

let store = null;
let prefix = '';
let events = [];

function out(v) {
  writeOut(JSON.stringify(v) + '\n');
}

function ringServers(client) {
  return client.HashRing.servers.map((s) => s.string);
}

function where(client, key) {
  return client.servers.length === 1 ? client.servers[0] : client.HashRing.get(key) || null;
}

function issueState(client) {
  const issues = {};
  for (const server of Object.keys(client.issues)) {
    const i = client.issues[server];
    issues[server] = {
      failed: i.failed,
      failures: i.failures,
      locked: i.locked,
      totalFailures: i.totalFailures,
      reconnecting: i.isScheduledToReconnect,
    };
  }
  return issues;
}

function start(cfg) {
  prefix = cfg.prefix || '';
  store = new MemcachedStore(Object.assign({}, cfg.options || {}, { hosts: cfg.servers, prefix: prefix }));
  for (const name of ['issue', 'failure', 'reconnecting', 'reconnect', 'remove']) {
    store.client.on(name, (d) => {
      events.push({ event: name, server: d.server, failures: d.failures === undefined ? null : d.failures, at: Date.now() });
    });
  }
}

function answer(req, fields) {
  const ev = events;
  events = [];
  out(Object.assign({ op: req.op }, fields, { events: ev }));
}

function run(req, done) {
  const client = store.client;
  switch (req.op) {
    case 'set': {
      const server = where(client, prefix + req.sid);
      const t0 = Date.now();
      store.set(req.sid, req.session, (err) => {
        answer(req, { server, err: err ? String(err.message || err) : null, ms: Date.now() - t0 });
        done();
      });
      return;
    }
    case 'get': {
      const server = where(client, prefix + req.sid);
      const t0 = Date.now();
      store.get(req.sid, (err, sess) => {
        answer(req, {
          server,
          err: err ? String(err.message || err) : null,
          found: !err && !!sess,
          session: !err && sess ? sess : null,
          ms: Date.now() - t0,
        });
        done();
      });
      return;
    }
    case 'destroy': {
      const server = where(client, prefix + req.sid);
      store.destroy(req.sid, (err) => {
        answer(req, { server, err: err ? String(err.message || err) : null });
        done();
      });
      return;
    }
    case 'where':
      answer(req, { servers: req.sids.map((s) => where(client, prefix + s)) });
      done();
      return;
    case 'state':
      answer(req, { ring: ringServers(client), issues: issueState(client), now: Date.now() });
      done();
      return;
    default:
      answer(req, { err: 'unknown op ' + req.op });
      done();
  }
}

const queue = [];
let busy = false;
let ended = false;

function next() {
  if (busy) return;
  const line = queue.shift();
  if (line === undefined) {
    if (ended) {
      if (store) store.client.end();
      process.exit(0);
    }
    return;
  }
  let req;
  try {
    req = JSON.parse(line);
  } catch (e) {
    console.error('[memcached-ring.js] FATAL: bad input line: ' + e.message);
    process.exit(1);
  }
  if (!store) {
    start(req);
    out({ ready: true });
    setImmediate(next);
    return;
  }
  busy = true;
  run(req, () => {
    busy = false;
    setImmediate(next);
  });
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (line.trim() === '') return;
  queue.push(line);
  next();
});
rl.on('close', () => {
  ended = true;
  next();
});
