'use strict';
// Real socket.io-client 4.8 for the Go socket.io tests (socketauth/socketio).
//
//   node sio-client.js '<spec JSON>'        or        echo '<spec JSON>' | node sio-client.js
//
// Spec (every field but url optional):
//   url         the server URL, e.g. "http://127.0.0.1:41727" (a namespace may follow: ".../admin")
//   cookie      the Cookie header to send (e.g. "connect.sid=s%3A..."), or null for none
//   auth        the CONNECT packet's auth object, or null
//   query       extra handshake query parameters (object), or null
//   transports  e.g. ["websocket"]; default socket.io's (polling, then upgrade to websocket)
//   waitMs      how long to stay connected collecting events (default 500); the client stops
//               earlier when the server disconnects it
//   connectTimeoutMs  how long to wait for connect / connect_error (default 5000)
//   until       an event name: stop as soon as it has arrived (waitMs is then the upper bound)
//   emit        {event, args}: emitted once connected
//   count       N > 1 opens N concurrent connections (load mode, see below)
// A JSON array of specs runs them all concurrently in this one process (batch mode) and prints
// one line: the array of their results, in order.
//
// Output: exactly ONE JSON line on stdout, then exit 0:
//   {"connected": bool, "error": {"message", "data"} | null, "events": [{"name", "args"}],
//    "disconnectReason": string | null, "transport": "polling" | "websocket" | null,
//    "transportAtEnd": ..., "id": socket id | null}
// "error" is the connect_error (a namespace middleware rejection carries message and data).
// Load mode (count > 1) prints {"count", "connected", "errors": {message: n},
// "disconnectReasons": {reason: n}, "ms"} instead.
// Anything else (diagnostics) goes to stderr; exit 2 on a bad spec.

const { io } = require('socket.io-client');

function readSpec() {
  if (process.argv[2]) return Promise.resolve(process.argv[2]);
  return new Promise((resolve, reject) => {
    let buf = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (d) => (buf += d));
    process.stdin.on('end', () => resolve(buf));
    process.stdin.on('error', reject);
  });
}

function badSpec(msg) {
  console.error(`[sio-client] bad spec: ${msg}`);
  process.exit(2);
}

// closeAndFlush closes the socket and resolves once the server has been told: over polling the
// close packet travels in a POST that process.exit would otherwise cut off, leaving the server to
// find out only at its ping timeout; a websocket's TCP close is seen at once.
function closeAndFlush(socket, engine) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 2000);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    if (!engine || engine.readyState === 'closed') {
      socket.close();
      done();
      return;
    }
    engine.once('close', () => {
      // engine listeners on the transport are gone by now; "drain" follows the close packet's POST.
      const tr = engine.transport;
      if (tr && tr.name === 'polling') tr.once('drain', done);
      else setImmediate(done);
    });
    socket.close();
  });
}

// one connects once and resolves with the result object.
function one(spec) {
  return new Promise((resolve) => {
    const opts = { forceNew: true, reconnection: false, timeout: spec.connectTimeoutMs || 5000 };
    if (spec.cookie != null) opts.extraHeaders = { Cookie: spec.cookie };
    if (spec.auth != null) opts.auth = spec.auth;
    if (spec.query != null) opts.query = spec.query;
    if (Array.isArray(spec.transports) && spec.transports.length > 0) opts.transports = spec.transports;
    const waitMs = spec.waitMs == null ? 500 : spec.waitMs;

    const out = { connected: false, error: null, events: [], disconnectReason: null, transport: null, transportAtEnd: null, id: null };
    const socket = io(spec.url, opts);
    let done = false;
    let timer = null;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const engine = socket.io.engine;
      out.transportAtEnd = engine && engine.transport ? engine.transport.name : null;
      closeAndFlush(socket, engine).then(() => resolve(out));
    };

    socket.onAny((name, ...args) => {
      out.events.push({ name, args });
      if (spec.until && name === spec.until) setImmediate(finish);
    });
    socket.on('connect', () => {
      out.connected = true;
      out.id = socket.id;
      out.transport = socket.io.engine.transport.name;
      if (spec.emit && spec.emit.event) socket.emit(spec.emit.event, ...(spec.emit.args || []));
      timer = setTimeout(finish, waitMs);
    });
    socket.on('connect_error', (err) => {
      out.error = { message: err.message, data: err.data === undefined ? null : err.data };
      // A middleware rejection is final; a transport error would be retried by the manager,
      // but reconnection is off, so either way this attempt is over.
      setImmediate(finish);
    });
    socket.on('disconnect', (reason) => {
      out.disconnectReason = reason;
      // let an event sent just before the disconnect be recorded (it already is: packets are
      // delivered in order), then stop.
      setImmediate(finish);
    });
  });
}

async function load(spec) {
  const start = Date.now();
  const results = await Promise.all(Array.from({ length: spec.count }, () => one(spec)));
  const summary = { count: spec.count, connected: 0, errors: {}, disconnectReasons: {}, ms: 0 };
  for (const r of results) {
    if (r.connected) summary.connected++;
    if (r.error) summary.errors[r.error.message] = (summary.errors[r.error.message] || 0) + 1;
    if (r.disconnectReason) summary.disconnectReasons[r.disconnectReason] = (summary.disconnectReasons[r.disconnectReason] || 0) + 1;
  }
  summary.ms = Date.now() - start;
  return summary;
}

(async () => {
  let spec;
  try {
    spec = JSON.parse(await readSpec());
  } catch (e) {
    badSpec(e.message);
  }
  const valid = (s) => s && typeof s === 'object' && !Array.isArray(s) && typeof s.url === 'string';
  let result;
  if (Array.isArray(spec)) {
    if (!spec.every(valid)) badSpec('want an array of objects with a string "url"');
    result = await Promise.all(spec.map(one));
  } else {
    if (!valid(spec)) badSpec('want an object with a string "url"');
    result = spec.count > 1 ? await load(spec) : await one(spec);
  }
  process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(0));
})().catch((e) => {
  console.error('[sio-client]', e && e.stack ? e.stack : e);
  process.exit(1);
});
