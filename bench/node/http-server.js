'use strict';
// GET /me, the Node side of the HTTP comparison, written the way a real app is: express 5,
// express-session 1.19 with connect-redis 9 on node-redis 5, passport 0.7 with passport.session()
// and deserializeUser from an in-memory user table, res.json(req.user). GET /auth is the Node
// side of the /auth section: the stored passport.user in a header (see the route).
//
//   REDIS_URL=redis://127.0.0.1:6379 PREFIX=sessbench: SECRET=... USERS=1000 MODE=default node http-server.js
//
// MODE=default: express-session as configured by default (resave false, saveUninitialized false,
//   connect-redis touching: GET, then EXPIRE for an unchanged session).
// MODE=readonly: the same with connect-redis disableTouch: true (GET only).
// CLUSTER=n (n > 0): node:cluster with n workers sharing the port; the primary only forks them.
//
// ETag is off (app.set('etag', false)): the Go side sends none, and it is no part of the session
// work compared. Sessions are the harness's: passport.user = {id, username, name}. Prints one line
// on stdout, "LISTENING http://127.0.0.1:<port>", and stops on SIGTERM.
const cluster = require('node:cluster');

const env = process.env;
const workers = Number(env.CLUSTER || 0);

if (workers > 0 && cluster.isPrimary) {
  primary();
} else {
  worker().catch((err) => {
    console.error(`[http-server.js] ${err && err.stack ? err.stack : err}`);
    process.exit(1);
  });
}

function primary() {
  let listening = 0;
  let stopping = false;
  cluster.on('listening', (w, address) => {
    if (++listening === workers) {
      process.stdout.write(`LISTENING http://127.0.0.1:${address.port}\n`);
    }
  });
  cluster.on('exit', (w, code, signal) => {
    if (!stopping) {
      console.error(`[http-server.js] worker ${w.process.pid} exited (${signal || code})`);
      process.exit(1);
    }
    if (Object.keys(cluster.workers).length === 0) process.exit(0);
  });
  for (let i = 0; i < workers; i++) cluster.fork();
  process.on('SIGTERM', () => {
    stopping = true;
    for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
    setTimeout(() => process.exit(0), 2000).unref();
  });
}

async function worker() {
  const express = require('express');
  const session = require('express-session');
  const passport = require('passport');
  const { createClient } = require('redis');
  const { RedisStore } = require('connect-redis');

  const mode = env.MODE || 'default';
  if (mode !== 'default' && mode !== 'readonly') throw new Error(`MODE ${mode}: want default or readonly`);
  const users = new Map();
  for (let i = 0; i < Number(env.USERS || 1000); i++) {
    users.set(i, { id: i, username: `user${i}`, name: `User ${i}` });
  }
  passport.serializeUser((user, done) => done(null, { id: user.id, username: user.username, name: user.name }));
  passport.deserializeUser((stored, done) => done(null, users.get(stored.id) || false));

  const client = createClient({ url: env.REDIS_URL || 'redis://127.0.0.1:6379' });
  client.on('error', (err) => console.error('[http-server.js] redis:', err.message));
  await client.connect();

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(
    session({
      name: 'connect.sid',
      secret: env.SECRET,
      store: new RedisStore({ client, prefix: env.PREFIX || 'sess:', disableTouch: mode === 'readonly' }),
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: 86400000, httpOnly: true, path: '/' },
    })
  );
  app.use(passport.initialize());
  // GET /auth, the forward-auth decision `sessionbridge serve` makes, with the same work: the
  // session loaded (and touched) by express-session, passport.user sent as stored in the
  // X-Auth-User header, 401 without one. Mounted before passport.session(), which would run
  // deserializeUser: serve has no user table.
  app.get('/auth', (req, res) => {
    const stored = req.session.passport && req.session.passport.user;
    if (stored === undefined || stored === null) return res.status(401).end();
    res.set('X-Auth-User', JSON.stringify(stored)).end();
  });
  app.use(passport.session());
  app.get('/me', (req, res) => {
    if (!req.user) return res.status(401).json({ error: 'not logged in' });
    res.json(req.user);
  });

  const server = app.listen(0, '127.0.0.1', () => {
    if (!cluster.isWorker) process.stdout.write(`LISTENING http://127.0.0.1:${server.address().port}\n`);
  });
  server.keepAliveTimeout = 60000;
  process.on('SIGTERM', () => {
    server.close();
    server.closeAllConnections();
    client.close().finally(() => process.exit(0));
  });
}
