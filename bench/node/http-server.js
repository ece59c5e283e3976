'use strict';
// GET /me, the Node side of the HTTP comparison, written the way a real app is: express 5,
// express-session 1.19 with connect-redis 9 on node-redis 5, passport 0.7 with passport.session()
// and deserializeUser from an in-memory user table, res.json(req.user).
//
//   REDIS_URL=redis://127.0.0.1:6379 PREFIX=sessbench: SECRET=... USERS=1000 node http-server.js
//
// Sessions are the harness's: passport.user = {id, username, name}. Prints one line on stdout,
// "LISTENING http://127.0.0.1:<port>", and stops on SIGTERM.
const express = require('express');
const session = require('express-session');
const passport = require('passport');
const { createClient } = require('redis');
const { RedisStore } = require('connect-redis');

const env = process.env;
const users = new Map();
for (let i = 0; i < Number(env.USERS || 1000); i++) {
  users.set(i, { id: i, username: `user${i}`, name: `User ${i}` });
}
passport.serializeUser((user, done) => done(null, { id: user.id, username: user.username, name: user.name }));
passport.deserializeUser((stored, done) => done(null, users.get(stored.id) || false));

(async () => {
  const client = createClient({ url: env.REDIS_URL || 'redis://127.0.0.1:6379' });
  client.on('error', (err) => console.error('[http-server.js] redis:', err.message));
  await client.connect();

  const app = express();
  app.disable('x-powered-by');
  app.use(
    session({
      name: 'connect.sid',
      secret: env.SECRET,
      store: new RedisStore({ client, prefix: env.PREFIX || 'sess:' }),
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: 86400000, httpOnly: true, path: '/' },
    })
  );
  app.use(passport.initialize());
  app.use(passport.session());
  app.get('/me', (req, res) => {
    if (!req.user) return res.status(401).json({ error: 'not logged in' });
    res.json(req.user);
  });

  const server = app.listen(0, '127.0.0.1', () => {
    process.stdout.write(`LISTENING http://127.0.0.1:${server.address().port}\n`);
  });
  server.keepAliveTimeout = 60000;
  process.on('SIGTERM', () => {
    server.close();
    server.closeAllConnections();
    client.close().finally(() => process.exit(0));
  });
})().catch((err) => {
  console.error(`[http-server.js] ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});
