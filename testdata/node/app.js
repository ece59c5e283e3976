'use strict';
// Live Node harness: a real express + express-session + passport app backed by one of the real
// session stores. Go tests start it as a child process, wait for the single stdout line
//   LISTENING http://127.0.0.1:<port>
// and then talk to it over HTTP. Configuration is by environment variables only (see README.md,
// "Live Node harness (app.js)"). Everything except that one line goes to stderr.

const net = require('node:net');
const fs = require('node:fs');
const { promisify } = require('node:util');

// Libraries must never write to stdout: the Go side reads exactly one line from it.
const writeOut = process.stdout.write.bind(process.stdout);
console.log = console.error.bind(console);
console.info = console.error.bind(console);
console.debug = console.error.bind(console);

function log(...args) {
  console.error('[app.js]', ...args);
}

function fail(msg, err) {
  console.error(`[app.js] FATAL: ${msg}${err ? ': ' + (err && err.stack ? err.stack : err) : ''}`);
  process.exit(1);
}

const express = require('express');
const session = require('express-session');
const passport = require('passport');
const LocalStrategy = require('passport-local').Strategy;

// ---------------------------------------------------------------- configuration
const env = process.env;

function parseSecrets(raw) {
  if (raw === undefined || raw === '') return ['keyboard cat'];
  let v;
  try {
    v = JSON.parse(raw);
  } catch (e) {
    fail(`SECRETS must be a JSON array of strings (got ${JSON.stringify(raw)})`, e.message);
  }
  if (typeof v === 'string') v = [v];
  if (!Array.isArray(v) || v.length === 0 || !v.every((s) => typeof s === 'string')) {
    fail(`SECRETS must be a non-empty JSON array of strings (got ${raw})`);
  }
  return v;
}

function parseMaxAge(raw) {
  if (raw === undefined || raw === '') return 3600000;
  if (raw === 'null') return null;
  const n = Number(raw);
  if (!Number.isFinite(n)) fail(`MAX_AGE_MS must be a number or "null" (got ${JSON.stringify(raw)})`);
  return n;
}

const PORT = env.PORT === undefined || env.PORT === '' ? 0 : Number(env.PORT);
if (!Number.isInteger(PORT) || PORT < 0 || PORT > 65535) fail(`bad PORT ${JSON.stringify(env.PORT)}`);
const HOST = env.HOST || '127.0.0.1';
const SECRETS = parseSecrets(env.SECRETS);
const COOKIE_NAME = env.COOKIE_NAME || 'connect.sid';
const MAX_AGE_MS = parseMaxAge(env.MAX_AGE_MS);
const STORE = env.STORE || 'memory';
const RESAVE = env.RESAVE === '1';
const ROLLING = env.ROLLING === '1';
const SAVE_UNINITIALIZED = env.SAVE_UNINITIALIZED === '1';
const USER_SERIALIZE = env.USER_SERIALIZE || 'id';
const STORE_TIMEOUT_MS = Number(env.STORE_TIMEOUT_MS || 10000);
if (!['id', 'object'].includes(USER_SERIALIZE)) fail(`USER_SERIALIZE must be "id" or "object" (got ${USER_SERIALIZE})`);

// ---------------------------------------------------------------- stores
// Each builder returns a holder { store (set by the time ready resolves), what (for messages),
// ready: Promise, abort(), close: async fn, healthy(): bool }; retry() also sets aborted/lastError.

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

function redisStoreOptions(client) {
  return {
    client,
    prefix: env.REDIS_PREFIX === undefined ? 'sess:' : env.REDIS_PREFIX,
    ttl: env.REDIS_TTL ? Number(env.REDIS_TTL) : 86400,
    disableTTL: env.REDIS_DISABLE_TTL === '1',
    disableTouch: env.REDIS_DISABLE_TOUCH === '1',
  };
}

function buildRedis() {
  const { createClient } = require('redis');
  const { RedisStore } = require('connect-redis');
  const url = env.REDIS_URL || 'redis://127.0.0.1:6379';
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
  const addrs = (env.REDIS_CLUSTER_ADDRS || '127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003')
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

function buildPostgres() {
  const pg = require('pg');
  const PgSession = require('connect-pg-simple')(session);
  const connectionString = env.PG_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
  const poolOpts = { connectionString, connectionTimeoutMillis: STORE_TIMEOUT_MS };
  if (env.PG_TIMEZONE) {
    // Session TimeZone of every pool client, set as a startup parameter (-c TimeZone=...): it is in
    // force before the first statement, with no queued "SET TIME ZONE" racing the store's queries.
    poolOpts.options = `-c TimeZone=${env.PG_TIMEZONE.replace(/([\\ ])/g, '\\$1')}`;
  }
  const pool = new pg.Pool(poolOpts);
  pool.on('error', (err) => log('pg pool error:', err.message));
  const opts = {
    pool,
    tableName: env.PG_TABLE || 'session',
    createTableIfMissing: true,
    pruneSessionInterval: false,
    errorLog: (...a) => log('connect-pg-simple:', ...a),
  };
  if (env.PG_SCHEMA) opts.schemaName = env.PG_SCHEMA;
  const store = new PgSession(opts);
  // The probe get() also runs createTableIfMissing.
  const holder = {
    store,
    what: `postgres ${connectionString.replace(/:[^:@/]*@/, ':***@')}`,
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
    if (env.PG_SCHEMA) {
      // connect-pg-simple creates the table but not the schema.
      await pool.query(`CREATE SCHEMA IF NOT EXISTS "${env.PG_SCHEMA.replace(/"/g, '""')}"`);
    }
    await promisify(store.get.bind(store))('sessionbridge-startup-probe');
  })();
  return holder;
}

function buildMongo() {
  const { MongoClient } = require('mongodb');
  const { MongoStore } = require('connect-mongo'); // 6.x: named export (also .default); no factory
  const url = env.MONGO_URL || 'mongodb://127.0.0.1:27017/sessionbridge';
  const client = new MongoClient(url, {
    serverSelectionTimeoutMS: Math.max(1000, STORE_TIMEOUT_MS - 500),
    connectTimeoutMS: STORE_TIMEOUT_MS,
  });
  let store;
  const holder = {
    what: `mongo ${url.replace(/:[^:@/]*@/, ':***@')}`,
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
        collectionName: env.MONGO_COLLECTION || 'sessions',
        stringify: env.MONGO_STRINGIFY !== '0',
        autoRemove: env.MONGO_AUTOREMOVE || 'interval',
        ttl: 1209600,
      });
      // collectionP rejects if autoRemove setup fails (e.g. 'native' on FerretDB); the probe
      // surfaces that here instead of as an unhandled rejection later.
      await promisify(store.get.bind(store))('sessionbridge-startup-probe');
      holder.store = store;
    });
  return holder;
}

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

function buildMemcached() {
  const MemcachedStore = require('connect-memcached')(session);
  const addr = env.MEMCACHED_ADDR || '127.0.0.1:11211';
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
    const opts = { hosts: [addr], prefix: env.MEMCACHED_PREFIX || '' };
    // connect-memcached's ttl option (seconds): the lifetime of every session, whatever its cookie says.
    if (env.MEMCACHED_TTL) opts.ttl = Number(env.MEMCACHED_TTL);
    holder.store = new MemcachedStore(opts);
  })();
  return holder;
}

function buildFile() {
  const FileStore = require('session-file-store')(session);
  const dir = env.FILE_DIR || './sessions';
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

const builders = {
  redis: buildRedis,
  'redis-cluster': buildRedisCluster,
  postgres: buildPostgres,
  mongo: buildMongo,
  memcached: buildMemcached,
  file: buildFile,
  memory: buildMemory,
};

// ---------------------------------------------------------------- users / passport
const USERS = [
  { id: 7, username: 'alice', password: 'secret', name: 'Alice' },
  { id: 0, username: 'zero', password: 'secret', name: 'Zero' }, // 0 is a valid passport user
  { id: '9007199254740993', username: 'big', password: 'secret', name: 'Big' }, // beyond 2^53: string id
];
const publicUser = (u) => ({ id: u.id, username: u.username, name: u.name });
const findById = (id) => USERS.find((u) => String(u.id) === String(id));

passport.use(
  new LocalStrategy((username, password, done) => {
    const u = USERS.find((x) => x.username === username);
    if (!u || u.password !== password) return done(null, false, { message: 'invalid username or password' });
    return done(null, publicUser(u));
  })
);

if (USER_SERIALIZE === 'object') {
  passport.serializeUser((user, done) => done(null, { id: user.id, username: user.username, name: user.name }));
  passport.deserializeUser((obj, done) => {
    if (obj && typeof obj === 'object' && (obj.id || obj.id === 0)) return done(null, obj);
    return done(null, false);
  });
} else {
  passport.serializeUser((user, done) => done(null, user.id));
  passport.deserializeUser((id, done) => {
    const u = findById(id);
    return done(null, u ? publicUser(u) : false);
  });
}

// ---------------------------------------------------------------- app
function buildApp(holder) {
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json());
  app.use(express.urlencoded({ extended: false }));
  app.use((req, res, next) => {
    if (req.body === undefined) req.body = {};
    next();
  });

  app.get('/healthz', (req, res) => {
    if (!holder.healthy()) return res.status(503).type('text/plain').send('store not ready');
    res.type('text/plain').send('ok');
  });

  app.use(
    session({
      name: COOKIE_NAME,
      secret: SECRETS,
      store: holder.store,
      resave: RESAVE,
      saveUninitialized: SAVE_UNINITIALIZED,
      rolling: ROLLING,
      cookie: { maxAge: MAX_AGE_MS, httpOnly: true, path: '/' },
    })
  );
  app.use(passport.initialize());
  app.use(passport.session());

  app.post('/login', (req, res, next) => {
    passport.authenticate('local', (err, user, info) => {
      if (err) return next(err);
      if (!user) return res.status(401).json({ ok: false, error: (info && info.message) || 'unauthorized' });
      req.logIn(user, (err2) => {
        if (err2) return next(err2);
        res.json({ ok: true, sid: req.sessionID, user: req.user });
      });
    })(req, res, next);
  });

  // Read-only: JSON.stringify of the session goes through Cookie#toJSON and changes nothing.
  app.get('/me', (req, res) => {
    res.json({
      loggedIn: !!req.user,
      user: req.user === undefined ? null : req.user,
      sid: req.sessionID,
      session: req.session,
      expires: req.session.cookie.expires,
    });
  });

  const RESERVED = new Set(['cookie', 'id', 'req']);
  app.post('/data', (req, res) => {
    const set = req.body.set || {};
    const del = req.body.del || [];
    if (typeof set !== 'object' || Array.isArray(set) || !Array.isArray(del)) {
      return res.status(400).json({ error: 'body must be {set: {...}, del: [...]}' });
    }
    const bad = [...Object.keys(set), ...del].filter((k) => RESERVED.has(k));
    if (bad.length) return res.status(400).json({ error: `reserved session keys: ${bad.join(', ')}` });
    for (const [k, v] of Object.entries(set)) req.session[k] = v;
    for (const k of del) delete req.session[k];
    res.json({ session: req.session });
  });

  app.post('/logout', (req, res, next) => {
    req.logout((err) => {
      if (err) return next(err);
      res.json({ ok: true });
    });
  });

  app.post('/destroy', (req, res, next) => {
    req.session.destroy((err) => {
      if (err) return next(err);
      res.json({ ok: true });
    });
  });

  app.get('/raw', (req, res) => {
    res.json({ record: JSON.stringify(req.session) });
  });

  // eslint-disable-next-line no-unused-vars
  app.use((err, req, res, next) => {
    log(`${req.method} ${req.url} failed:`, err && err.stack ? err.stack : err);
    if (res.headersSent) return;
    res.status(err.status || err.statusCode || 500).json({ error: String((err && err.message) || err) });
  });
  return app;
}

// ---------------------------------------------------------------- startup / shutdown
async function main() {
  const build = builders[STORE];
  if (!build) fail(`unknown STORE ${JSON.stringify(STORE)}; want one of ${Object.keys(builders).join(' | ')}`);
  let holder;
  let server;
  let closing = false;
  const shutdown = (sig) => {
    if (closing) return;
    closing = true;
    log(`${sig}: shutting down`);
    setTimeout(() => {
      log('shutdown timed out; exiting');
      process.exit(0);
    }, 3000).unref();
    const closeStore = async () => {
      try {
        if (holder) {
          holder.aborted = true;
          await holder.close();
        }
      } catch (err) {
        log('closing store failed:', err && err.message ? err.message : err);
      }
      process.exit(0);
    };
    if (!server) return void closeStore(); // signal during startup
    server.close(closeStore);
    server.closeAllConnections();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  try {
    holder = build();
  } catch (err) {
    fail(`cannot create the session store STORE=${STORE}`, err && err.message ? err.message : err);
  }
  try {
    await withTimeout(holder.ready, STORE_TIMEOUT_MS, () => (holder.lastError ? holder.lastError.message : 'none'));
  } catch (err) {
    if (closing) return;
    holder.aborted = true;
    holder.abort();
    fail(`session store not ready: STORE=${STORE} (${holder.what})`, err && err.message ? err.message : err);
  }
  if (closing) return;
  log(`store ready: ${holder.what}`);

  const app = buildApp(holder);
  server = app.listen(PORT, HOST);
  server.on('error', (err) => fail(`cannot listen on ${HOST}:${PORT}`, err.message));
  server.on('listening', () => {
    const port = server.address().port;
    let shown = HOST === '0.0.0.0' || HOST === '::' ? '127.0.0.1' : HOST;
    if (shown.includes(':')) shown = `[${shown}]`;
    writeOut(`LISTENING http://${shown}:${port}\n`);
  });
}

process.on('unhandledRejection', (err) => log('unhandled rejection:', err && err.stack ? err.stack : err));
main().catch((err) => fail('startup failed', err));
