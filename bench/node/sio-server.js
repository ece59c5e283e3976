'use strict';
// The Node side of the socket.io comparison: socket.io 4.8 with the documented session + passport
// recipe (socket.io docs, "How to use with Passport.js"): express-session (connect-redis) and
// passport.session() run on the engine.io handshake only, and a handshake without req.user is
// refused with 401 (on a websocket upgrade engine.io's response object then destroys the TCP
// socket). An accepted socket joins its user's room, as the Go middleware does, and is sent its
// user: socket.emit("user", socket.request.user), which the load client checks.
//
// AUTH=0 is the baseline: the same server without any of that (no session, no passport, no room);
// every socket is accepted and sent a constant anonymous user of the same shape.
//
//   REDIS_URL=redis://127.0.0.1:6379 PREFIX=sessbench: SECRET=... USERS=1000 AUTH=1 node sio-server.js
//
// Prints one line on stdout, "LISTENING http://127.0.0.1:<port>", and stops on SIGTERM.
const http = require('node:http');
const session = require('express-session');
const passport = require('passport');
const { Server } = require('socket.io');
const { createClient } = require('redis');
const { RedisStore } = require('connect-redis');

const env = process.env;
const auth = env.AUTH !== '0';
const ANON = { id: -1, username: 'anonymous', name: 'Anonymous' };
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
  const httpServer = http.createServer();
  const io = new Server(httpServer);
  let client = null;
  if (auth) {
    client = createClient({ url: env.REDIS_URL || 'redis://127.0.0.1:6379' });
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
      const user = socket.request.user;
      socket.join(`user:${user.id}`);
      socket.emit('user', user);
    });
  } else {
    io.on('connection', (socket) => {
      socket.emit('user', ANON);
    });
  }

  httpServer.listen(0, '127.0.0.1', () => {
    process.stdout.write(`LISTENING http://127.0.0.1:${httpServer.address().port}\n`);
  });
  process.on('SIGTERM', () => {
    io.close();
    if (client) client.close().finally(() => process.exit(0));
    else process.exit(0);
  });
})().catch((err) => {
  console.error(`[sio-server.js] ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});
