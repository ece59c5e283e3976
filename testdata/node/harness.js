'use strict';
// Shared pieces of the Node harness scripts that Go tests run as child processes: the live apps
// (app.js, fastify-app.js, koa-app.js, cookie-session-app.js) and the batch CLIs (oracle-cli.js,
// kruptein-cli.js). Require it before any other package:
//
//   const h = require('./harness.js');
//
// Requiring it guards stdout. The Go side reads only the protocol output there (an app's one
// `LISTENING http://127.0.0.1:<port>` line, a CLI's one result document), so from then on
// console.log, .info, .debug, .warn, .dir, .table, .trace and every process.stdout.write go to
// stderr; only announce (through listen) and runOps write to the real stdout.
//
// Messages on stderr are prefixed with the name of the script node runs: `[app.js] ...`.

const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { promisify } = require('node:util');

const realStdoutWrite = process.stdout.write.bind(process.stdout);
for (const m of ['log', 'info', 'debug', 'warn', 'dir', 'table', 'trace']) {
  console[m] = console.error.bind(console);
}
process.stdout.write = function () {
  return process.stderr.write.apply(process.stderr, arguments);
};

const env = process.env;
const NAME = require.main && require.main.filename ? path.basename(require.main.filename) : 'harness.js';

// ---------------------------------------------------------------- log / fail

// errText is an error's stack, or the value itself when it has none.
const errText = (err) => (err && err.stack ? err.stack : err);
// errMessage is an error's message, or the value itself when it has none.
const errMessage = (err) => (err && err.message ? err.message : err);

// log writes `[script] args...` to stderr.
function log(...args) {
  console.error(`[${NAME}]`, ...args);
}

// fail writes `[script] FATAL: msg: err` (err optional) to stderr and exits 1.
function fail(msg, err) {
  console.error(`[${NAME}] FATAL: ${msg}${err ? ': ' + errText(err) : ''}`);
  process.exit(1);
}

// ---------------------------------------------------------------- environment

// stringList parses env[name]: a non-empty JSON array of strings, or one JSON string. Unset or
// empty: dflt.
function stringList(name, dflt) {
  const raw = env[name];
  if (raw === undefined || raw === '') return dflt;
  let v;
  try {
    v = JSON.parse(raw);
  } catch (e) {
    fail(`${name} must be a JSON array of strings (got ${JSON.stringify(raw)})`, e.message);
  }
  if (typeof v === 'string') v = [v];
  if (!Array.isArray(v) || v.length === 0 || !v.every((s) => typeof s === 'string')) {
    fail(`${name} must be a non-empty JSON array of strings (got ${raw})`);
  }
  return v;
}

// json parses env[name] as any JSON value. Unset or empty: dflt.
function json(name, dflt) {
  const raw = env[name];
  if (raw === undefined || raw === '') return dflt;
  try {
    return JSON.parse(raw);
  } catch (e) {
    return fail(`${name} must be JSON (${e.message})`);
  }
}

// maxAge parses MAX_AGE_MS: a number of ms, or one of the words (each mapped to its value, e.g.
// {null: null}). Unset or empty: dflt.
function maxAge(dflt, words) {
  const raw = env.MAX_AGE_MS;
  if (raw === undefined || raw === '') return dflt;
  if (Object.hasOwn(words, raw)) return words[raw];
  const n = Number(raw);
  if (!Number.isFinite(n)) {
    const w = Object.keys(words).map((k) => `"${k}"`).join(' or ');
    fail(`MAX_AGE_MS must be a number or ${w} (got ${JSON.stringify(raw)})`);
  }
  return n;
}

// userSerialize parses USER_SERIALIZE: "id" (the default) or "object".
function userSerialize() {
  const v = env.USER_SERIALIZE || 'id';
  if (!['id', 'object'].includes(v)) fail(`USER_SERIALIZE must be "id" or "object" (got ${v})`);
  return v;
}

// storeTimeoutMs is STORE_TIMEOUT_MS: how long a store may take to answer at startup (default 10000).
const storeTimeoutMs = () => Number(env.STORE_TIMEOUT_MS || 10000);

let addr;
// address returns {port, host} from PORT (default 0: a free port) and HOST (default 127.0.0.1),
// failing on a bad PORT. Call it early to fail before anything starts.
function address() {
  if (!addr) {
    const port = env.PORT === undefined || env.PORT === '' ? 0 : Number(env.PORT);
    if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`bad PORT ${JSON.stringify(env.PORT)}`);
    addr = { port, host: env.HOST || '127.0.0.1' };
  }
  return addr;
}

// ---------------------------------------------------------------- listen / shutdown

// announce writes the protocol line `LISTENING http://<host>:<port>` to the real stdout. For the
// wildcard hosts 0.0.0.0 and :: it shows 127.0.0.1.
function announce(port) {
  const { host } = address();
  let shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  if (shown.includes(':')) shown = `[${shown}]`;
  realStdoutWrite(`LISTENING http://${shown}:${port}\n`);
}

// listen starts app (express or koa: anything with listen(port, host) returning an http.Server) on
// address() and announces it once it listens; a listen error is fatal. It returns the server.
function listen(app) {
  const { port, host } = address();
  const server = app.listen(port, host);
  server.on('error', (err) => fail(`cannot listen on ${host}:${port}`, err.message));
  server.on('listening', () => announce(server.address().port));
  return server;
}

// closeServer closes an http.Server, idle keep-alive connections included.
function closeServer(server) {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

// onShutdown runs close once on SIGTERM or SIGINT, then exits 0 (forced after 3 s). It returns a
// function that tells whether shutdown has begun.
function onShutdown(close) {
  let closing = false;
  const shutdown = (sig) => {
    if (closing) return;
    closing = true;
    log(`${sig}: shutting down`);
    setTimeout(() => {
      log('shutdown timed out; exiting');
      process.exit(0);
    }, 3000).unref();
    Promise.resolve()
      .then(close)
      .catch((err) => log('closing failed:', errMessage(err)))
      .finally(() => process.exit(0));
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  return () => closing;
}

// run runs the script's async main: a rejection is fatal, an unhandled one is logged.
function run(main) {
  process.on('unhandledRejection', (err) => log('unhandled rejection:', errText(err)));
  main().catch((err) => fail('startup failed', err));
}

// ---------------------------------------------------------------- waiting for services

// withTimeout settles as promise does, or rejects after ms with "not reachable within <ms> ms
// (last error: <lastErr()>)".
function withTimeout(promise, ms, lastErr) {
  let t;
  const timeout = new Promise((_, reject) => {
    t = setTimeout(() => reject(new Error(`not reachable within ${ms} ms (last error: ${lastErr()})`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(t));
}

// retry(fn, holder): run fn until it resolves, 200 ms apart, until holder.aborted (set by the
// startup timeout). Used where a client gives up at once on ECONNREFUSED, so that a service that is
// still starting gets the full STORE_TIMEOUT_MS.
async function retry(fn, holder) {
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (holder.aborted) throw err;
      holder.lastError = err;
      await new Promise((r) => setTimeout(r, 200));
      if (holder.aborted) throw err;
    }
  }
}

// ---------------------------------------------------------------- session stores (connect-*)
// storeBuilders(session, e) returns, by STORE name, builders of the real connect-* stores for the
// session module given (express-session, or @fastify/session whose Store they take as their base
// class), configured from e (process.env, or a part of it). Each builder returns a holder
// { store (set by the time ready resolves), what (for messages), ready: Promise, abort(),
// close: async fn, healthy(): bool }; retry() also sets aborted/lastError.

function storeBuilders(session, e = env) {
  const timeoutMs = storeTimeoutMs();
  const hidePassword = (url) => url.replace(/:[^:@/]*@/, ':***@');

  function redisStoreOptions(client) {
    return {
      client,
      prefix: e.REDIS_PREFIX === undefined ? 'sess:' : e.REDIS_PREFIX,
      ttl: e.REDIS_TTL ? Number(e.REDIS_TTL) : 86400,
      disableTTL: e.REDIS_DISABLE_TTL === '1',
      disableTouch: e.REDIS_DISABLE_TOUCH === '1',
    };
  }

  function buildRedis() {
    const { createClient } = require('redis');
    const { RedisStore } = require('connect-redis');
    const url = e.REDIS_URL || 'redis://127.0.0.1:6379';
    // node-redis keeps reconnecting on its own; connect() resolves once it is connected.
    const client = createClient({ url });
    const holder = {
      store: new RedisStore(redisStoreOptions(client)),
      what: `redis ${url}`,
      abort: () => client.destroy(),
      close: async () => {
        if (client.isOpen) await client.close();
      },
      healthy: () => client.isReady,
    };
    client.on('error', (err) => {
      holder.lastError = err;
      log(`redis client error (${url}):`, err.message);
    });
    holder.ready = client.connect().then(() => client.ping());
    return holder;
  }

  function buildRedisCluster() {
    const { createCluster } = require('redis');
    const { RedisStore } = require('connect-redis');
    const addrs = (e.REDIS_CLUSTER_ADDRS || '127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    let client;
    const holder = {
      what: `redis cluster ${addrs.join(',')}`,
      abort: () => client && client.destroy(),
      close: async () => {
        if (client && client.isOpen) await client.close();
      },
      healthy: () => !!client && client.isReady !== false,
    };
    // A cluster client fails connect() at once when no root node answers: retry with a fresh one.
    holder.ready = retry(async () => {
      const c = createCluster({ rootNodes: addrs.map((a) => ({ url: 'redis://' + a })) });
      c.on('error', (err) => {
        if (holder.store) log('redis cluster error:', err.message);
      });
      client = c;
      try {
        await c.connect();
      } catch (err) {
        c.destroy();
        throw err;
      }
      holder.store = new RedisStore(redisStoreOptions(c));
    }, holder);
    return holder;
  }

  // buildRedisSentinel: node-redis's createSentinel, which asks the sentinels REDIS_SENTINELS
  // (host:port,host:port,...) for the master named REDIS_MASTER_NAME and follows it across
  // failovers; same REDIS_* store options as redis.
  function buildRedisSentinel() {
    const { createSentinel } = require('redis');
    const { RedisStore } = require('connect-redis');
    const addrs = (e.REDIS_SENTINELS || '127.0.0.1:26379')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const sentinelRootNodes = addrs.map((a) => {
      const i = a.lastIndexOf(':');
      const port = Number(a.slice(i + 1));
      if (i <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) {
        fail(`REDIS_SENTINELS: bad address ${JSON.stringify(a)}`);
      }
      return { host: a.slice(0, i).replace(/^\[|\]$/g, ''), port };
    });
    const name = e.REDIS_MASTER_NAME || 'mymaster';
    const client = createSentinel({ name, sentinelRootNodes });
    const holder = {
      store: new RedisStore(redisStoreOptions(client)),
      what: `redis sentinel ${name} via ${addrs.join(',')}`,
      abort: () => client.destroy(),
      close: async () => {
        if (client.isOpen) await client.close();
      },
      healthy: () => client.isReady,
    };
    client.on('error', (err) => {
      holder.lastError = err;
      log(`redis sentinel client error (${name}):`, err.message);
    });
    holder.ready = client.connect().then(() => client.ping());
    return holder;
  }

  function buildPostgres() {
    const pg = require('pg');
    const PgSession = require('connect-pg-simple')(session);
    const connectionString = e.PG_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
    const poolOpts = { connectionString, connectionTimeoutMillis: timeoutMs };
    if (e.PG_TIMEZONE) {
      // Session TimeZone of every pool client, set as a startup parameter (-c TimeZone=...): it is in
      // force before the first statement, with no queued "SET TIME ZONE" racing the store's queries.
      poolOpts.options = `-c TimeZone=${e.PG_TIMEZONE.replace(/([\\ ])/g, '\\$1')}`;
    }
    const pool = new pg.Pool(poolOpts);
    pool.on('error', (err) => log('pg pool error:', err.message));
    const opts = {
      pool,
      tableName: e.PG_TABLE || 'session',
      createTableIfMissing: true,
      pruneSessionInterval: false,
      errorLog: (...a) => log('connect-pg-simple:', ...a),
    };
    if (e.PG_SCHEMA) opts.schemaName = e.PG_SCHEMA;
    const store = new PgSession(opts);
    // The probe get() also runs createTableIfMissing.
    const holder = {
      store,
      what: `postgres ${hidePassword(connectionString)}`,
      abort: () => pool.end().catch(() => {}),
      close: async () => {
        await store.close();
        await pool.end();
      },
      healthy: () => true,
    };
    holder.ready = (async () => {
      const tz = await retry(() => pool.query('SHOW TimeZone'), holder);
      log(`postgres session TimeZone: ${tz.rows[0].TimeZone}`);
      if (e.PG_SCHEMA) {
        // connect-pg-simple creates the table but not the schema.
        await pool.query(`CREATE SCHEMA IF NOT EXISTS "${e.PG_SCHEMA.replace(/"/g, '""')}"`);
      }
      await promisify(store.get.bind(store))('sessionbridge-startup-probe');
    })();
    return holder;
  }

  function buildMongo() {
    const { MongoClient } = require('mongodb');
    const { MongoStore } = require('connect-mongo'); // 6.x: named export (also .default); no factory
    const url = e.MONGO_URL || 'mongodb://127.0.0.1:27017/sessionbridge';
    const client = new MongoClient(url, {
      serverSelectionTimeoutMS: Math.max(1000, timeoutMs - 500),
      connectTimeoutMS: timeoutMs,
    });
    let store;
    const holder = {
      what: `mongo ${hidePassword(url)}`,
      abort: () => client.close(true).catch(() => {}),
      close: async () => {
        if (store) await store.close(); // closes the client too
        else await client.close();
      },
      healthy: () => true,
    };
    holder.ready = client
      .connect()
      .then(() => client.db().command({ ping: 1 }))
      .then(async () => {
        store = MongoStore.create({
          client,
          collectionName: e.MONGO_COLLECTION || 'sessions',
          stringify: e.MONGO_STRINGIFY !== '0',
          autoRemove: e.MONGO_AUTOREMOVE || 'interval',
          ttl: 1209600,
          // connect-mongo's crypto option (kruptein 3.0.8): sessions stored encrypted.
          ...(e.MONGO_CRYPTO_SECRET ? { crypto: { secret: e.MONGO_CRYPTO_SECRET } } : {}),
        });
        // collectionP rejects if autoRemove setup fails (e.g. 'native' on FerretDB); the probe
        // surfaces that here instead of as an unhandled rejection later.
        await promisify(store.get.bind(store))('sessionbridge-startup-probe');
        holder.store = store;
      });
    return holder;
  }

  function buildMemcached() {
    const MemcachedStore = require('connect-memcached')(session);
    const addr = e.MEMCACHED_ADDR || '127.0.0.1:11211';
    // Probe first (the memcached client connects lazily and retries for a long time).
    const holder = {
      what: `memcached ${addr}`,
      abort: () => {},
      close: async () => {
        if (holder.store) holder.store.client.end();
      },
      healthy: () => true,
    };
    holder.ready = (async () => {
      await retry(() => probeMemcached(addr), holder);
      const opts = { hosts: [addr], prefix: e.MEMCACHED_PREFIX || '' };
      // connect-memcached's ttl option (seconds): the lifetime of every session, whatever its cookie says.
      if (e.MEMCACHED_TTL) opts.ttl = Number(e.MEMCACHED_TTL);
      holder.store = new MemcachedStore(opts);
    })();
    return holder;
  }

  function buildFile() {
    const FileStore = require('session-file-store')(session);
    const dir = e.FILE_DIR || './sessions';
    const store = new FileStore({ path: dir, ttl: 3600, retries: 0, reapInterval: -1, logFn: () => {} });
    return {
      store,
      what: `file ${dir}`,
      ready: fs.promises.access(store.options.path, fs.constants.W_OK),
      abort: () => {},
      close: async () => {},
      healthy: () => true,
    };
  }

  function buildMemory() {
    return {
      store: new session.MemoryStore(),
      what: 'memory',
      ready: Promise.resolve(),
      abort: () => {},
      close: async () => {},
      healthy: () => true,
    };
  }

  return {
    redis: buildRedis,
    'redis-cluster': buildRedisCluster,
    'redis-sentinel': buildRedisSentinel,
    postgres: buildPostgres,
    mongo: buildMongo,
    memcached: buildMemcached,
    file: buildFile,
    memory: buildMemory,
  };
}

// probeMemcached answers memcached's `version` at addr (host:port, [v6]:port).
function probeMemcached(addr) {
  const i = addr.lastIndexOf(':');
  const host = i > 0 ? addr.slice(0, i).replace(/^\[|\]$/g, '') : addr;
  const port = i > 0 ? Number(addr.slice(i + 1)) : 11211;
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    let buf = '';
    s.setEncoding('utf8');
    s.on('connect', () => s.write('version\r\n'));
    s.on('data', (d) => {
      buf += d;
      if (buf.includes('\r\n')) {
        s.destroy();
        if (buf.startsWith('VERSION')) resolve(buf.trim());
        else reject(new Error(`unexpected memcached answer ${JSON.stringify(buf)}`));
      }
    });
    s.on('error', reject);
    s.on('close', () => reject(new Error('memcached closed the connection')));
  });
}

// serveStore builds the store STORE names (default memory) from builders and waits until it
// answers, STORE_TIMEOUT_MS at most; a store that is not ready is fatal. Then start(holder) serves
// and resolves to a function that stops serving. SIGTERM/SIGINT, also during startup, stop serving
// and close the store.
async function serveStore(builders, start) {
  const name = env.STORE || 'memory';
  const build = Object.hasOwn(builders, name) ? builders[name] : undefined;
  if (!build) fail(`unknown STORE ${JSON.stringify(name)}; want one of ${Object.keys(builders).join(' | ')}`);
  let holder;
  let stop;
  const closing = onShutdown(async () => {
    if (stop) await stop();
    if (holder) {
      holder.aborted = true;
      await holder.close();
    }
  });
  try {
    holder = build();
  } catch (err) {
    fail(`cannot create the session store STORE=${name}`, errMessage(err));
  }
  try {
    await withTimeout(holder.ready, storeTimeoutMs(), () => (holder.lastError ? holder.lastError.message : 'none'));
  } catch (err) {
    if (closing()) return;
    holder.aborted = true;
    holder.abort();
    fail(`session store not ready: STORE=${name} (${holder.what})`, errMessage(err));
  }
  if (closing()) return;
  log(`store ready: ${holder.what}`);
  stop = await start(holder);
}

// ---------------------------------------------------------------- users / passport
// The users of app.js, fastify-app.js and koa-app.js (password "secret" for all).

const USERS = [
  { id: 7, username: 'alice', password: 'secret', name: 'Alice' },
  { id: 0, username: 'zero', password: 'secret', name: 'Zero' }, // 0 is a valid passport user
  { id: '9007199254740993', username: 'big', password: 'secret', name: 'Big' }, // beyond 2^53: string id
];
const publicUser = (u) => ({ id: u.id, username: u.username, name: u.name });

// verifyLogin is passport-local's verify function over USERS.
function verifyLogin(username, password, done) {
  const u = USERS.find((x) => x.username === username);
  if (!u || u.password !== password) return done(null, false, { message: 'invalid username or password' });
  return done(null, publicUser(u));
}

// serializeUser is what passport stores for user: its id (mode "id") or {id, username, name}.
const serializeUser = (mode, user) => (mode === 'object' ? publicUser(user) : user.id);

// deserializeUser is the user for a stored passport value, or null.
function deserializeUser(mode, v) {
  if (mode === 'object') return v && typeof v === 'object' && (v.id || v.id === 0) ? v : null;
  const u = USERS.find((x) => String(x.id) === String(v));
  return u ? publicUser(u) : null;
}

// usePassport sets up passport (or koa-passport) with the local strategy and mode's
// (de)serialization.
function usePassport(passport, mode) {
  const LocalStrategy = require('passport-local').Strategy;
  passport.use(new LocalStrategy(verifyLogin));
  passport.serializeUser((user, done) => done(null, serializeUser(mode, user)));
  passport.deserializeUser((v, done) => done(null, deserializeUser(mode, v) || false));
}

// ---------------------------------------------------------------- batch CLIs

function readStdin() {
  return new Promise((resolve, reject) => {
    const chunks = [];
    process.stdin.on('data', (c) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

// runOps is a batch CLI's main. It reads {"ops":[{"op":name,"args":{...}}, ...]} from stdin, runs
// ops[name](args) one after another ({} for missing args), then close(), and writes one line to
// stdout: {"results":[{"ok":true,"value":v} | {"ok":false,"error":"..."}, ...],"versions":versions()}.
// A failing op answers {ok:false} and the others still run. Exit status 2 when stdin is not a JSON
// object with an "ops" array, 1 on any other failure.
function runOps(ops, { versions, close = () => {} }) {
  const prefix = NAME.replace(/\.js$/, '');
  const main = async () => {
    let doc;
    try {
      doc = JSON.parse(await readStdin());
      if (!doc || typeof doc !== 'object' || !Array.isArray(doc.ops)) {
        throw new Error('input must be a JSON object with an "ops" array');
      }
    } catch (err) {
      process.stderr.write(`${prefix}: unreadable input: ${(err && err.message) || err}\n`);
      process.exitCode = 2;
      return;
    }
    const results = [];
    for (const item of doc.ops) {
      try {
        if (!item || typeof item !== 'object') throw new Error('op must be an object');
        if (!Object.hasOwn(ops, item.op)) throw new Error('unknown op: ' + JSON.stringify(item.op));
        const value = await ops[item.op](item.args === undefined || item.args === null ? {} : item.args);
        results.push({ ok: true, value: value === undefined ? null : value });
      } catch (err) {
        results.push({ ok: false, error: String((err && err.message) || err) });
      }
    }
    await close();
    realStdoutWrite(JSON.stringify({ results, versions: versions() }) + '\n');
  };
  main().catch((err) => {
    process.stderr.write(`${prefix}: ${(err && err.stack) || err}\n`);
    process.exitCode = 1;
  });
}

module.exports = {
  env,
  log,
  fail,
  errText,
  errMessage,
  stringList,
  json,
  maxAge,
  userSerialize,
  storeTimeoutMs,
  address,
  announce,
  listen,
  closeServer,
  onShutdown,
  run,
  withTimeout,
  storeBuilders,
  serveStore,
  USERS,
  publicUser,
  verifyLogin,
  serializeUser,
  deserializeUser,
  usePassport,
  runOps,
};
