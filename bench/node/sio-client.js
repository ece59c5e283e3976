'use strict';
// socket.io load client (socket.io-client 4.8.4, websocket transport), the same for the Go and the
// Node server. It reads JSON lines on stdin and answers each with one JSON line on stdout:
//
//   {"cookies": [...], "concurrency": 64}      first line: the Cookie headers to cycle through
//   {"run": "<url>", "ms": 500}                connect, wait for "connect", disconnect, repeat, from
//                                              `concurrency` loops for ms; answers
//                                              {"connected", "errors": {message: n}, "ms", "lat": [ms...]}
//   {"hold": "<url>", "count": 2000}           connect `count` sockets (at most `concurrency` at once)
//                                              and keep them; answers {"held", "errors"}
//   {"release": true}                          disconnect the held sockets; answers {"released"}
//
// It exits when stdin closes. Diagnostics go to stderr.
const readline = require('node:readline');
const { io } = require('socket.io-client');

let spec = null;
let next = 0;
let held = [];

function cookie() {
  const c = spec.cookies[next];
  next = (next + 1) % spec.cookies.length;
  return c;
}

// connectOnce resolves with {socket} on connect or {error} on connect_error / timeout.
function connectOnce(url) {
  return new Promise((resolve) => {
    const socket = io(url, {
      forceNew: true,
      reconnection: false,
      transports: ['websocket'],
      timeout: 10000,
      extraHeaders: { Cookie: cookie() },
    });
    socket.once('connect', () => resolve({ socket }));
    socket.once('connect_error', (err) => {
      socket.close();
      resolve({ error: err.message || String(err) });
    });
  });
}

async function run(url, ms) {
  const out = { connected: 0, errors: {}, ms: 0, lat: [] };
  const start = Date.now();
  const deadline = start + ms;
  const loop = async () => {
    while (Date.now() < deadline) {
      const t0 = process.hrtime.bigint();
      const r = await connectOnce(url);
      if (r.socket) {
        out.connected++;
        out.lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
        r.socket.disconnect();
      } else {
        out.errors[r.error] = (out.errors[r.error] || 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: spec.concurrency }, loop));
  out.ms = Date.now() - start;
  return out;
}

async function hold(url, count) {
  const out = { held: 0, errors: {} };
  let started = 0;
  const loop = async () => {
    while (started < count) {
      started++;
      const r = await connectOnce(url);
      if (r.socket) {
        held.push(r.socket);
        out.held++;
      } else {
        out.errors[r.error] = (out.errors[r.error] || 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: spec.concurrency }, loop));
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
    spec = msg;
    return { ready: true };
  }
  if (msg.run) return run(msg.run, msg.ms);
  if (msg.hold) return hold(msg.hold, msg.count);
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
