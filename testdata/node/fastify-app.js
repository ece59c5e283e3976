'use strict';
// Live Node harness for @fastify/session: a real fastify app with @fastify/cookie, @fastify/session
// and @fastify/passport (passport-local), backed by one of the real connect-* session stores. Go tests
// start it as a child process, wait for the single stdout line
//   LISTENING http://127.0.0.1:<port>
// and then talk to it over HTTP. It has the routes of app.js (the express-session harness), so the
// same Go client drives both. Configuration is by environment variables only; everything except that
// one line goes to stderr.
//
// Environment (nothing else is read):
//   PORT, HOST                 as app.js (0 / 127.0.0.1)
//   SECRETS                    JSON array (or JSON string) of secrets; default ["keyboard cat"]
//   COOKIE_NAME                @fastify/session cookieName; unset: its default (sessionId)
//   COOKIE_PREFIX              cookiePrefix; unset: its default ('')
//   MAX_AGE_MS                 cookie.maxAge; default 3600000, "null" for none
//   SECURE                     cookie.secure: "true", "false" or "auto"; unset: its default (true)
//   SAME_SITE                  cookie.sameSite ("lax", "strict", "none"); unset: none given
//   ROLLING, SAVE_UNINITIALIZED  "1" / "0"; unset: @fastify/session's defaults (both true)
//   TRUST_PROXY=1              fastify trustProxy (X-Forwarded-Proto counts)
//   FAKE_NOW=1                 a request header X-Fake-Now: <ms> sets Date.now for that request
//   USER_SERIALIZE             "id" (passport = the id) or "object" ({id, username, name})
//   STORE                      redis | postgres | mongo | memcached | file | memory
//   REDIS_URL, REDIS_PREFIX, PG_URL, PG_TABLE, PG_SCHEMA, MONGO_URL, MONGO_COLLECTION,
//   MONGO_STRINGIFY=0, MEMCACHED_ADDR, MEMCACHED_PREFIX, FILE_DIR, STORE_TIMEOUT_MS   as app.js
//
// Routes: POST /login {username,password}, GET /me, POST /data {set,del}, POST /logout,
// POST /destroy, GET /raw (as app.js), and GET /cookies: request.cookies as @fastify/cookie parsed
// them (npm cookie 2's parseCookie).

// The stdout guard, log/fail, env parsing, the stores and the users are in harness.js.
const h = require('./harness.js');

const { log, fail } = h;
const Fastify = require('fastify');
const fastifyCookie = require('@fastify/cookie');
const fastifySession = require('@fastify/session');
const { Authenticator } = require('@fastify/passport');
const LocalStrategy = require('passport-local').Strategy;

const env = process.env;

function parseFlag(name) {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if (raw === '1') return true;
  if (raw === '0') return false;
  return fail(`${name} must be "1" or "0" (got ${JSON.stringify(raw)})`);
}

function parseSecure(raw) {
  if (raw === undefined || raw === '') return undefined;
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  if (raw === 'auto') return 'auto';
  return fail(`SECURE must be "true", "false" or "auto" (got ${JSON.stringify(raw)})`);
}

h.address(); // a bad PORT fails before anything starts
const SECRETS = h.stringList('SECRETS', ['keyboard cat']);
const MAX_AGE_MS = h.maxAge(3600000, { null: null });
const SECURE = parseSecure(env.SECURE);
const ROLLING = parseFlag('ROLLING');
const SAVE_UNINITIALIZED = parseFlag('SAVE_UNINITIALIZED');
const USER_SERIALIZE = h.userSerialize();

// ---------------------------------------------------------------- stores
// The connect-* stores are express-session stores; @fastify/session takes them as they are. The
// factories that want a session module get @fastify/session's (its Store is their base class). They
// see only the variables in STORE_ENV (and STORE_TIMEOUT_MS), so app.js's other store settings
// (REDIS_TTL, PG_TIMEZONE, MONGO_CRYPTO_SECRET, ...) keep their defaults here; no redis-cluster.
const STORE_ENV = [
  'REDIS_URL', 'REDIS_PREFIX', 'PG_URL', 'PG_TABLE', 'PG_SCHEMA', 'MONGO_URL', 'MONGO_COLLECTION',
  'MONGO_STRINGIFY', 'MEMCACHED_ADDR', 'MEMCACHED_PREFIX', 'FILE_DIR',
];
const builders = h.storeBuilders(
  fastifySession,
  Object.fromEntries(STORE_ENV.filter((k) => env[k] !== undefined).map((k) => [k, env[k]]))
);
delete builders['redis-cluster'];

// ---------------------------------------------------------------- users / passport
const passport = new Authenticator();
passport.use('local', new LocalStrategy(h.verifyLogin));
passport.registerUserSerializer(async (user) => h.serializeUser(USER_SERIALIZE, user));
passport.registerUserDeserializer(async (v) => h.deserializeUser(USER_SERIALIZE, v));

// ---------------------------------------------------------------- app
async function buildApp(holder) {
  const app = Fastify({ logger: false, trustProxy: env.TRUST_PROXY === '1' });

  if (env.FAKE_NOW === '1') {
    // Runs before @fastify/session's hooks: the whole request (expiry check, save) sees that clock.
    const realNow = Date.now;
    app.addHook('onRequest', async (req) => {
      const fake = req.headers['x-fake-now'];
      if (fake !== undefined) {
        const ms = Number(fake);
        Date.now = () => ms;
      }
    });
    app.addHook('onResponse', async () => {
      Date.now = realNow;
    });
  }

  await app.register(fastifyCookie);
  const cookie = { httpOnly: true, path: '/' };
  if (MAX_AGE_MS !== null) cookie.maxAge = MAX_AGE_MS;
  if (SECURE !== undefined) cookie.secure = SECURE;
  if (env.SAME_SITE) cookie.sameSite = env.SAME_SITE;
  const opts = { secret: SECRETS, cookie };
  if (holder.store) opts.store = holder.store;
  if (env.COOKIE_NAME) opts.cookieName = env.COOKIE_NAME;
  if (env.COOKIE_PREFIX !== undefined) opts.cookiePrefix = env.COOKIE_PREFIX;
  if (ROLLING !== undefined) opts.rolling = ROLLING;
  if (SAVE_UNINITIALIZED !== undefined) opts.saveUninitialized = SAVE_UNINITIALIZED;
  await app.register(fastifySession, opts);
  await app.register(passport.initialize());
  await app.register(passport.secureSession());

  app.post('/login', async (request, reply) => {
    const handler = passport.authenticate('local', async (req, rep, err, user, info) => {
      if (err) throw err;
      if (!user) {
        return rep.code(401).send({ ok: false, error: (info && info.message) || 'unauthorized' });
      }
      await req.logIn(user);
      return rep.send({ ok: true, sid: req.session.sessionId, user: req.user });
    });
    return handler.call(app, request, reply);
  });

  app.get('/me', async (request) => ({
    loggedIn: !!request.user,
    user: request.user === undefined ? null : request.user,
    sid: request.session.sessionId,
    session: request.session,
    expires: request.session.cookie.expires,
  }));

  const RESERVED = new Set(['cookie', 'sessionId', 'encryptedSessionId']);
  app.post('/data', async (request, reply) => {
    const body = request.body || {};
    const set = body.set || {};
    const del = body.del || [];
    if (typeof set !== 'object' || Array.isArray(set) || !Array.isArray(del)) {
      return reply.code(400).send({ error: 'body must be {set: {...}, del: [...]}' });
    }
    const bad = [...Object.keys(set), ...del].filter((k) => RESERVED.has(k));
    if (bad.length) return reply.code(400).send({ error: `reserved session keys: ${bad.join(', ')}` });
    for (const [k, v] of Object.entries(set)) request.session.set(k, v);
    for (const k of del) delete request.session[k];
    return { session: request.session };
  });

  app.post('/logout', async (request) => {
    await request.logOut();
    return { ok: true };
  });

  app.post('/destroy', async (request) => {
    await request.session.destroy();
    return { ok: true };
  });

  app.get('/raw', async (request) => ({ record: JSON.stringify(request.session) }));

  app.get('/cookies', async (request) => ({ cookies: request.cookies }));

  app.setErrorHandler((err, request, reply) => {
    log(`${request.method} ${request.url} failed:`, err && err.stack ? err.stack : err);
    reply.code(err.statusCode || 500).send({ error: String((err && err.message) || err) });
  });
  return app;
}

// ---------------------------------------------------------------- startup / shutdown
h.run(() =>
  h.serveStore(builders, async (holder) => {
    const app = await buildApp(holder);
    const { port, host } = h.address();
    await app.listen({ port, host });
    h.announce(app.server.address().port);
    return () => app.close();
  })
);
