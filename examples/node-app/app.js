'use strict';
// The Node half of the sessionbridge demo: a plain Express app with
// express-session and passport-local, the way such apps are written. The chat
// on its page talks socket.io to a Go server (examples/chat-server) that knows
// who you are from this app's session. Configure with:
//   PORT (3000), SECRET, STORE (file | redis | postgres | mongo | memcached),
//   SESSION_DIR (file store), REDIS_URL, PG_URL, MONGO_URL, MEMCACHED_ADDR,
//   CHAT_URL (the Go server, http://localhost:3001).
const path = require('path');
const express = require('express');
const session = require('express-session');
const passport = require('passport');
const LocalStrategy = require('passport-local').Strategy;

const PORT = Number(process.env.PORT || 3000);
const SECRET = process.env.SECRET || 'sessionbridge demo secret';
const STORE = process.env.STORE || 'file';
const CHAT_URL = process.env.CHAT_URL || 'http://localhost:3001';

const USERS = [
  { id: 1, username: 'alice', password: 'alice', name: 'Alice' },
  { id: 2, username: 'bob', password: 'bob', name: 'Bob' },
];

async function makeStore() {
  switch (STORE) {
    case 'file': {
      const FileStore = require('session-file-store')(session);
      return new FileStore({ path: process.env.SESSION_DIR || path.join(__dirname, 'sessions'), ttl: 3600, retries: 0, logFn: () => {} });
    }
    case 'redis': {
      const { createClient } = require('redis');
      const { RedisStore } = require('connect-redis');
      const client = createClient({ url: process.env.REDIS_URL || 'redis://127.0.0.1:6379' });
      client.on('error', (e) => console.error('redis:', e.message));
      await client.connect();
      return new RedisStore({ client, prefix: 'demo:sess:' });
    }
    case 'postgres': {
      const pg = require('pg');
      const pool = new pg.Pool({ connectionString: process.env.PG_URL || 'postgres://postgres@127.0.0.1:5432/postgres' });
      const PgStore = require('connect-pg-simple')(session);
      return new PgStore({ pool, tableName: 'demo_session', createTableIfMissing: true });
    }
    case 'mongo': {
      const { MongoStore } = require('connect-mongo');
      return MongoStore.create({ mongoUrl: process.env.MONGO_URL || 'mongodb://127.0.0.1:27017/sessionbridge_demo', autoRemove: 'interval' });
    }
    case 'memcached': {
      const MemcachedStore = require('connect-memcached')(session);
      return new MemcachedStore({ hosts: [process.env.MEMCACHED_ADDR || '127.0.0.1:11211'], prefix: 'demo:' });
    }
  }
  throw new Error('unknown STORE ' + STORE);
}

const page = (title, body) => `<!doctype html>
<html><head><meta charset="utf-8"><title>${title}</title>
<style>
 body{font:16px system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem;color:#222}
 #log{border:1px solid #ccc;border-radius:6px;height:16rem;overflow:auto;padding:.5rem;margin:.5rem 0;background:#fafafa}
 .sys{color:#777;font-style:italic} .err{color:#b00} input{font:inherit;padding:.3rem} button{font:inherit;padding:.3rem .8rem}
 header{display:flex;justify-content:space-between;align-items:center}
</style></head><body>${body}</body></html>`;

function escapeHTML(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

async function main() {
  passport.use(new LocalStrategy((username, password, done) => {
    const u = USERS.find((x) => x.username === username && x.password === password);
    return done(null, u || false);
  }));
  passport.serializeUser((user, done) => done(null, user.id));
  passport.deserializeUser((id, done) => done(null, USERS.find((x) => x.id === id) || false));

  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.use(session({
    secret: SECRET,
    store: await makeStore(),
    resave: false,
    saveUninitialized: false,
    cookie: { maxAge: 60 * 60 * 1000, httpOnly: true, sameSite: 'lax' },
  }));
  app.use(passport.session());

  app.get('/socket.io.js', (req, res) => res.sendFile(path.join(__dirname, 'node_modules', 'socket.io-client', 'dist', 'socket.io.min.js')));

  app.get('/login', (req, res) => res.send(page('Log in', `
<h1>sessionbridge demo</h1>
<p>Log in on this <b>Node</b> app; the chat is served by a <b>Go</b> server that reads the same session.</p>
<form method="post" action="/login">
 <p><label>User <input name="username" id="username" value="alice"></label></p>
 <p><label>Password <input name="password" id="password" type="password" value="alice"></label></p>
 <p><button id="login" type="submit">Log in</button></p>
</form>
<p class="sys">Demo users: alice/alice, bob/bob.</p>`)));

  app.post('/login', passport.authenticate('local', { failureRedirect: '/login' }), (req, res) => res.redirect('/'));

  app.post('/logout', (req, res, next) => {
    req.logout((err) => (err ? next(err) : res.json({ ok: true })));
  });

  app.get('/', (req, res) => {
    if (!req.user) return res.redirect('/login');
    res.send(page('Chat', `
<header><h1>Hello, ${escapeHTML(req.user.name)}</h1><button id="logout">Log out</button></header>
<p>Node says you are <b>${escapeHTML(req.user.name)}</b>. Go says: <b id="goMe">…</b></p>
<div id="status" class="sys">connecting to the Go chat…</div>
<div id="log"></div>
<form id="send"><input id="msg" autocomplete="off" placeholder="Say something" size="40"> <button type="submit">Send</button></form>
<script src="/socket.io.js"></script>
<script>
const CHAT = ${JSON.stringify(CHAT_URL)};
const log = (text, cls) => { const d = document.createElement('div'); if (cls) d.className = cls; d.textContent = text; const l = document.getElementById('log'); l.appendChild(d); l.scrollTop = l.scrollHeight; };
const status = (t) => { document.getElementById('status').textContent = t; };
fetch(CHAT + '/api/me', { credentials: 'include' }).then(r => r.json()).then(me => {
  document.getElementById('goMe').textContent = me.loggedIn ? me.name + ' (user ' + me.user + ')' : 'not logged in';
}).catch(e => { document.getElementById('goMe').textContent = 'unreachable: ' + e.message; });
const socket = io(CHAT, { withCredentials: true });
socket.on('connect', () => status('connected to the Go chat'));
socket.on('hello', (m) => log(m.text, 'sys'));
socket.on('message', (m) => log(m.from + ': ' + m.text));
socket.on('session_revoked', (reason) => log('Go ended the chat: ' + reason, 'err'));
socket.on('connect_error', (e) => status('chat refused: ' + e.message));
socket.on('disconnect', (reason) => status('disconnected (' + reason + ')'));
document.getElementById('send').addEventListener('submit', (ev) => {
  ev.preventDefault(); const i = document.getElementById('msg'); if (i.value) socket.emit('message', i.value); i.value = '';
});
document.getElementById('logout').addEventListener('click', async () => {
  await fetch('/logout', { method: 'POST' });
  log('logged out on the Node app', 'sys');
});
</script>`));
  });

  const server = app.listen(PORT, '127.0.0.1', () => {
    console.log(`node app on http://localhost:${server.address().port} (store: ${STORE})`);
  });
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((e) => { console.error(e); process.exit(1); });
