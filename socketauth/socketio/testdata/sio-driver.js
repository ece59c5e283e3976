'use strict';
// A real socket.io-client 4.8 driven line by line by a Go test (see driver in
// keepalive_test.go). socket.io-client comes from testdata/node/node_modules at the
// repository root: run with NODE_PATH pointing there.
//
// stdin, one JSON object a line:
//   first line   {url, cookie, transports}: connect (reconnection off)
//   {"op": "emit", "event", "args": [...], "ack": id}   emit; with ack, the server's
//                                                       acknowledgement is printed with that id
//   {"op": "every", "event", "ms"}   emit the event every ms until "stop"
//   {"op": "stop"}                   stop "every"; prints {"type": "stopped", "sent": n}
//   {"op": "close"}                  close the socket and exit (so does the end of stdin)
// stdout, one JSON object a line:
//   {"type": "ready"} (loaded, waiting for the first line) | {"type": "connect"} | {"type": "connect_error", "message", "data"} |
//   {"type": "event", "name", "args"} | {"type": "ack", "id", "args"} |
//   {"type": "ping"} (an engine.io heartbeat answered) | {"type": "disconnect", "reason"} |
//   {"type": "stopped", "sent"}

const readline = require('node:readline');
const { io } = require('socket.io-client');

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

let socket = null;
let every = null;
let sent = 0;

function stopEvery() {
  if (every) clearInterval(every);
  every = null;
}

function close() {
  stopEvery();
  if (!socket) process.exit(0);
  const engine = socket.io.engine;
  // Let the close packet reach the server (over polling it travels in a POST).
  const done = () => process.exit(0);
  setTimeout(done, 2000).unref();
  if (engine && engine.readyState !== 'closed') {
    engine.once('close', () => setImmediate(done));
    socket.close();
  } else {
    done();
  }
}

function connect(spec) {
  const opts = { forceNew: true, reconnection: false, timeout: 5000 };
  if (spec.cookie) opts.extraHeaders = { Cookie: spec.cookie };
  if (Array.isArray(spec.transports) && spec.transports.length > 0) opts.transports = spec.transports;
  socket = io(spec.url, opts);
  socket.on('connect', () => {
    out({ type: 'connect' });
    socket.io.engine.on('ping', () => out({ type: 'ping' }));
  });
  socket.on('connect_error', (err) => out({ type: 'connect_error', message: err.message, data: err.data === undefined ? null : err.data }));
  socket.on('disconnect', (reason) => {
    stopEvery();
    out({ type: 'disconnect', reason });
  });
  socket.onAny((name, ...args) => out({ type: 'event', name, args }));
}

function command(c) {
  switch (c.op) {
    case 'emit':
      if (c.ack != null) {
        socket.emit(c.event, ...(c.args || []), (...args) => out({ type: 'ack', id: c.ack, args }));
      } else {
        socket.emit(c.event, ...(c.args || []));
      }
      break;
    case 'every':
      stopEvery();
      every = setInterval(() => {
        if (socket.connected) {
          socket.emit(c.event);
          sent++;
        }
      }, c.ms);
      break;
    case 'stop':
      stopEvery();
      out({ type: 'stopped', sent });
      break;
    case 'close':
      close();
      break;
    default:
      console.error(`[sio-driver] unknown op ${JSON.stringify(c.op)}`);
      process.exit(2);
  }
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (line.trim() === '') return;
  let msg;
  try {
    msg = JSON.parse(line);
  } catch (e) {
    console.error('[sio-driver] bad line:', e.message);
    process.exit(2);
  }
  if (socket === null) connect(msg);
  else command(msg);
});
rl.on('close', close);
out({ type: 'ready' });
