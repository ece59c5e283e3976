'use strict';
// Live Node harness: a real express + express-session + passport app backed by one of the real
// session stores. Go tests start it as a child process, wait for the single stdout line
//   LISTENING http://127.0.0.1:<port>
// and then talk to it over HTTP. Configuration is by environment variables only (see README.md,
// "Live Node harness (app.js)"). Everything except that one line goes to stderr.

// The stdout guard, log/fail, env parsing, the stores and the users are in harness.js.
const h = require('./harness.js');

const { log } = h;
const express = require('express');
const session = require('express-session');
const passport = require('passport');

// ---------------------------------------------------------------- configuration
const env = process.env;
h.address(); // a bad PORT fails before anything starts
const SECRETS = h.stringList('SECRETS', ['keyboard cat']);
const COOKIE_NAME = env.COOKIE_NAME || 'connect.sid';
const MAX_AGE_MS = h.maxAge(3600000, { null: null });
const RESAVE = env.RESAVE === '1';
const ROLLING = env.ROLLING === '1';
const SAVE_UNINITIALIZED = env.SAVE_UNINITIALIZED === '1';
h.usePassport(passport, h.userSerialize());

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
h.run(() =>
  h.serveStore(h.storeBuilders(session), async (holder) => {
    const server = h.listen(buildApp(holder));
    return () => h.closeServer(server);
  })
);
