#!/usr/bin/env node
'use strict';

// Batch CLI over the real kruptein versions and the real stores that use them, for the Go tests
// of encrypted sessions (stores/internal/kruptein, stores/mongo, stores/memcached).
//
//   stdin : {"ops":[{"op":"k308.set","args":{...}}, ...]}
//   stdout: {"results":[{"ok":true,"value":...} | {"ok":false,"error":"..."}, ...],
//            "versions":{"kruptein308":"3.0.8","kruptein31":"3.1.7",...}}
//
// Ops (run in order; an op that fails answers {ok:false,error} and the others still run):
//   k308.set     {secret, plaintext}   kruptein 3.0.8 (connect-mongo's copy) with connect-mongo's options:
//                                      set(secret, plaintext) -> the base64 record
//   k308.get     {secret, field}       -> the plaintext string get returns
//   k31.set      {secret, plaintext}   kruptein 3.1.x (connect-memcached's copy) with connect-memcached's
//   k31.get      {secret, field}       options ({algorithm: 'aes-256-gcm', hashing: 'sha512'})
//   adapter.encrypt {secret, plaintext} connect-mongo's createKrupteinAdapter({secret}).encrypt
//   adapter.decrypt {secret, field}     ... .decrypt
//   utf8         {hex}                 Buffer.from(hex,'hex').toString() re-encoded as UTF-8, in hex
//                                      (the lossy decoding kruptein 3.1.x's HMAC input goes through)
//   mongo.set    {url, collection, secret, stringify, sid, session}  a real connect-mongo 6 MongoStore
//                                      with crypto: {secret}; session is the record's JSON text
//   mongo.get    {url, collection, secret, stringify, sid} -> JSON.stringify of what get answered
//                                      (null when it found nothing)
//   memcached.set {addr, secret, sid, session, prefix}  a real connect-memcached 3 store with secret
//   memcached.get {addr, secret, sid, prefix} -> JSON.stringify of what get answered (null: a miss)
//
// Only the result document is written to stdout: console output goes to stderr. Exit status 0
// unless stdin is unreadable (2). The stdin/stdout protocol and the stdout guard are harness.js's
// runOps.

const h = require('./harness.js');
const path = require('node:path');
const { promisify } = require('node:util');

const mongoDir = path.dirname(require.resolve('connect-mongo/package.json'));
const kruptein308 = require(require.resolve('kruptein', { paths: [mongoDir] }));
const memcachedDir = path.dirname(require.resolve('connect-memcached/package.json'));
const kruptein31 = require(require.resolve('kruptein', { paths: [memcachedDir] }));

function version(dir, name) {
  return require(require.resolve(name + '/package.json', { paths: [dir] })).version;
}

// kruptein calls back synchronously, sometimes twice (an inner error, then (null, undefined)):
// keep the first answer.
function callOnce(fn) {
  let done = false;
  let out;
  fn((err, value) => {
    if (done) return;
    done = true;
    out = { err, value };
  });
  if (!done) throw new Error('kruptein did not call back');
  if (out.err) throw new Error(String(out.err));
  return out.value;
}

function str(args, name) {
  if (typeof args[name] !== 'string') throw new Error(name + ' must be a string');
  return args[name];
}

// connect-mongo 6.0.0's options to kruptein (createKrupteinAdapter's defaults).
const mongoKrupteinOptions = {
  algorithm: 'aes-256-gcm',
  hashing: 'sha512',
  encodeas: 'base64',
  key_size: 32,
  iv_size: 16,
  at_size: 16,
};

const mongoClients = new Map();
async function mongoClient(url) {
  let c = mongoClients.get(url);
  if (!c) {
    const { MongoClient } = require('mongodb');
    c = new MongoClient(url, { serverSelectionTimeoutMS: 5000 });
    mongoClients.set(url, c);
    await c.connect();
  }
  return c;
}

async function mongoStore(args) {
  const { MongoStore } = require('connect-mongo');
  const client = await mongoClient(str(args, 'url'));
  const opts = {
    client,
    collectionName: str(args, 'collection'),
    stringify: args.stringify !== false,
    autoRemove: 'disabled',
  };
  if (args.secret !== undefined && args.secret !== null) opts.crypto = { secret: args.secret };
  return MongoStore.create(opts);
}

const memcachedStores = [];
function memcachedStore(args) {
  const session = require('express-session');
  const MemcachedStore = require('connect-memcached')(session);
  const opts = { hosts: [str(args, 'addr')], prefix: args.prefix || '', retries: 0, timeout: 2000 };
  if (args.secret !== undefined && args.secret !== null) opts.secret = args.secret;
  const s = new MemcachedStore(opts);
  memcachedStores.push(s);
  return s;
}

// A session as express-session hands it to a store: its cookie is a Cookie (with toJSON).
function sessionObject(json) {
  const session = require('express-session');
  const data = JSON.parse(json);
  const c = data.cookie || {};
  const cookie = new session.Cookie({});
  for (const k of ['originalMaxAge', 'partitioned', 'priority', 'secure', 'httpOnly', 'domain', 'path', 'sameSite']) {
    if (c[k] !== undefined) cookie[k] = c[k];
  }
  cookie._expires = c.expires === null || c.expires === undefined ? c.expires : new Date(c.expires);
  cookie.originalMaxAge = c.originalMaxAge;
  data.cookie = cookie;
  return data;
}

const OPS = {
  'k308.set': (a) => callOnce((cb) => kruptein308(mongoKrupteinOptions).set(str(a, 'secret'), str(a, 'plaintext'), cb)),
  'k308.get': (a) => callOnce((cb) => kruptein308(mongoKrupteinOptions).get(str(a, 'secret'), str(a, 'field'), cb)),
  'k31.set': (a) =>
    callOnce((cb) => kruptein31({ algorithm: 'aes-256-gcm', hashing: 'sha512' }).set(str(a, 'secret'), str(a, 'plaintext'), cb)),
  'k31.get': (a) =>
    callOnce((cb) => kruptein31({ algorithm: 'aes-256-gcm', hashing: 'sha512' }).get(str(a, 'secret'), str(a, 'field'), cb)),
  'adapter.encrypt': (a) => require('connect-mongo').createKrupteinAdapter({ secret: str(a, 'secret') }).encrypt(str(a, 'plaintext')),
  'adapter.decrypt': (a) => require('connect-mongo').createKrupteinAdapter({ secret: str(a, 'secret') }).decrypt(str(a, 'field')),
  utf8: (a) => Buffer.from(Buffer.from(str(a, 'hex'), 'hex').toString()).toString('hex'),
  'mongo.set': async (a) => {
    const store = await mongoStore(a);
    await promisify(store.set.bind(store))(str(a, 'sid'), sessionObject(str(a, 'session')));
    return true;
  },
  'mongo.get': async (a) => {
    const store = await mongoStore(a);
    const s = await promisify(store.get.bind(store))(str(a, 'sid'));
    return s === null || s === undefined ? null : JSON.stringify(s);
  },
  'memcached.set': async (a) => {
    const store = memcachedStore(a);
    await promisify(store.set.bind(store))(str(a, 'sid'), sessionObject(str(a, 'session')));
    return true;
  },
  'memcached.get': async (a) => {
    const store = memcachedStore(a);
    // connect-memcached may call back twice on a decryption error: keep the first.
    const s = await new Promise((resolve, reject) => {
      let done = false;
      store.get(str(a, 'sid'), (err, v) => {
        if (done) return;
        done = true;
        if (err) reject(err instanceof Error ? err : new Error(String(err)));
        else resolve(v);
      });
    });
    return s === null || s === undefined ? null : JSON.stringify(s);
  },
};

h.runOps(OPS, {
  close: async () => {
    for (const c of mongoClients.values()) await c.close().catch(() => {});
    for (const s of memcachedStores) s.client.end();
  },
  versions: () => ({
    node: process.version,
    kruptein308: version(mongoDir, 'kruptein'),
    kruptein31: version(memcachedDir, 'kruptein'),
    'connect-mongo': require('connect-mongo/package.json').version,
    'connect-memcached': require('connect-memcached/package.json').version,
  }),
});
