'use strict';
// Live Node harness for koa-session: a real Koa 3 app with koa-session 7 and koa-passport 6
// (passport 0.6, passport-local), in cookie mode or in external-store mode on Redis through
// koa-redis 4. Go tests start it as a child process, wait for the single stdout line
//   LISTENING http://127.0.0.1:<port>
// and then talk to it over HTTP. Configuration is by environment variables only; everything except
// that one line goes to stderr.
//
// Environment (nothing else is read):
//   PORT, HOST          as app.js (0 / 127.0.0.1)
//   KEYS                app.keys: a JSON array (or JSON string) of keys; default ["koa-key-1"]
//   KEYGRIP_ALG         keygrip hash (app.keys = new Keygrip(KEYS, alg)); unset: keygrip's sha1
//   KEY                 koa-session's key (the cookie name); unset: its default (koa.sess)
//   MAX_AGE_MS          koa-session's maxAge: a number of ms, "session", or unset (option left out)
//   ROLLING, RENEW      "1": koa-session's rolling / renew
//   SECURE              "true" / "false"; unset: left out (cookies decides from the request)
//   SAME_SITE, PATH_OPT, DOMAIN   sameSite, path, domain, passed through to cookies when set
//   HTTP_ONLY=0         httpOnly: false
//   OVERWRITE=0         overwrite: false
//   TRUST_PROXY=1       app.proxy = true (X-Forwarded-Proto counts)
//   FAKE_NOW=1          a request header X-Fake-Now: <ms> sets Date.now for that request
//   USER_SERIALIZE      "id" (passport.user = the id) or "object" ({id, username, name})
//   STORE               unset or "cookie": cookie mode; "redis": koa-redis on REDIS_URL
//   REDIS_URL           default redis://127.0.0.1:6379
//   PREFIX              koa-session's prefix (store mode: keys are PREFIX + randomUUID())
//   STORE_TIMEOUT_MS    how long to wait for Redis at startup; default 10000
//
// Routes: POST /login {username,password} (koa-passport's local strategy and ctx.login), GET /me,
// POST /set {set: {...}, del: [...]}, POST /logout (ctx.logout: passport 0.6's logOut), POST /destroy
// (ctx.session = null), POST /regenerate (ctx.session.regenerate()), GET /healthz, and
// POST /oracle {op, inputs} (answers {results}) for the primitives koa-session relies on:
//   base64  Buffer.from(s, 'base64') of each string, as hex
//   utf8    Buffer.from(hex, 'hex').toString('utf8') of each hex string
//   crc32   koa-session's util.hash input: crc.crc32 of each string
//   decode  koa-session's util.decode of each string: {json: JSON.stringify(result)} or {error: name}

// The stdout guard, log/fail, env parsing and the users are in harness.js.
const h = require('./harness.js');

const { log, fail } = h;
const Koa = require('koa');
const session = require('koa-session');
const createSession = session.createSession || session.default || session;
const passport = require('koa-passport');
const Keygrip = require('keygrip');

const env = process.env;
h.address(); // a bad PORT fails before anything starts
const KEYS = h.stringList('KEYS', ['koa-key-1']);
const MAX_AGE = h.maxAge(undefined, { session: 'session' });
const STORE = env.STORE || 'cookie';
if (!['cookie', 'redis'].includes(STORE)) fail(`STORE must be "cookie" or "redis" (got ${STORE})`);
h.usePassport(passport, h.userSerialize());

// ---------------------------------------------------------------- body parsing (no extra packages)
async function readJSON(ctx) {
  const chunks = [];
  let n = 0;
  for await (const c of ctx.req) {
    n += c.length;
    if (n > 1 << 20) ctx.throw(413, 'body too large');
    chunks.push(c);
  }
  if (n === 0) return {};
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (e) {
    ctx.throw(400, 'body is not JSON');
  }
}

// ---------------------------------------------------------------- app
function buildApp(store) {
  const app = new Koa();
  app.keys = env.KEYGRIP_ALG ? new Keygrip(KEYS, env.KEYGRIP_ALG) : KEYS;
  app.proxy = env.TRUST_PROXY === '1';
  app.on('error', (err) => log('koa error:', err && err.stack ? err.stack : err));

  if (env.FAKE_NOW === '1') {
    // Outermost: the whole request (the expiry check, the save, the cookie's expires) sees that clock.
    const realNow = Date.now;
    app.use(async (ctx, next) => {
      const fake = ctx.get('x-fake-now');
      if (fake) {
        const ms = Number(fake);
        Date.now = () => ms;
      }
      try {
        await next();
      } finally {
        Date.now = realNow;
      }
    });
  }

  app.use(async (ctx, next) => {
    if (ctx.method === 'POST' && ctx.path === '/oracle') {
      const { op, inputs } = await readJSON(ctx);
      const dir = require('node:path').dirname(require.resolve('koa-session'));
      const util = require(require('node:path').join(dir, 'util.js')).default; // koa-session's own
      const crc = require(require.resolve('crc', { paths: [dir] }));
      const fns = {
        base64: (s) => Buffer.from(s, 'base64').toString('hex'),
        utf8: (hex) => Buffer.from(hex, 'hex').toString('utf8'),
        crc32: (s) => crc.crc32(s),
        decode: (s) => {
          try {
            return { json: JSON.stringify(util.decode(s)) };
          } catch (e) {
            return { error: e.name };
          }
        },
      };
      if (!fns[op] || !Array.isArray(inputs)) ctx.throw(400, 'unknown op');
      ctx.body = { results: inputs.map(fns[op]) };
      return;
    }
    if (ctx.path === '/healthz') {
      ctx.type = 'text/plain';
      ctx.body = 'ok';
      return;
    }
    await next();
  });

  const opts = {};
  if (env.KEY) opts.key = env.KEY;
  if (MAX_AGE !== undefined) opts.maxAge = MAX_AGE;
  if (env.ROLLING === '1') opts.rolling = true;
  if (env.RENEW === '1') opts.renew = true;
  if (env.SECURE === 'true') opts.secure = true;
  if (env.SECURE === 'false') opts.secure = false;
  if (env.SAME_SITE) opts.sameSite = env.SAME_SITE;
  if (env.PATH_OPT) opts.path = env.PATH_OPT;
  if (env.DOMAIN) opts.domain = env.DOMAIN;
  if (env.HTTP_ONLY === '0') opts.httpOnly = false;
  if (env.OVERWRITE === '0') opts.overwrite = false;
  if (env.PREFIX) opts.prefix = env.PREFIX;
  if (store) opts.store = store;
  app.use(createSession(opts, app));
  app.use(passport.initialize());
  app.use(passport.session());

  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      log(`${ctx.method} ${ctx.url} failed:`, err && err.stack ? err.stack : err);
      ctx.status = err.status || err.statusCode || 500;
      ctx.body = { error: String((err && err.message) || err) };
    }
  });

  const state = (ctx) => ({
    loggedIn: ctx.isAuthenticated(),
    user: ctx.state.user === undefined ? null : ctx.state.user,
    session: ctx.session ? ctx.session.toJSON() : null,
    isNew: ctx.session ? !!ctx.session.isNew : null,
    maxAge: ctx.session ? (ctx.session.maxAge === undefined ? null : ctx.session.maxAge) : null,
    key: ctx.session && ctx.session.externalKey !== undefined ? ctx.session.externalKey : null,
  });

  app.use(async (ctx, next) => {
    const route = `${ctx.method} ${ctx.path}`;
    switch (route) {
      case 'POST /login': {
        ctx.request.body = await readJSON(ctx);
        await passport.authenticate('local', async (err, user, info) => {
          if (err) throw err;
          if (!user) {
            ctx.status = 401;
            ctx.body = { ok: false, error: (info && info.message) || 'unauthorized' };
            return;
          }
          await ctx.login(user);
          ctx.body = { ok: true, ...state(ctx) };
        })(ctx, next);
        return;
      }
      case 'GET /me':
        ctx.body = state(ctx);
        return;
      case 'POST /set': {
        const body = await readJSON(ctx);
        const set = body.set || {};
        const del = body.del || [];
        if (typeof set !== 'object' || Array.isArray(set) || !Array.isArray(del)) {
          ctx.status = 400;
          ctx.body = { error: 'body must be {set: {...}, del: [...]}' };
          return;
        }
        for (const [k, v] of Object.entries(set)) ctx.session[k] = v;
        for (const k of del) delete ctx.session[k];
        ctx.body = state(ctx);
        return;
      }
      case 'POST /logout':
        await ctx.logout();
        ctx.body = { ok: true, ...state(ctx) };
        return;
      case 'POST /destroy':
        ctx.session = null;
        ctx.body = { ok: true };
        return;
      case 'POST /regenerate':
        await ctx.session.regenerate();
        ctx.body = { ok: true, ...state(ctx) };
        return;
      default:
        ctx.status = 404;
        ctx.body = { error: 'not found' };
    }
  });
  return app;
}

// ---------------------------------------------------------------- startup / shutdown
async function main() {
  let store;
  let client;
  if (STORE === 'redis') {
    const redisStore = require('koa-redis');
    const url = env.REDIS_URL || 'redis://127.0.0.1:6379';
    store = redisStore({ url });
    client = store.client;
    let lastError = null;
    // Without a listener an 'error' event (Redis down) would end the process.
    store.on('error', (err) => {
      lastError = err;
      log(`redis error (${url}):`, h.errMessage(err));
    });
    try {
      await h.withTimeout(client.ping(), h.storeTimeoutMs(), () => lastError && lastError.message);
    } catch (err) {
      client.disconnect();
      fail(`redis not ready (${url})`, h.errMessage(err));
    }
    log(`store ready: redis ${url}`);
  }

  const server = h.listen(buildApp(store));
  h.onShutdown(async () => {
    await h.closeServer(server);
    if (client) client.disconnect();
  });
}

h.run(main);
