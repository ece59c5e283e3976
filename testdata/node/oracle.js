'use strict';

// Node "oracle" for the sessionbridge Go tests.
//
// Every exported op takes one plain object and returns (a promise of) a plain
// JSON-able object. The ops drive the REAL npm packages (express 5 +
// express-session 1.19.0, cookie-signature, cookie, cookie-parser, uid-safe)
// over real HTTP on the loopback interface; nothing here re-implements their
// logic. Ops must be run one at a time (Date.now is replaced while an op with
// a `now` argument runs, and one shared HTTP server serves the current op).

const fs = require('fs');
const net = require('net');
const http = require('http');
const path = require('path');

const express = require('express');
const session = require('express-session');
const cookieParser = require('cookie-parser');

// Use exactly the copies that express-session itself resolves.
const sessionDir = path.dirname(require.resolve('express-session'));
const sig107 = require(require.resolve('cookie-signature', { paths: [sessionDir] }));
const cookie = require(require.resolve('cookie', { paths: [sessionDir] }));
const uidSafe = require(require.resolve('uid-safe', { paths: [sessionDir] }));
const sig122 = require('cookie-signature-122');

const DEFAULT_NEW_SID = 'oracle-generated-new-session-id0'; // 32 chars, used by genid when a new session must be minted

// ---------------------------------------------------------------- helpers

function toSecrets(s) {
  if (s === undefined || s === null) throw new TypeError('secrets required');
  return Array.isArray(s) ? s.slice() : [s];
}

async function withClock(now, fn) {
  if (now === undefined || now === null) return fn();
  if (typeof now !== 'number' || !Number.isFinite(now)) throw new TypeError('now must be a number of ms');
  const orig = Date.now;
  Date.now = function fixedNow() { return now; };
  try {
    return await fn();
  } finally {
    Date.now = orig;
  }
}

// One loopback HTTP server; `current` is the request listener of the op
// being run.
let server = null;
let serverPort = 0;
let current = null;

async function ensureServer() {
  if (server) return;
  server = http.createServer(function (req, res) {
    if (!current) {
      res.statusCode = 503;
      res.end();
      return;
    }
    current(req, res);
  });
  await new Promise(function (resolve, reject) {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', function () {
      server.removeListener('error', reject);
      resolve();
    });
  });
  serverPort = server.address().port;
  server.unref();
}

function close() {
  if (server) {
    server.close();
    server = null;
  }
}

// Sends one request over a raw TCP socket so the Cookie header goes on the
// wire exactly as given (UTF-8 bytes). Returns {status, headers: [[name, value]]}.
async function rawRequest(handler, urlPath, headers, timeoutMs, encoding) {
  const limit = typeof timeoutMs === 'number' && timeoutMs > 0 ? timeoutMs : 5000;
  await ensureServer();
  current = handler;
  let finished;
  const serverDone = new Promise(function (resolve) { finished = resolve; });
  const wrapped = function (req, res) {
    res.on('finish', finished);
    res.on('close', finished);
    handler(req, res);
  };
  current = wrapped;
  try {
    const head = ['GET ' + urlPath + ' HTTP/1.1', 'Host: 127.0.0.1:' + serverPort];
    for (const [k, v] of headers) head.push(k + ': ' + v);
    head.push('Connection: close');
    // 'latin1' writes each character as one byte, so a header given as a
    // latin1 string goes on the wire as the exact bytes it came from.
    const payload = Buffer.from(head.join('\r\n') + '\r\n\r\n', encoding || 'utf8');
    let timedOut = false;
    const buf = await new Promise(function (resolve, reject) {
      const chunks = [];
      const sock = net.connect(serverPort, '127.0.0.1');
      // A real express-session app can hang (e.g. a record whose
      // originalMaxAge is a string): report that as status 0.
      const timer = setTimeout(function () {
        timedOut = true;
        sock.destroy();
      }, limit);
      sock.on('data', function (d) { chunks.push(d); });
      sock.on('error', function (e) { clearTimeout(timer); reject(e); });
      sock.on('close', function () { clearTimeout(timer); resolve(Buffer.concat(chunks)); });
      sock.write(payload);
    });
    if (timedOut) return { status: 0, headers: [], timedOut: true };
    const text = buf.toString('latin1');
    const end = text.indexOf('\r\n\r\n');
    const lines = (end === -1 ? text : text.slice(0, end)).split('\r\n');
    const status = parseInt((lines[0] || '').split(' ')[1], 10) || 0;
    const respHeaders = [];
    for (const line of lines.slice(1)) {
      const i = line.indexOf(':');
      if (i > 0) respHeaders.push([line.slice(0, i).toLowerCase(), line.slice(i + 1).replace(/^[ \t]+/, '')]);
    }
    // If the server answered (status != 400 from the parser), wait for its
    // 'finish' so everything it did (store calls) is recorded.
    if (status !== 0 && status !== 400) {
      let t;
      await Promise.race([serverDone, new Promise(function (r) { t = setTimeout(r, 2000); })]);
      clearTimeout(t);
    }
    return { status: status, headers: respHeaders };
  } finally {
    current = null;
  }
}

function pickSetCookie(headers, name) {
  let found = null;
  for (const [k, v] of headers) {
    if (k === 'set-cookie' && v.startsWith(name + '=')) found = v;
  }
  return found;
}

// A store that records every call. get() answers with JSON.parse(record)
// (like connect-redis' default serializer) or null.
class RecordingStore extends session.Store {
  constructor(record) {
    super();
    this.record = record === undefined ? null : record;
    this.getSids = [];
    this.calls = [];
  }

  get(sid, cb) {
    this.getSids.push(sid);
    const rec = this.record;
    setImmediate(function () {
      if (rec === null) return cb(null, null);
      let parsed;
      try {
        parsed = JSON.parse(rec);
      } catch (err) {
        return cb(err);
      }
      return cb(null, parsed);
    });
  }

  set(sid, sess, cb) {
    this.calls.push({ call: 'set', sid: sid, json: JSON.stringify(sess) });
    setImmediate(function () { if (cb) cb(null); });
  }

  touch(sid, sess, cb) {
    this.calls.push({ call: 'touch', sid: sid, json: JSON.stringify(sess) });
    setImmediate(function () { if (cb) cb(null); });
  }

  destroy(sid, cb) {
    this.calls.push({ call: 'destroy', sid: sid, json: null });
    setImmediate(function () { if (cb) cb(null); });
  }

  lastWrite() {
    for (let i = this.calls.length - 1; i >= 0; i--) {
      const c = this.calls[i];
      if (c.call === 'set' || c.call === 'touch') return c;
    }
    return null;
  }
}

function buildApp(opts) {
  const app = express();
  if (opts.trustProxy) app.set('trust proxy', 1);
  app.use(session(opts.session));
  app.use(opts.handler);
  // eslint-disable-next-line no-unused-vars
  app.use(function (err, req, res, next) {
    opts.onError(err);
    if (res.headersSent) return;
    res.statusCode = 500;
    res.setHeader('Content-Type', 'text/plain');
    res.end('oracle error');
  });
  return app;
}

function sessionOptions(a, store, sidForGenid) {
  const o = {
    name: a.name === undefined || a.name === null ? undefined : a.name,
    secret: toSecrets(a.secrets),
    store: store,
    genid: function () { return sidForGenid; },
    cookie: a.cookie ? Object.assign({}, a.cookie) : {},
    resave: a.resave === undefined ? true : Boolean(a.resave),
    saveUninitialized: a.saveUninitialized === undefined ? true : Boolean(a.saveUninitialized),
    rolling: Boolean(a.rolling),
  };
  if (o.name === undefined) delete o.name;
  return o;
}

function cookieName(a) {
  return a.name === undefined || a.name === null || a.name === '' ? 'connect.sid' : a.name;
}

function requestPath(a) {
  if (a.url) return a.url;
  return (a.cookie && a.cookie.path) || '/';
}

function proxyHeaders(a) {
  const secure = a.cookie && a.cookie.secure;
  const proxySecure = a.proxySecure === undefined || a.proxySecure === null ? Boolean(secure) : Boolean(a.proxySecure);
  return { trustProxy: proxySecure, headers: proxySecure ? [['X-Forwarded-Proto', 'https']] : [] };
}

// ---------------------------------------------------------------- ops

function sign(a) {
  return {
    signed107: sig107.sign(a.value, a.secret),
    signed122: sig122.sign(a.value, a.secret),
  };
}

function unsign(a) {
  const secrets = toSecrets(a.secrets);
  for (let i = 0; i < secrets.length; i++) {
    const r = sig107.unsign(a.input, secrets[i]);
    if (r !== false) return { result: r };
  }
  return { result: false };
}

async function getcookie(a) {
  const store = new RecordingStore(null);
  let error = null;
  const app = buildApp({
    trustProxy: false,
    session: sessionOptions({ name: a.name, secrets: a.secrets }, store, DEFAULT_NEW_SID),
    handler: function (req, res) { res.end('ok'); },
    onError: function (err) { error = String(err && err.message || err); },
  });
  const headers = [];
  if (a.header !== undefined && a.header !== null) headers.push(['Cookie', a.header]);
  const resp = await rawRequest(app, '/', headers, a.timeoutMs);
  const out = { sid: store.getSids.length ? store.getSids[0] : null, status: resp.status };
  if (resp.timedOut) out.error = 'no response from the app' + (error ? ' (' + error + ')' : '');
  else if (error) out.error = error;
  return out;
}

async function setcookie(a) {
  if (typeof a.sid !== 'string') throw new TypeError('sid must be a string');
  const name = cookieName(a);
  const store = new RecordingStore(null);
  const px = proxyHeaders(a);
  let error = null;
  const app = buildApp({
    trustProxy: px.trustProxy,
    session: sessionOptions(a, store, a.sid),
    handler: function (req, res) {
      if (a.data && typeof a.data === 'object') Object.assign(req.session, a.data);
      else req.session.views = 1;
      res.end('ok');
    },
    onError: function (err) { error = String(err && err.message || err); },
  });
  const resp = await withClock(a.now, function () { return rawRequest(app, requestPath(a), px.headers, a.timeoutMs); });
  const w = store.lastWrite();
  const out = {
    setCookie: pickSetCookie(resp.headers, name),
    stored: w ? w.json : null,
    status: resp.status,
  };
  if (resp.timedOut) out.error = 'no response from the app' + (error ? ' (' + error + ')' : '');
  else if (error) out.error = error;
  return out;
}

async function load(a) {
  const name = cookieName(a);
  const record = a.record === undefined ? null : a.record;
  if (record !== null && typeof record !== 'string') throw new TypeError('record must be a JSON string or null');
  const store = new RecordingStore(record);
  const px = proxyHeaders(a);
  const mutate = a.mutate && typeof a.mutate === 'object' ? a.mutate : null;
  let handled = null;
  let error = null;
  const app = buildApp({
    trustProxy: px.trustProxy,
    session: sessionOptions(a, store, typeof a.newSid === 'string' ? a.newSid : DEFAULT_NEW_SID),
    handler: function (req, res) {
      if (mutate) {
        const set = mutate.set || {};
        for (const k of Object.keys(set)) req.session[k] = set[k];
        for (const k of mutate.del || []) delete req.session[k];
      }
      const asked = store.getSids.length ? store.getSids[0] : null;
      handled = {
        sid: req.sessionID,
        loaded: asked !== null && record !== null && req.sessionID === asked,
        session: JSON.stringify(req.session),
      };
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify(handled));
    },
    onError: function (err) { error = String(err && err.message || err); },
  });
  const headers = px.headers.slice();
  if (a.cookie !== undefined && a.cookie !== null) headers.push(['Cookie', name + '=' + a.cookie]);
  const resp = await withClock(a.now, function () { return rawRequest(app, requestPath(a), headers, a.timeoutMs); });
  const w = store.lastWrite();
  const out = {
    sid: handled ? handled.sid : null,
    loaded: handled ? handled.loaded : false,
    session: handled ? handled.session : null,
    stored: w ? w.json : null,
    storeCall: w ? w.call : null,
    setCookie: pickSetCookie(resp.headers, name),
    getSid: store.getSids.length ? store.getSids[0] : null,
    status: resp.status,
  };
  if (resp.timedOut) out.error = 'no response from the app' + (error ? ' (' + error + ')' : '');
  else if (error) out.error = error;
  return out;
}

function jsoncookie(a) {
  const r = cookieParser.JSONCookie(a.value);
  return r === undefined ? { defined: false, result: null } : { defined: true, result: r };
}

function parseCookieHeader(a) {
  return { cookies: Object.assign({}, cookie.parse(a.header)) };
}

function uid() {
  return { sid: uidSafe.sync(24) };
}

// ------------------------------------------- header bytes read as latin1
//
// Node's HTTP parser hands header bytes to JavaScript as latin1 (one
// character per byte). These ops take Cookie headers as base64 of the exact
// bytes, so that bytes 0x80-0xFF reach the packages the way a real request
// delivers them, and answer strings as base64 of their UTF-8 encoding (the
// bytes a store key gets).

function fromB64Latin1(b64) {
  return b64 === null || b64 === undefined ? null : Buffer.from(b64, 'base64').toString('latin1');
}

function utf8B64(v) {
  return typeof v === 'string' ? Buffer.from(v, 'utf8').toString('base64') : null;
}

// getcookieLatin1 runs the real express-session middleware (its own
// getcookie, cookie.parse and cookie-signature) on requests whose
// headers.cookie is each header decoded as latin1, without HTTP, and
// answers the sid it asked the store for (or null) for each:
//   args: {headers: [base64 | null], name?, secrets}
//   value: {sids: [base64 of the sid's UTF-8 | null]}
async function getcookieLatin1(a) {
  if (!Array.isArray(a.headers)) throw new TypeError('headers must be an array');
  const store = new RecordingStore(null);
  const mw = session(sessionOptions({ name: a.name, secrets: a.secrets }, store, DEFAULT_NEW_SID));
  const sids = [];
  for (const h of a.headers) {
    const header = fromB64Latin1(h);
    store.getSids = [];
    const req = {
      method: 'GET',
      url: '/',
      originalUrl: '/',
      headers: header === null ? {} : { cookie: header },
      connection: { encrypted: false },
      socket: { encrypted: false },
    };
    const res = { writeHead: function () {}, end: function () {}, setHeader: function () {}, getHeader: function () {} };
    await new Promise(function (resolve, reject) {
      try {
        mw(req, res, function (err) { if (err) reject(err); else resolve(); });
      } catch (err) {
        reject(err);
      }
    });
    sids.push(store.getSids.length ? utf8B64(store.getSids[0]) : null);
  }
  return { sids: sids };
}

// getcookieHTTP sends each header's bytes unchanged in a real HTTP request
// to a real express + express-session app, so that Node's own HTTP parser
// reads them:
//   args: {headers: [base64], name?, secrets}
//   value: {results: [{sid: base64 | null, status, seen: base64 of the
//           bytes req.headers.cookie held (latin1) | null}]}
async function getcookieHTTP(a) {
  if (!Array.isArray(a.headers)) throw new TypeError('headers must be an array');
  const results = [];
  for (const h of a.headers) {
    const store = new RecordingStore(null);
    let seen = null;
    let error = null;
    const app = buildApp({
      trustProxy: false,
      session: sessionOptions({ name: a.name, secrets: a.secrets }, store, DEFAULT_NEW_SID),
      handler: function (req, res) {
        if (typeof req.headers.cookie === 'string') seen = Buffer.from(req.headers.cookie, 'latin1').toString('base64');
        res.end('ok');
      },
      onError: function (err) { error = String(err && err.message || err); },
    });
    const resp = await rawRequest(app, '/', [['Cookie', fromB64Latin1(h)]], a.timeoutMs, 'latin1');
    const r = { sid: store.getSids.length ? utf8B64(store.getSids[0]) : null, status: resp.status, seen: seen };
    if (error) r.error = error;
    results.push(r);
  }
  return { results: results };
}

// cookieParserLatin1 runs cookie-parser's own steps (its cookie.parse,
// then signedCookie with the secrets for an "s:" value, JSONCookie for a
// "j:" one) on each header decoded as latin1, for the cookie called name:
//   args: {headers: [base64], name, secrets}
//   value: {results: [{value: base64 | null (the parsed value),
//           signed: base64 | false | null (signedCookie, for "s:" values),
//           json: JSON.stringify(JSONCookie(value)) | null (undefined)}]}
const cookieParserCookie = require(require.resolve('cookie', { paths: [path.dirname(require.resolve('cookie-parser'))] }));

function cookieParserLatin1(a) {
  if (!Array.isArray(a.headers)) throw new TypeError('headers must be an array');
  const secrets = toSecrets(a.secrets);
  const results = [];
  for (const h of a.headers) {
    const cookies = cookieParserCookie.parse(fromB64Latin1(h) || '');
    const v = Object.prototype.hasOwnProperty.call(cookies, a.name) ? cookies[a.name] : undefined;
    const r = { value: utf8B64(v), signed: null, json: null };
    if (typeof v === 'string' && v.substr(0, 2) === 's:') {
      const u = cookieParser.signedCookie(v, secrets);
      r.signed = u === false ? false : utf8B64(u);
    }
    const j = cookieParser.JSONCookie(v);
    if (j !== undefined) r.json = JSON.stringify(j);
    results.push(r);
  }
  return { results: results };
}

// ---------------------------------------------------------------- versions

function findPackageJson(name, fromDir) {
  let dir = fromDir;
  for (;;) {
    const p = path.join(dir, 'node_modules', name, 'package.json');
    if (fs.existsSync(p)) return JSON.parse(fs.readFileSync(p, 'utf8'));
    const up = path.dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

const DIRECT = [
  'connect-memcached', 'connect-mongo', 'cookies', 'keygrip', 'connect-pg-simple', 'connect-redis',
  'cookie', 'cookie-parser', 'cookie-signature', 'cookie-signature-122',
  'express', 'express-session', 'mongodb', 'passport', 'passport-local', 'pg',
  'redis', 'session-file-store', 'socket.io', 'socket.io-client', 'uid-safe',
];

function versions() {
  const out = { node: process.version };
  for (const n of DIRECT) {
    const pj = findPackageJson(n, __dirname);
    out[n] = pj ? pj.version : null;
  }
  const nested = [
    ['express-session', ['cookie', 'cookie-signature', 'uid-safe']],
    ['express', ['cookie', 'cookie-signature']],
    ['cookie-parser', ['cookie', 'cookie-signature']],
  ];
  for (const [parent, deps] of nested) {
    const dir = path.dirname(require.resolve(parent + '/package.json', { paths: [__dirname] }));
    for (const d of deps) {
      const pj = findPackageJson(d, dir);
      out[parent + '>' + d] = pj ? pj.version : null;
    }
  }
  return out;
}


// ------------------------------------------- keygrip and the cookies package

// keygripSign answers keygrip's sign(data) for each item:
//   args: {keys: [string], algorithm?, data: [string]}
//   value: {sigs: [string]}
function keygripSign(a) {
  const Keygrip = require('keygrip');
  const kg = new Keygrip(a.keys, a.algorithm || undefined);
  return { sigs: a.data.map(function (d) { return kg.sign(d); }) };
}

// cookiesGet runs the cookies package's get(name, {signed: true}) on each
// Cookie header (base64 of its bytes, read as latin1 as Node reads headers)
// and answers what it returned and the Set-Cookie headers it queued:
//   args: {keys: [string], algorithm?, name, headers: [base64 | null]}
//   value: {results: [{value: base64 of the UTF-8 | null, setCookie: [string]}]}
function cookiesGet(a) {
  const Cookies = require('cookies');
  const Keygrip = require('keygrip');
  const kg = new Keygrip(a.keys, a.algorithm || undefined);
  const results = [];
  for (const h of a.headers) {
    const headers = {};
    if (h !== null) headers.cookie = fromB64Latin1(h);
    const req = { headers: headers, connection: { encrypted: false }, socket: { encrypted: false } };
    const set = [];
    const res = {
      getHeader: function (name) { return name.toLowerCase() === 'set-cookie' ? set.slice() : undefined; },
      setHeader: function (name, v) { if (name.toLowerCase() === 'set-cookie') { set.length = 0; for (const x of [].concat(v)) set.push(x); } },
    };
    const c = new Cookies(req, res, { keys: kg });
    const v = c.get(a.name, { signed: true });
    results.push({ value: v === undefined ? null : Buffer.from(v, 'utf8').toString('base64'), setCookie: set });
  }
  return { results: results };
}

module.exports = {
  keygripSign: keygripSign,
  cookiesGet: cookiesGet,
  sign: sign,
  unsign: unsign,
  getcookie: getcookie,
  setcookie: setcookie,
  load: load,
  jsoncookie: jsoncookie,
  parseCookieHeader: parseCookieHeader,
  uid: uid,
  getcookieLatin1: getcookieLatin1,
  getcookieHTTP: getcookieHTTP,
  cookieParserLatin1: cookieParserLatin1,
  // not ops:
  OPS: ['sign', 'unsign', 'getcookie', 'setcookie', 'load', 'jsoncookie', 'parseCookieHeader', 'uid',
    'getcookieLatin1', 'getcookieHTTP', 'cookieParserLatin1', 'keygripSign', 'cookiesGet'],
  versions: versions,
  close: close,
  DEFAULT_NEW_SID: DEFAULT_NEW_SID,
};
