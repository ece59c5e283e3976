'use strict';
// The real SQL session stores of npm (connect-session-knex, express-mysql-session,
// connect-session-sequelize) on MariaDB and PostgreSQL, driven one operation at a time by the Go
// tests of stores/sql.
//
//   node stores-cli.js   (MYSQL_HOST, MYSQL_PORT, MYSQL_USER, MYSQL_PASSWORD, MYSQL_DATABASE; PG_URL)
//
// The line protocol is protocol.js's: one JSON request per stdin line, one JSON answer per stdout
// line, args.now (epoch ms) fixing the clock while an op runs.
//
// args.store picks the store: {"pkg": "knex" | "express-mysql-session" | "sequelize", "db": "mysql"
// (the default) | "postgres", "table": name, "options": {...the package's own options}}; one store
// is built per distinct spec, creating its table as the package does (connect-session-sequelize
// through sync()), with the periodic cleanups off (op "prune" runs them). knex talks to MariaDB
// through mysql2 and to PostgreSQL through pg; sequelize likewise.
//
// Ops:
//   open    {store}                   build the store, create its table; value true
//   set     {store, sid, record, now} store.set(sid, session) of the record (JSON text) as
//                                     express-session holds it (Session with a Cookie, through
//                                     store.createSession); value: JSON.stringify(session)
//   get     {store, sid, now}         store.get; value: JSON.stringify(session) or null
//   touch   {store, sid, record, now} store.touch(sid, session of the record); value true
//   destroy {store, sid}              store.destroy; value true
//   prune   {store, now}              the package's cleanup of expired rows; value true
//   ddl     {pkg, db, table, sidFieldName}
//                                     the package's CREATE statements as text, without running them
//   versions {}                       the installed versions of the packages, and the PostgreSQL
//                                     version knex saw (connect-session-knex upserts with a CTE
//                                     from 9.2 on)

const { serve, storeOps } = require('./protocol.js'); // first: it guards stdout

// ---------------------------------------------------------------- connections
const conn = {
  host: process.env.MYSQL_HOST || '127.0.0.1',
  port: Number(process.env.MYSQL_PORT || 3306),
  user: process.env.MYSQL_USER || 'root',
  password: process.env.MYSQL_PASSWORD || '',
  database: process.env.MYSQL_DATABASE || 'test',
};

const session = require('express-session');
const pgURL = process.env.PG_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const knexDBs = {};
const sequelizeDBs = {};
const closers = [];

function knex(db = 'mysql') {
  if (!knexDBs[db]) {
    const k =
      db === 'postgres'
        ? require('knex')({ client: 'pg', connection: pgURL, pool: { min: 0, max: 4 } })
        : require('knex')({ client: 'mysql2', connection: { ...conn }, pool: { min: 0, max: 4 } });
    knexDBs[db] = k;
    closers.push(() => k.destroy());
  }
  return knexDBs[db];
}

function sequelize(db = 'mysql') {
  if (!sequelizeDBs[db]) {
    const { Sequelize } = require('sequelize');
    const s =
      db === 'postgres'
        ? new Sequelize(pgURL, { dialect: 'postgres', logging: false, pool: { min: 0, max: 4 } })
        : new Sequelize(conn.database, conn.user, conn.password, {
            host: conn.host,
            port: conn.port,
            dialect: 'mysql',
            logging: false,
            pool: { min: 0, max: 4 },
          });
    sequelizeDBs[db] = s;
    closers.push(() => s.close());
  }
  return sequelizeDBs[db];
}

// ---------------------------------------------------------------- stores
let models = 0;

async function build(spec) {
  const options = spec.options || {};
  switch (spec.pkg) {
    case 'knex': {
      const { ConnectSessionKnexStore } = require('connect-session-knex');
      const store = new ConnectSessionKnexStore({ ...options, knex: knex(spec.db), tableName: spec.table, cleanupInterval: 0 });
      await store.ready;
      return { store, prune: () => store.dbCleanup() };
    }
    case 'express-mysql-session': {
      if (spec.db && spec.db !== 'mysql') throw new Error('express-mysql-session runs on MySQL only');
      const MySQLStore = require('express-mysql-session')(session);
      const store = new MySQLStore({
        ...conn,
        ...options,
        clearExpired: false,
        schema: { ...(options.schema || {}), tableName: spec.table },
      });
      closers.push(() => store.close());
      await store.onReady();
      return { store, prune: () => store.clearExpiredSessions() };
    }
    case 'sequelize': {
      const SequelizeStore = require('connect-session-sequelize')(session.Store);
      models++;
      const store = new SequelizeStore({
        ...options,
        db: sequelize(spec.db),
        tableName: spec.table,
        modelKey: `Session${models}`, // one model per store in this process
        checkExpirationInterval: 0,
      });
      await store.sync();
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
        // What connect-session-knex's constructor builds, with sess json (MySQL >= 5.7.8, and
        // every PostgreSQL): expired a dateTime on MySQL, a timestamp elsewhere.
        const db = args.db || 'mysql';
        const q = knex(db).schema.createTable(args.table, (table) => {
          table.string(args.sidFieldName || 'sid').primary();
          table.json('sess').notNullable();
          if (db === 'mysql') table.dateTime('expired').notNullable().index();
          else table.timestamp('expired').notNullable().index();
        });
        return q.toSQL().map((s) => s.sql);
      }
      default:
        throw new Error(`ddl: unknown pkg ${JSON.stringify(args.pkg)}`);
    }
  },
  async versions() {
    const v = (name) => require(`${name}/package.json`).version;
    return {
      node: process.version,
      knex: v('knex'),
      'connect-session-knex': v('connect-session-knex'),
      'express-mysql-session': v('express-mysql-session'),
      'express-mysql-session mysql2': require(require.resolve('mysql2/package.json', { paths: [require.resolve('express-mysql-session')] })).version,
      mysql2: v('mysql2'),
      sequelize: v('sequelize'),
      'connect-session-sequelize': v('connect-session-sequelize'),
      'express-session': v('express-session'),
      pg: v('pg'),
      'knex pg client version': await knex('postgres')
        .raw('select 1')
        .then(() => knex('postgres').client.version),
    };
  },
};

serve(ops, closers);
