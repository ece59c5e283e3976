'use strict';
// socket.io load client (socket.io-client 4.8.4, websocket transport), one of the three the harness
// can use (bench/sioclient.go describes the protocol; the Go clients speak the same). It reads JSON
// lines on stdin and answers each with one JSON line on stdout:
//
//   {"cookies": [...], "users": [...], "concurrency": 64}  first line: the Cookie headers to cycle
//                                              through and the user id each belongs to (-1: forged)
//   {"run": "<url>", "ms": 500, "auth": true}  connect, wait for the server's "user" event, check
//                                              it, disconnect, repeat, from `concurrency` loops for
//                                              ms; answers the counts (see sioResult in sioclient.go)
//   {"hold": "<url>", "count": 2000, "auth": true}  connect `count` sockets (at most `concurrency`
//                                              at once) and keep them; answers the counts and "held"
//   {"release": true}                          disconnect the held sockets; answers {"released"}
//
// With auth, a valid cookie must be answered with its own user id and a forged one refused; without
// (a baseline server), every handshake is accepted and answered with the anonymous user (-1).
// It exits when stdin closes. Diagnostics go to stderr.
const readline = require('node:readline');
const { io } = require('socket.io-client');

const ANON = -1;
const TIMEOUT = 10000;

let spec = null;
let next = 0;
let held = [];

function newResult() {
  return {
    attempts: 0,
    accepted: 0,
    wrongUser: 0,
    refused: 0,
    forgedRefused: 0,
    forgedAccepted: 0,
    errors: {},
    refusals: {},
    ms: 0,
    lat: [],
    held: 0,
  };
}

function count(map, key) {
  map[key] = (map[key] || 0) + 1;
}

// connectOnce resolves with {socket, user} once the "user" event arrived, {refused} on
// connect_error, or {error}.
function connectOnce(url, cookie) {
  return new Promise((resolve) => {
    const socket = io(url, {
      forceNew: true,
      reconnection: false,
      transports: ['websocket'],
      timeout: TIMEOUT,
      extraHeaders: { Cookie: cookie },
    });
    let done = false;
    const finish = (r) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (!r.socket) socket.close();
      resolve(r);
    };
    const timer = setTimeout(() => finish({ error: 'timeout' }), TIMEOUT);
    socket.once('user', (u) => {
      if (u && typeof u.id === 'number') finish({ socket, user: u.id });
      else finish({ error: `user event without an id: ${JSON.stringify(u).slice(0, 80)}` });
    });
    socket.once('connect_error', (err) => finish({ refused: `connect_error ${err.message || err}` }));
    socket.once('disconnect', (reason) => finish({ error: `disconnected before the user event: ${reason}` }));
  });
}

// once performs the handshake of entry k and counts it in out; it returns the socket if accepted.
async function once(url, k, auth, out) {
  const forged = spec.users[k] < 0;
  const want = auth ? spec.users[k] : ANON;
  const t0 = process.hrtime.bigint();
  const r = await connectOnce(url, spec.cookies[k]);
  const lat = Number(process.hrtime.bigint() - t0) / 1e6;
  out.attempts++;
  if (r.error) {
    count(out.errors, r.error);
    return null;
  }
  if (r.refused) {
    count(out.refusals, r.refused);
    if (forged) out.forgedRefused++;
    else out.refused++;
    return null;
  }
  if (forged) {
    out.forgedAccepted++;
  } else if (r.user !== want) {
    out.wrongUser++;
    if (!out.firstWrong) out.firstWrong = `cookie of user ${spec.users[k]} answered as user ${r.user}`;
  } else {
    out.accepted++;
    out.lat.push(lat);
  }
  return r.socket;
}

async function run(url, ms, auth) {
  const out = newResult();
  const start = Date.now();
  const deadline = start + ms;
  const loop = async () => {
    while (Date.now() < deadline) {
      const k = next;
      next = (next + 1) % spec.cookies.length;
      const socket = await once(url, k, auth, out);
      if (socket) socket.disconnect();
    }
  };
  await Promise.all(Array.from({ length: spec.concurrency }, loop));
  out.ms = Date.now() - start;
  return out;
}

async function hold(url, n, auth) {
  const out = newResult();
  const start = Date.now();
  let started = 0;
  const loop = async () => {
    while (started < n) {
      const k = started++ % spec.cookies.length;
      const socket = await once(url, k, auth, out);
      if (socket) {
        held.push(socket);
        out.held++;
      }
    }
  };
  await Promise.all(Array.from({ length: spec.concurrency }, loop));
  out.ms = Date.now() - start;
  return out;
}

async function release() {
  const n = held.length;
  const closed = held.map(
    (s) =>
      new Promise((resolve) => {
        s.once('disconnect', resolve);
        s.disconnect();
      })
  );
  held = [];
  await Promise.all(closed);
  return { released: n };
}

async function handle(msg) {
  if (spec === null) {
    if (!Array.isArray(msg.cookies) || msg.cookies.length === 0 || msg.cookies.length !== msg.users.length) {
      throw new Error('bad setup line');
    }
    spec = msg;
    return { ready: true };
  }
  if (msg.run) return run(msg.run, msg.ms, msg.auth);
  if (msg.hold) return hold(msg.hold, msg.count, msg.auth);
  if (msg.release) return release();
  throw new Error(`unknown command ${JSON.stringify(msg)}`);
}

const rl = readline.createInterface({ input: process.stdin });
let queue = Promise.resolve();
rl.on('line', (line) => {
  queue = queue.then(async () => {
    const res = await handle(JSON.parse(line));
    process.stdout.write(JSON.stringify(res) + '\n');
  });
  queue.catch((err) => {
    console.error(`[sio-client.js] ${err && err.stack ? err.stack : err}`);
    process.exit(1);
  });
});
rl.on('close', () => queue.finally(() => process.exit(0)));
