'use strict';
// Lifecycle oracle: runs request sequences through the real express +
// express-session + passport stack and reports, for every request, the
// Set-Cookie headers, the status, the body and the store operations in
// order. lifecycle_oracle_test.go runs the same sequences through Go's
// Bridge.LoadAndSave and compares.
//
// Protocol (newline-delimited JSON):
//   stdin line 1:  {"tls":{"cert":PEM,"key":PEM}}    (the HTTPS server's identity)
//   stdout line 1: {"ready":true}
//   then stdin:    one sequence per line; stdout: one {"i":N,"steps":[...]} per line,
//                  as sequences finish (several run at once). EOF on stdin ends the input;
//                  the last line is then {"done":true,"clockMisses":N}.
// Only those lines go to stdout; everything else goes to stderr.
//
// The sequence format (opts, seed, steps with now/cookie/path/proto/xfp/
// actions/respond/clear/fail) is documented in lifecycle_oracle_test.go.
// Several sequences run at once; each request runs in an AsyncLocalStorage
// context holding its sequence, whose step clock is what Date.now returns
// there (express-session reads the time only through Date.now).

const http = require('node:http');
const https = require('node:https');
const readline = require('node:readline');
const { AsyncLocalStorage } = require('node:async_hooks');

const writeOut = process.stdout.write.bind(process.stdout);
console.log = console.error.bind(console);
console.info = console.error.bind(console);

const express = require('express');
const session = require('express-session');
const passport = require('passport');

// The running sequence of the current request: { mw, step, store, clock }.
const als = new AsyncLocalStorage();
const running = new Map(); // sequence index -> its context
const realNow = Date.now;
let clockMisses = 0;
Date.now = function sequenceNow() {
  const ctx = als.getStore();
  if (!ctx) {
    clockMisses++;
    return realNow();
  }
  return ctx.clock;
};

// ---------------------------------------------------------------- store

// A store kept as JSON text in a Map, like express-session's MemoryStore
// (expired records dropped on read), recording every call.
class RecordingStore extends session.Store {
  constructor(keepExpired) {
    super();
    this.keepExpired = !!keepExpired; // a store without TTL
    this.sessions = new Map();
    this.ops = [];
    this.fail = '';
  }

  read(sid) {
    const raw = this.sessions.get(sid);
    if (raw === undefined) return undefined;
    const sess = JSON.parse(raw);
    if (sess.cookie && !this.keepExpired) {
      const expires = typeof sess.cookie.expires === 'string' ? new Date(sess.cookie.expires) : sess.cookie.expires;
      if (expires && expires <= Date.now()) {
        this.sessions.delete(sid);
        return undefined;
      }
    }
    return sess;
  }

  get(sid, cb) {
    if (this.fail === 'get') {
      this.ops.push({ op: 'get', sid: sid, found: false });
      setImmediate(cb, new Error('boom'));
      return;
    }
    const sess = this.read(sid);
    this.ops.push({ op: 'get', sid: sid, found: sess !== undefined });
    setImmediate(cb, null, sess);
  }

  set(sid, sess, cb) {
    const json = JSON.stringify(sess);
    this.ops.push({ op: 'set', sid: sid, json: json });
    if (this.fail === 'set') {
      setImmediate(cb, new Error('boom'));
      return;
    }
    this.sessions.set(sid, json);
    setImmediate(cb);
  }

  touch(sid, sess, cb) {
    const json = JSON.stringify(sess);
    this.ops.push({ op: 'touch', sid: sid, json: json });
    if (this.fail === 'touch') {
      setImmediate(cb, new Error('boom'));
      return;
    }
    const cur = this.read(sid);
    if (cur) {
      cur.cookie = sess.cookie;
      this.sessions.set(sid, JSON.stringify(cur));
    }
    setImmediate(cb);
  }

  destroy(sid, cb) {
    this.ops.push({ op: 'destroy', sid: sid });
    if (this.fail === 'destroy') {
      setImmediate(cb, new Error('boom'));
      return;
    }
    this.sessions.delete(sid);
    setImmediate(cb);
  }
}

// ---------------------------------------------------------------- app

passport.serializeUser(function (user, done) { done(null, user); });
passport.deserializeUser(function (user, done) { done(null, user); });

function callback(fn) {
  return new Promise(function (resolve, reject) {
    fn(function (err) { if (err) reject(err); else resolve(); });
  });
}

// act runs one handler action and returns its result text.
async function act(req, a, store) {
  switch (a.op) {
    case 'read': {
      // JSON.stringify gives undefined for undefined and for functions (a
      // Session method such as save).
      const j = JSON.stringify(req.session[a.key]);
      return j === undefined ? 'undefined' : j;
    }
    case 'readId':
      return req.sessionID;
    case 'set':
      req.session[a.key] = JSON.parse(a.value);
      return 'ok';
    case 'delete':
      delete req.session[a.key];
      return 'ok';
    case 'save':
      await callback(function (cb) { req.session.save(cb); });
      return 'ok';
    case 'regenerate':
      await callback(function (cb) { req.session.regenerate(cb); });
      return 'ok';
    case 'destroy':
      await callback(function (cb) { req.session.destroy(cb); });
      return 'ok';
    case 'unset':
      req.session = null;
      return 'ok';
    case 'login':
      await callback(function (cb) { req.login(JSON.parse(a.value), { keepSessionInfo: !!a.keep }, cb); });
      return 'ok';
    case 'logout':
      await callback(function (cb) { req.logout({ keepSessionInfo: !!a.keep }, cb); });
      return 'ok';
    case 'reload':
      await callback(function (cb) { req.session.reload(cb); });
      return 'ok';
    case 'touch':
      req.session.touch();
      return 'ok';
    case 'cookie': {
      const v = JSON.parse(a.value);
      if (a.key === 'expires') req.session.cookie.expires = v === null ? null : new Date(v);
      else req.session.cookie[a.key] = v;
      return 'ok';
    }
    case 'extSet': {
      // Another writer changes the stored record meanwhile.
      const raw = store.sessions.get(req.sessionID);
      if (raw !== undefined) {
        const o = JSON.parse(raw);
        o[a.key] = JSON.parse(a.value);
        store.sessions.set(req.sessionID, JSON.stringify(o));
      }
      return 'ok';
    }
    case 'extClear':
      store.sessions.clear();
      return 'ok';
    case 'tick':
      // Time passes during the request.
      als.getStore().clock += Number(a.value);
      return 'ok';
    default:
      throw new Error('unknown action ' + a.op);
  }
}

const app = express();
app.use(function (req, res, next) { als.getStore().mw(req, res, next); });
app.use(passport.initialize());
app.use(async function (req, res) {
  const current = als.getStore();
  const step = current.step;
  const mode = step.respond || 'end';
  if (mode === 'early') res.write('early;');
  let body;
  if (!req.session) {
    body = 'nosession';
  } else {
    const out = [];
    for (const a of step.actions || []) {
      try {
        out.push(await act(req, a, current.store));
      } catch (e) {
        out.push('err');
      }
    }
    body = out.join(',');
  }
  if (mode === 'cl') {
    res.setHeader('Content-Length', String(Buffer.byteLength(body)));
    res.end(body);
  } else if (mode === 'empty') {
    res.setHeader('Content-Length', '0');
    res.end();
  } else {
    res.end(body);
  }
});

// ---------------------------------------------------------------- client

// serve runs a request in the context of its sequence.
function serve(req, res) {
  const ctx = running.get(req.headers['x-lc-seq']);
  als.run(ctx, function () { app(req, res); });
}

function request(servers, step, headers, agents, fresh) {
  const tls = step.proto === 'tls';
  const mod = tls ? https : http;
  const opts = {
    host: '127.0.0.1',
    port: (tls ? servers.https : servers.http).address().port,
    path: step.path || '/',
    method: 'GET',
    headers: headers,
    agent: fresh ? false : (tls ? agents.https : agents.http),
  };
  if (tls) opts.rejectUnauthorized = false;
  return new Promise(function (resolve) {
    const req = mod.request(opts, function (res) {
      const chunks = [];
      res.on('data', function (d) { chunks.push(d); });
      res.on('end', function () {
        resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', function () { resolve({ status: -1, headers: {}, body: '' }); });
      res.on('aborted', function () { resolve({ status: -1, headers: {}, body: '' }); });
    });
    req.on('error', function () { resolve({ status: -1, headers: {}, body: '' }); });
    req.end();
  });
}

// ---------------------------------------------------------------- sequences

function sessionOptions(seq, store) {
  const o = seq.opts;
  const cookie = {};
  if (o.path) cookie.path = o.path;
  if (o.maxAge !== null && o.maxAge !== undefined) cookie.maxAge = o.maxAge;
  if (o.secure) cookie.secure = true;
  if (o.noHttpOnly) cookie.httpOnly = false;
  if (o.priority) cookie.priority = o.priority;
  if (o.partitioned) cookie.partitioned = true;
  if (o.sameSite) cookie.sameSite = o.sameSite;
  if (o.domain) cookie.domain = o.domain;
  const ids = seq.ids || [];
  let n = 0;
  return {
    secret: o.secrets,
    name: o.name,
    store: store,
    resave: o.resave,
    saveUninitialized: o.saveUninitialized,
    rolling: o.rolling,
    unset: o.unset,
    proxy: o.proxy,
    cookie: cookie,
    genid: function () {
      const k = n++;
      return k < ids.length ? ids[k] : seq.idPrefix + '-' + String(k).padStart(2, '0');
    },
  };
}

// cookieHeader is the Cookie request header of a step: none, the jar's
// cookie (as a browser would send it), a tampered or unsigned form of it,
// or a literal header.
function cookieHeader(mode, jar) {
  if (!mode) return undefined;
  if (mode.startsWith('literal:')) return mode.slice('literal:'.length);
  if (!jar) return undefined;
  switch (mode) {
    case 'jar':
      return jar;
    case 'jar-tamper':
      return jar.replace(/...\./, '.');
    case 'jar-unsigned': {
      const eq = jar.indexOf('=');
      const value = decodeURIComponent(jar.slice(eq + 1));
      return jar.slice(0, eq + 1) + value.substring(2, value.indexOf('.'));
    }
  }
  throw new Error('unknown cookie mode ' + mode);
}

async function runSequence(seq, servers, agents) {
  const store = new RecordingStore(seq.keepExpired);
  for (const s of seq.seed || []) store.sessions.set(s.sid, s.json);
  const mw = session(sessionOptions(seq, store));
  const fresh = (seq.steps || []).some(function (s) { return !!s.fail; });
  const name = seq.opts.name || 'connect.sid';
  let jar = '';
  const results = [];
  const ctx = { mw: mw, step: null, store: store, clock: 0 };
  running.set(String(seq.i), ctx);
  for (const step of seq.steps) {
    ctx.clock = step.now;
    ctx.step = step;
    if (step.clear) store.sessions.clear();
    store.ops = [];
    store.fail = step.fail || '';
    const headers = { 'x-lc-seq': String(seq.i) };
    const c = cookieHeader(step.cookie, jar);
    if (c !== undefined) headers.cookie = c;
    if (step.xfp) headers['x-forwarded-proto'] = step.xfp;
    const res = await request(servers, step, headers, agents, fresh);
    let setCookie = res.headers['set-cookie'] || [];
    if (!Array.isArray(setCookie)) setCookie = [setCookie];
    for (const h of setCookie) {
      const pair = h.split(';')[0];
      if (pair.startsWith(name + '=')) jar = pair;
    }
    results.push({ status: res.status, setCookie: setCookie, ops: store.ops, body: res.body });
    store.fail = '';
  }
  running.delete(String(seq.i));
  return { i: seq.i, steps: results };
}

// Sequences run at once (each one's requests stay in order).
const PARALLEL = 8;

function listen(server) {
  return new Promise(function (resolve, reject) {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', function () { resolve(server); });
  });
}

async function main() {
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  const lines = rl[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done) return;
  const init = JSON.parse(first.value);
  const servers = {
    http: await listen(http.createServer(serve)),
    https: await listen(https.createServer({ cert: init.tls.cert, key: init.tls.key }, serve)),
  };
  const agents = {
    http: new http.Agent({ keepAlive: true, maxSockets: PARALLEL }),
    https: new https.Agent({ keepAlive: true, maxSockets: PARALLEL }),
  };
  writeOut(JSON.stringify({ ready: true }) + '\n');
  const active = new Set();
  for (;;) {
    const next = await lines.next();
    if (next.done) break;
    if (next.value === '') continue;
    const seq = JSON.parse(next.value);
    const p = runSequence(seq, servers, agents).then(function (out) {
      if (!writeOut(JSON.stringify(out) + '\n')) {
        return new Promise(function (resolve) { process.stdout.once('drain', resolve); });
      }
    }).finally(function () { active.delete(p); });
    active.add(p);
    if (active.size >= PARALLEL) await Promise.race(active);
  }
  await Promise.all(active);
  // The last line: how often Date.now was read outside any sequence (the
  // answers are deterministic only when that is never).
  const cpu = process.cpuUsage();
  writeOut(JSON.stringify({ done: true, clockMisses: clockMisses, cpuMs: Math.round((cpu.user + cpu.system) / 1000) }) + '\n');
  agents.http.destroy();
  agents.https.destroy();
  servers.http.close();
  servers.https.close();
  process.exit(0);
}

main().catch(function (err) {
  console.error('[lifecycle-oracle.js] FATAL:', err && err.stack ? err.stack : err);
  process.exit(1);
});
