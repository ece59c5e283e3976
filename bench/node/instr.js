'use strict';
// Instruction counts, Node side (the harness's instr section, bench/instr.go): run under valgrind's
// callgrind with instrumentation off, this script warms up every workload, prints READY, waits for
// a line on stdin (the harness has turned instrumentation on meanwhile), then runs each workload for
// 0 ops and for N ops between os.loadavg() and os.uptime(): callgrind zeroes its counters on entering
// uv_loadavg and dumps them on entering uv_uptime. Its last line is JSON:
// {"intervals": [{"name", "ops"}, ...] (in dump order), "checks": {name: output of op 0}}.
//
//   node --predictable --random-seed=1 --min-semi-space-size=64 --max-semi-space-size=64 instr.js spec.json
//
// spec.json (written by the harness): secret, ids, signed, headers, records, users, dates, warm,
// ops {workload: N}, reps, wait. Each workload runs `reps` pairs of intervals (0 ops, N ops); the
// harness takes the least count of each size: V8's occasional one-off work (a scavenge, a
// compilation, sweeping) only ever adds to an interval, and the young generation (raised by the
// semi-space flags) makes most intervals free of it. Workloads:
//   unsign   cookie-signature 1.0.7 unsign(signed, secret)
//   decode   JSON.parse(record)
//   encode   obj.cookie.expires = <Date>; JSON.stringify(obj)
//   request  express-session 1.19 (a MemoryStore without touch, as Go's Middleware writes nothing
//            back) + passport 0.7 initialize() + session() (deserializeUser returns the stored
//            user, as Go's passportuser.Raw does) + a handler that ends the response with
//            JSON.stringify(req.user); mock req/res objects, no HTTP parsing, no socket, no router.
const fs = require('node:fs');
const os = require('node:os');
const signature = require('cookie-signature');
const session = require('express-session');
const { Passport } = require('passport');

const spec = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const n = spec.ids.length;
let sink = 0;

// --- the request path ---

// A MemoryStore whose touch is gone: express-session then neither saves nor touches an unchanged
// session, as Go's Bridge.Middleware does not.
class ReadOnlyMemoryStore extends session.MemoryStore {}
ReadOnlyMemoryStore.prototype.touch = undefined;
const store = new ReadOnlyMemoryStore();
spec.ids.forEach((id, i) => {
  store.sessions[id] = spec.records[i];
});
const passport = new Passport();
passport.serializeUser((user, done) => done(null, user));
passport.deserializeUser((stored, done) => done(null, stored));
const chain = [
  session({
    name: 'connect.sid',
    secret: spec.secret,
    store,
    resave: false,
    saveUninitialized: false,
    cookie: { maxAge: 86400000, httpOnly: true, path: '/' },
  }),
  passport.initialize(),
  passport.session(),
];

function handler(req, res) {
  if (!req.user) {
    res.statusCode = 401;
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.end('{"error":"not logged in"}');
    return;
  }
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(req.user));
}

// MockRes is the part of http.ServerResponse that express-session, on-headers and the handler use.
class MockRes {
  constructor(done) {
    this.statusCode = 200;
    this.headers = Object.create(null);
    this._header = null;
    this.body = null;
    this.done = done;
  }
  setHeader(name, value) {
    this.headers[name.toLowerCase()] = value;
  }
  getHeader(name) {
    return this.headers[name.toLowerCase()];
  }
  removeHeader(name) {
    delete this.headers[name.toLowerCase()];
  }
  writeHead(status) {
    this.statusCode = status;
    this._header = true;
    return this;
  }
  _implicitHeader() {
    this.writeHead(this.statusCode);
  }
  write(chunk) {
    if (!this._header) this._implicitHeader();
    this.body = chunk;
    return true;
  }
  end(chunk) {
    if (!this._header) this._implicitHeader();
    if (chunk != null) this.body = chunk;
    this.done(this);
  }
}

// request serves one GET /me for session k and calls done(res).
function request(k, done) {
  const req = { method: 'GET', url: '/me', originalUrl: '/me', headers: { cookie: spec.headers[k] } };
  const res = new MockRes(done);
  let i = 0;
  const next = (err) => {
    if (err) throw err;
    if (i < chain.length) chain[i++](req, res, next);
    else handler(req, res);
  };
  next();
}

// requests serves ops requests one after the other, then calls done().
function requests(ops, done) {
  let i = 0;
  let k = 0;
  const step = (res) => {
    if (res !== undefined) {
      if (res.statusCode !== 200) throw new Error(`request ${i}: status ${res.statusCode}`);
      sink += res.body.length;
    }
    if (i === ops) {
      done();
      return;
    }
    i++;
    const kk = k;
    if (++k === n) k = 0;
    request(kk, step);
  };
  step(undefined);
}

// --- the synchronous workloads ---

const objs = spec.records.map((r) => JSON.parse(r));
const dates = spec.dates.map((d) => new Date(d));

const sync = {
  unsign(ops) {
    for (let i = 0, k = 0; i < ops; i++) {
      if (signature.unsign(spec.signed[k], spec.secret) === false) throw new Error(`value ${k} refused`);
      if (++k === n) k = 0;
    }
  },
  decode(ops) {
    for (let i = 0, k = 0; i < ops; i++) {
      sink += JSON.parse(spec.records[k]).cookie.originalMaxAge;
      if (++k === n) k = 0;
    }
  },
  encode(ops) {
    for (let i = 0, k = 0; i < ops; i++) {
      const o = objs[k];
      o.cookie.expires = dates[i % dates.length];
      sink += JSON.stringify(o).length;
      if (++k === n) k = 0;
    }
  },
};

const checks = {
  unsign: () => String(signature.unsign(spec.signed[0], spec.secret)),
  decode: () => JSON.stringify(JSON.parse(spec.records[0])),
  encode: () => {
    objs[0].cookie.expires = dates[0];
    return JSON.stringify(objs[0]);
  },
};

// run runs workload name for ops ops and calls done().
function run(name, ops, done) {
  if (name === 'request') {
    requests(ops, done);
    return;
  }
  sync[name](ops);
  done();
}

const names = Object.keys(spec.ops).filter((w) => w === 'request' || sync[w]);

function main() {
  const result = { intervals: [], checks: {} };
  for (const name of names) if (checks[name]) result.checks[name] = checks[name]();
  // The request check, then the warm-up (markers included, so their first calls are behind us).
  request(0, (res) => {
    result.checks.request = String(res.body);
    let w = 0;
    const warmNext = () => {
      if (w === names.length) {
        for (let m = 0; m < 10; m++) {
          os.loadavg();
          os.uptime();
        }
        ready();
        return;
      }
      run(names[w++], spec.warm, warmNext);
    };
    warmNext();
  });

  function ready() {
    const go = () => {
      const plan = [];
      for (const name of names) {
        for (let r = 0; r < (spec.reps || 1); r++) plan.push([name, 0], [name, spec.ops[name]]);
      }
      let p = 0;
      const nextInterval = () => {
        if (p === plan.length) {
          if (sink === 0) throw new Error('nothing computed');
          process.stdout.write(JSON.stringify(result) + '\n');
          process.exit(0);
        }
        const [name, ops] = plan[p++];
        os.loadavg(); // callgrind: zero
        run(name, ops, () => {
          os.uptime(); // callgrind: dump
          result.intervals.push({ name, ops });
          setImmediate(nextInterval);
        });
      };
      nextInterval();
    };
    if (!spec.wait) {
      go();
      return;
    }
    process.stdout.write('READY\n');
    process.stdin.once('data', () => {
      process.stdin.pause();
      go();
    });
  }
}

main();
