'use strict';
// Live Node harness for cookie-session: a real express 5 app with cookie-session 2.1.1 and
// passport 0.7 (passport-local). Go tests start it as a child process, wait for the single stdout line
//   LISTENING http://127.0.0.1:<port>
// and then talk to it over HTTP. Configuration is by environment variables only; everything except
// that one line goes to stderr.
//
// Environment (nothing else is read):
//   PORT, HOST        as app.js (0 / 127.0.0.1)
//   KEYS              JSON array of keys (first signs, all verify); default ["new-key","old-key"]
//   ALGORITHM         keygrip hash (sha1, sha256, sha512, ...); unset: keygrip's default (sha1)
//   COOKIE_NAME       cookie-session's name; unset: its default (session)
//   MAX_AGE_MS        maxAge; default 86400000, "null" for none (a browser-session cookie)
//   OPTIONS           JSON object merged into the cookie-session options (path, domain, sameSite,
//                     priority, partitioned, httpOnly, secure, ...)
//   TRUST_PROXY=1     express 'trust proxy' (X-Forwarded-Proto counts for secure cookies)
//   FAKE_NOW=1        a request header X-Fake-Now: <ms> sets Date.now for that request
//   EXPIRY_MEMBER     the name of a payload member holding the session's expiry (ms since the epoch):
//                     the opt-in expiry check shared with Go (see the middleware below)
//
// Routes: POST /login {username,password}, GET /me, POST /set {set,del}, POST /logout,
// POST /null (req.session = null), GET /hidden (every name `in` a session), POST /b64 {values}
// (Buffer.from(v,'base64') of each value, as cookie-session's decode runs it).

// The stdout guard, log/fail and env parsing are in harness.js.
const h = require('./harness.js');

const express = require('express');
const cookieSession = require('cookie-session');
const Keygrip = require('keygrip');
const onHeaders = require('on-headers');
const passport = require('passport');
const LocalStrategy = require('passport-local').Strategy;

const env = process.env;
h.address(); // a bad PORT fails before anything starts
const KEYS = h.json('KEYS', ['new-key', 'old-key']);
if (!Array.isArray(KEYS) || KEYS.length === 0) h.fail('KEYS must be a non-empty JSON array');
const MAX_AGE_MS = env.MAX_AGE_MS === 'null' ? null : h.json('MAX_AGE_MS', 86400000);
const OPTIONS = h.json('OPTIONS', {});
const EXPIRY_MEMBER = env.EXPIRY_MEMBER || '';

const USERS = [
  { id: 42, username: 'alice', password: 'secret', name: 'alice' },
  { id: 7, username: 'zoe', password: 'secret', name: 'Zoë 🍪 “quoted”' },
];

passport.use(
  new LocalStrategy((username, password, done) => {
    const u = USERS.find((x) => x.username === username);
    if (!u || u.password !== password) return done(null, false, { message: 'invalid username or password' });
    return done(null, { id: u.id, name: u.name });
  })
);
passport.serializeUser((user, done) => done(null, { id: user.id, name: user.name }));
passport.deserializeUser((obj, done) => done(null, obj && typeof obj === 'object' ? obj : false));

const app = express();
app.disable('x-powered-by');
if (env.TRUST_PROXY === '1') app.set('trust proxy', true);
app.use(express.json({ limit: '1mb' }));

if (env.FAKE_NOW === '1') {
  const realNow = Date.now;
  app.use((req, res, next) => {
    const fake = req.headers['x-fake-now'];
    Date.now = fake === undefined ? realNow : () => Number(fake);
    next();
  });
}

const options = { name: env.COOKIE_NAME || undefined, maxAge: MAX_AGE_MS, ...OPTIONS };
options.keys = env.ALGORITHM ? new Keygrip(KEYS, env.ALGORITHM) : KEYS;
if (options.name === undefined) delete options.name;
if (options.maxAge === null) delete options.maxAge;
app.use(cookieSession(options));

if (EXPIRY_MEMBER) {
  // The opt-in expiry shared with Go (cookiesession.Config.ExpiryMember): refuse a session whose
  // payload has no expiry or one that has passed, and stamp now+maxAge into every session
  // cookie-session is about to write. Registered after cookieSession, so its on-headers listener
  // runs before cookie-session's own.
  app.use((req, res, next) => {
    const s = req.session;
    if (s && !s.isNew && !(typeof s[EXPIRY_MEMBER] === 'number' && s[EXPIRY_MEMBER] > Date.now())) {
      req.session = {}; // a new, empty session, as for a cookie that does not parse
    }
    onHeaders(res, () => {
      const cur = req.session;
      if (cur && cur.isChanged && (!cur.isNew || cur.isPopulated)) cur[EXPIRY_MEMBER] = Date.now() + MAX_AGE_MS;
    });
    next();
  });
}

// passport 0.7 calls req.session.regenerate and .save, which cookie-session lacks: the usual
// no-op shims, not enumerable (else every anonymous session would count as populated).
app.use((req, res, next) => {
  const s = req.session;
  if (s) {
    for (const m of ['regenerate', 'save']) {
      if (typeof s[m] !== 'function') {
        Object.defineProperty(s, m, { value: (cb) => cb(), enumerable: false, configurable: true, writable: true });
      }
    }
  }
  next();
});
app.use(passport.initialize());
app.use(passport.session());

app.post('/login', (req, res, next) => {
  passport.authenticate('local', (err, user) => {
    if (err) return next(err);
    if (!user) return res.status(401).json({ ok: false });
    req.logIn(user, (err2) => {
      if (err2) return next(err2);
      res.json({ ok: true, user: req.user });
    });
  })(req, res, next);
});

app.get('/me', (req, res) => {
  const s = req.session;
  res.json({
    loggedIn: !!req.user,
    user: req.user === undefined ? null : req.user,
    isNew: s ? s.isNew : null,
    record: s ? JSON.stringify(s) : null,
  });
});

app.post('/set', (req, res) => {
  const set = (req.body && req.body.set) || {};
  const del = (req.body && req.body.del) || [];
  for (const [k, v] of Object.entries(set)) req.session[k] = v;
  for (const k of del) delete req.session[k];
  res.json({ record: JSON.stringify(req.session) });
});

app.post('/logout', (req, res, next) => {
  req.logout((err) => {
    if (err) return next(err);
    res.json({ ok: true });
  });
});

app.post('/null', (req, res) => {
  req.session = null;
  res.json({ ok: true });
});

app.get('/hidden', (req, res) => {
  const names = new Set();
  for (let o = req.session; o; o = Object.getPrototypeOf(o)) {
    for (const n of Object.getOwnPropertyNames(o)) names.add(n);
  }
  res.json({ names: [...names] });
});

app.post('/b64', (req, res) => {
  const values = (req.body && req.body.values) || [];
  res.json({
    out: values.map((v) => {
      const buf = Buffer.from(v, 'base64');
      return { hex: buf.toString('hex'), utf8: Buffer.from(buf.toString('utf8')).toString('hex') };
    }),
  });
});

// eslint-disable-next-line no-unused-vars
app.use((err, req, res, next) => {
  h.log(req.method, req.url, 'failed:', h.errText(err));
  if (res.headersSent) return;
  res.status(500).json({ error: String((err && err.message) || err) });
});

const server = h.listen(app);
h.onShutdown(() => h.closeServer(server));
