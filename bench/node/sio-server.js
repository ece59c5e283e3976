'use strict';
// The Node side of the socket.io comparison: socket.io 4.8 with the documented session + passport
// recipe (socket.io docs, "How to use with Passport.js"): express-session (connect-redis) and
// passport.session() run on the engine.io handshake only, and a handshake without req.user is
// refused with 401. An accepted socket joins its user's room, as the Go middleware does.
//
//   REDIS_URL=redis://127.0.0.1:6379 PREFIX=sessbench: SECRET=... USERS=1000 node sio-server.js
//
// Prints one line on stdout, "LISTENING http://127.0.0.1:<port>", and stops on SIGTERM.
const http = require('node:http');
const session = require('express-session');
const passport = require('passport');
const { Server } = require('socket.io');
const { createClient } = require('redis');
const { RedisStore } = require('connect-redis');

const env = process.env;
const users = new Map();
for (let i = 0; i < Number(env.USERS || 1000); i++) {
  users.set(i, { id: i, username: `user${i}`, name: `User ${i}` });
}
passport.serializeUser((user, done) => done(null, { id: user.id, username: user.username, name: user.name }));
passport.deserializeUser((stored, done) => done(null, users.get(stored.id) || false));

function onlyForHandshake(middleware) {
  return (req, res, next) => {
    const isHandshake = req._query.sid === undefined;
    if (isHandshake) {
      middleware(req, res, next);
    } else {
      next();
    }
  };
}

(async () => {
  const client = createClient({ url: env.REDIS_URL || 'redis://127.0.0.1:6379' });
  client.on('error', (err) => console.error('[sio-server.js] redis:', err.message));
  await client.connect();

  const sessionMiddleware = session({
    name: 'connect.sid',
    secret: env.SECRET,
    store: new RedisStore({ client, prefix: env.PREFIX || 'sess:' }),
    resave: false,
    saveUninitialized: false,
    cookie: { maxAge: 86400000, httpOnly: true, path: '/' },
  });

  const httpServer = http.createServer();
  const io = new Server(httpServer);
  io.engine.use(onlyForHandshake(sessionMiddleware));
  io.engine.use(onlyForHandshake(passport.session()));
  io.engine.use(
    onlyForHandshake((req, res, next) => {
      if (req.user) {
        next();
      } else {
        res.writeHead(401);
        res.end();
      }
    })
  );
  io.on('connection', (socket) => {
    socket.join(`user:${socket.request.user.id}`);
  });

  httpServer.listen(0, '127.0.0.1', () => {
    process.stdout.write(`LISTENING http://127.0.0.1:${httpServer.address().port}\n`);
  });
  process.on('SIGTERM', () => {
    io.close();
    client.close().finally(() => process.exit(0));
  });
})().catch((err) => {
  console.error(`[sio-server.js] ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});
