'use strict';
// The real SQLite session stores of npm (connect-session-knex and connect-session-sequelize on
// sqlite3, connect-sqlite3 on sqlite3, better-sqlite3-session-store on better-sqlite3), driven one
// operation at a time by the Go tests of stores/sql.
//
//   node sqlite-cli.js
//
// The line protocol is ../nodestores/protocol.js's: one JSON request per stdin line, one JSON
// answer per stdout line, args.now (epoch ms) fixing the clock while an op runs.
//
// args.store picks the store: {"pkg": "knex" | "sequelize" | "connect-sqlite3" |
// "better-sqlite3-session-store", "file": the database file, "table": name, "options": {...the
// package's own options}}; one store, on a connection of its own to the file, is built per
// distinct spec, creating its table as the package does (connect-session-sequelize through
// sync()), with the periodic cleanups off where the package lets them be (op "prune" runs them).
// Every connection waits up to 5 s for a lock the Go side holds.
//
// better-sqlite3-session-store compares with SQLite's own clock (datetime('now')). So that
// args.now fixes its clock too, its connection overrides SQL's datetime() with one that reads
// 'now' as the ISO text of Date.now() and hands everything to SQLite's built-in datetime() on a
// second connection: the comparison stays SQLite's.
//
// Ops:
//   open    {store}                   build the store, create its table; value true
//   set     {store, sid, record, now} store.set(sid, session of the record); value: JSON.stringify(session)
//   get     {store, sid, now}         store.get; value: JSON.stringify(session) or null
//   touch   {store, sid, record, now} store.touch(sid, session of the record); value true
//   destroy {store, sid}              store.destroy; value true
//   prune   {store, now}              the package's cleanup of expired rows; value true
//   ddl     {pkg, table, sidFieldName} the package's CREATE statements as text, without running them
//   versions {}                       the installed versions of the packages and of SQLite

const { serve, storeOps } = require('../nodestores/protocol.js'); // first: it guards stdout

const session = require('express-session');
const closers = [];
const busyMs = 5000;

// ---------------------------------------------------------------- stores
let models = 0;

async function build(spec) {
  const options = spec.options || {};
  if (typeof spec.file !== 'string' || spec.file === '') throw new Error('store.file is required');
  switch (spec.pkg) {
    case 'knex': {
      const knex = require('knex')({
        client: 'sqlite3',
        connection: { filename: spec.file },
        useNullAsDefault: true,
        pool: {
          afterCreate: (conn, done) => {
            conn.configure('busyTimeout', busyMs);
            done();
          },
        },
      });
      closers.push(() => knex.destroy());
      const { ConnectSessionKnexStore } = require('connect-session-knex');
      const store = new ConnectSessionKnexStore({ ...options, knex, tableName: spec.table, cleanupInterval: 0 });
      await store.ready;
      return { store, prune: () => store.dbCleanup() };
    }
    case 'sequelize': {
      const { Sequelize } = require('sequelize');
      const db = new Sequelize({ dialect: 'sqlite', storage: spec.file, logging: false });
      closers.push(() => db.close());
      await db.query(`PRAGMA busy_timeout = ${busyMs}`);
      const SequelizeStore = require('connect-session-sequelize')(session.Store);
      models++;
      const store = new SequelizeStore({
        ...options,
        db,
        tableName: spec.table,
        modelKey: `Session${models}`,
        checkExpirationInterval: 0,
      });
      await store.sync();
      return { store, prune: () => store.clearExpiredSessions() };
    }
    case 'connect-sqlite3': {
      const sqlite3 = require('sqlite3');
      const db = await new Promise((resolve, reject) => {
        const d = new sqlite3.Database(spec.file, (err) => (err ? reject(err) : resolve(d)));
      });
      db.configure('busyTimeout', busyMs);
      // In order: the store's CREATE TABLE and its cleanup at start run before the next op.
      db.serialize();
      closers.push(() => new Promise((resolve) => db.close(() => resolve())));
      const SQLiteStore = require('connect-sqlite3')(session);
      const store = new SQLiteStore({ ...options, db, table: spec.table });
      await new Promise((resolve) => store.client.once('connect', resolve));
      // The cleanup connect-sqlite3 runs once a day, as it writes it.
      const prune = () =>
        new Promise((resolve, reject) =>
          db.run(`DELETE FROM ${store.table} WHERE ? > expired`, [new Date().getTime()], (err) => (err ? reject(err) : resolve()))
        );
      await new Promise((resolve, reject) => db.get('SELECT 1', (err) => (err ? reject(err) : resolve())));
      return { store, prune };
    }
    case 'better-sqlite3-session-store': {
      if (spec.table && spec.table !== 'sessions') throw new Error('better-sqlite3-session-store has a fixed table name');
      const Database = require('better-sqlite3');
      const db = new Database(spec.file, { timeout: busyMs });
      const builtin = new Database(':memory:');
      const datetimes = new Map();
      db.function('datetime', { varargs: true, deterministic: false }, (...a) => {
        if (a[0] === 'now') a[0] = new Date(Date.now()).toISOString();
        if (!datetimes.has(a.length)) {
          datetimes.set(a.length, builtin.prepare(`SELECT datetime(${a.map(() => '?').join(', ')})`).pluck());
        }
        return datetimes.get(a.length).get(...a);
      });
      closers.push(() => {
        db.close();
        builtin.close();
      });
      const SqliteStore = require('better-sqlite3-session-store')(session);
      // Its cleanup interval cannot be turned off (expired.clear is `x || true`); an hour keeps it
      // out of the tests' way, and the process exits when stdin closes.
      const store = new SqliteStore({ ...options, client: db, expired: { clear: true, intervalMs: 3600000 } });
      return { store, prune: () => store.clearExpiredSessions() };
    }
    default:
      throw new Error(`unknown store pkg ${JSON.stringify(spec.pkg)}`);
  }
}

const ops = {
  ...storeOps(build),
  async ddl(args) {
    switch (args.pkg) {
      case 'knex': {
        // What connect-session-knex's constructor builds on SQLite: sess json, expired a timestamp.
        const knex = require('knex')({ client: 'sqlite3', useNullAsDefault: true });
        const q = knex.schema.createTable(args.table, (table) => {
          table.string(args.sidFieldName || 'sid').primary();
          table.json('sess').notNullable();
          table.timestamp('expired').notNullable().index();
        });
        return q.toSQL().map((s) => s.sql);
      }
      default:
        throw new Error(`ddl: unknown pkg ${JSON.stringify(args.pkg)}`);
    }
  },
  async versions() {
    const v = (name) => require(`${name}/package.json`).version;
    const Database = require('better-sqlite3');
    const mem = new Database(':memory:');
    const betterSQLite = mem.prepare('SELECT sqlite_version()').pluck().get();
    mem.close();
    const sqlite3 = require('sqlite3');
    const nodeSQLite = await new Promise((resolve, reject) => {
      const d = new sqlite3.Database(':memory:');
      d.get('SELECT sqlite_version() AS v', (err, row) => {
        d.close();
        if (err) reject(err);
        else resolve(row.v);
      });
    });
    return {
      node: process.version,
      knex: v('knex'),
      'connect-session-knex': v('connect-session-knex'),
      sequelize: v('sequelize'),
      'connect-session-sequelize': v('connect-session-sequelize'),
      'connect-sqlite3': v('connect-sqlite3'),
      'better-sqlite3-session-store': v('better-sqlite3-session-store'),
      sqlite3: `${v('sqlite3')} (SQLite ${nodeSQLite})`,
      'better-sqlite3': `${v('better-sqlite3')} (SQLite ${betterSQLite})`,
      'express-session': v('express-session'),
    };
  },
};

serve(ops, closers);
