#!/usr/bin/env node
'use strict';

// Batch CLI over the real connect-mongodb-session 5.0.0 MongoDBStore (and the mongodb driver it
// brings), for the Go tests of stores/mongodbsession.
//
//   stdin : {"ops":[{"op":"set","args":{...}}, ...]}
//   stdout: {"results":[{"ok":true,"value":...} | {"ok":false,"error":"..."}, ...],"versions":{...}}
//
// Every op names its store with `store`: the MongoDBStore options {uri, databaseName, collection,
// idField, expiresKey, expires, expiresAfterSeconds} (unset ones take the package's defaults). The
// first op on a store creates it and waits for its constructor callback (which reports a failed
// TTL index creation; the store still works then).
//
// Ops (run in order; an op that fails answers {ok:false,error} and the others still run):
//   open    {store}                      -> {indexError, hasTouch}: the error the constructor's
//                                        callback got (null when none), and whether the store has a
//                                        touch method (express-session calls it only if it does)
//   set     {store, sid, session, js}    session is a record's JSON text, turned into the session
//                                        express-session hands to a store (Store.createSession, as
//                                        on a load: a real Session with a real Cookie); js, if given,
//                                        is the body of function (s) { ... } run on it before set,
//                                        to store values JSON cannot carry (new Date(...), -0, ...)
//   get     {store, sid}                 -> null when get answered nothing, else {json, typed}:
//                                        json is JSON.stringify(req.session) of the session
//                                        express-session makes of the answer (createSession), typed
//                                        the answer itself with every JavaScript type spelled out
//                                        (see typed below)
//   destroy {store, sid}
//   bson.serialize {json, js}           -> hex of the BSON the driver writes for JSON.parse(json) (an
//                                        object), with the driver's options for a write (checkKeys
//                                        false, ignoreUndefined false); js as for set, run on it first
//   bson.view {hex}                      -> JSON.stringify of the value the driver decodes from the
//                                        BSON document hex, with its options for a read (promoteValues,
//                                        promoteLongs, no promoteBuffers, UTF-8 validation)
//
// Only the result document is written to stdout: console output goes to stderr (harness.js's
// stdout guard and runOps).

const h = require('../node/harness.js');
const session = require('express-session');
const MongoDBStore = require('connect-mongodb-session')(session);
const { promisify } = require('node:util');
const { BSON } = require('mongodb');

const stores = new Map();

function str(args, name) {
  if (typeof args[name] !== 'string') throw new Error(name + ' must be a string');
  return args[name];
}

// store returns the MongoDBStore for args.store, creating it on first use.
async function store(args) {
  const opts = args.store;
  if (!opts || typeof opts !== 'object') throw new Error('store must be an object of MongoDBStore options');
  const key = JSON.stringify(opts);
  let entry = stores.get(key);
  if (!entry) {
    entry = {};
    entry.ready = new Promise((resolve) => {
      let answered = false;
      // The constructor calls back with the index error, then once more without one.
      entry.store = new MongoDBStore(opts, (err) => {
        if (answered) return;
        answered = true;
        entry.indexError = err ? String(err.message || err) : null;
        resolve();
      });
      entry.store.on('error', (err) => h.log('MongoDBStore error:', err.message));
    });
    stores.set(key, entry);
  }
  await entry.ready;
  return entry;
}

// A fake request, enough for Store.createSession and Session.
function fakeReq(sid, st) {
  return { sessionID: sid, sessionStore: st };
}

// typed spells out a value's JavaScript types, so that the Go side can check that Node reads back
// what it wrote: strings, booleans and null as they are; a number as {"$number": String(n)}
// ("-0" for negative zero); a Date as {"$date": toISOString() or null when invalid}; undefined as
// {"$undefined": true}; a bigint as {"$bigint": "..."}; an instance of another class (a BSON type:
// Long, Binary, ObjectId, ...) as {"$class": name, "$json": JSON.stringify(v)}; arrays and plain
// objects member by member, in their own key order.
function typed(v) {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (v === undefined) return { $undefined: true };
  if (typeof v === 'number') return { $number: Object.is(v, -0) ? '-0' : String(v) };
  if (typeof v === 'bigint') return { $bigint: String(v) };
  if (v instanceof Date) return { $date: Number.isNaN(v.getTime()) ? null : v.toISOString() };
  if (Array.isArray(v)) return v.map(typed);
  if (typeof v === 'object') {
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) {
      return { $class: v.constructor && v.constructor.name, $json: JSON.stringify(v) };
    }
    const out = {};
    for (const k of Object.keys(v)) out[k] = typed(v[k]);
    return out;
  }
  return { $other: typeof v };
}

const OPS = {
  open: async (a) => {
    const e = await store(a);
    return { indexError: e.indexError, hasTouch: typeof e.store.touch === 'function' };
  },
  set: async (a) => {
    const { store: st } = await store(a);
    const sid = str(a, 'sid');
    const req = fakeReq(sid, st);
    const sess = st.createSession(req, JSON.parse(str(a, 'session')));
    if (a.js !== undefined && a.js !== null) new Function('s', str(a, 'js'))(sess);
    await promisify(st.set.bind(st))(sid, sess);
    return true;
  },
  get: async (a) => {
    const { store: st } = await store(a);
    const sid = str(a, 'sid');
    const got = await promisify(st.get.bind(st))(sid);
    if (got === null || got === undefined) return null;
    const t = typed(got);
    // What express-session makes of it (it then serves req.session).
    const sess = st.createSession(fakeReq(sid, st), got);
    return { json: JSON.stringify(sess), typed: t };
  },
  'bson.serialize': (a) => {
    const v = JSON.parse(str(a, 'json'));
    if (a.js !== undefined && a.js !== null) new Function('s', str(a, 'js'))(v);
    const bytes = BSON.serialize(v, { checkKeys: false, ignoreUndefined: false, serializeFunctions: false });
    return Buffer.from(bytes).toString('hex');
  },
  'bson.view': (a) => {
    const v = BSON.deserialize(Buffer.from(str(a, 'hex'), 'hex'), {
      promoteValues: true,
      promoteLongs: true,
      promoteBuffers: false,
      bsonRegExp: false,
      useBigInt64: false,
      validation: { utf8: true },
    });
    return JSON.stringify(v);
  },
  destroy: async (a) => {
    const { store: st } = await store(a);
    await promisify(st.destroy.bind(st))(str(a, 'sid'));
    return true;
  },
};

h.runOps(OPS, {
  close: async () => {
    for (const { store: st } of stores.values()) await st.client.close().catch(() => {});
  },
  versions: () => ({
    node: process.version,
    'connect-mongodb-session': require('connect-mongodb-session/package.json').version,
    'express-session': require('express-session/package.json').version,
    mongodb: require('mongodb/package.json').version,
  }),
});
