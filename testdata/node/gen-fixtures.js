#!/usr/bin/env node
'use strict';

// Writes the deterministic fixtures the Go tests read (sign.json,
// getcookie.json, setcookie.json, records.json, jsoncookie.json, meta.json).
//
//   node gen-fixtures.js [outdir]      (default: ../fixtures next to this script)
//
// Everything comes from the real packages through oracle.js. Secrets, sids and
// clocks are fixed; there is no randomness and no generation time, so two runs
// produce byte-identical files (with the same Node and package versions).

const fs = require('fs');
const path = require('path');
const oracle = require('./oracle.js');

const OUT = process.argv[2] ? path.resolve(process.argv[2]) : path.resolve(__dirname, '..', 'fixtures');

// ------------------------------------------------------------ fixed inputs

const KC = 'keyboard cat';
const NEW = 'new secret 2026';
const OLD = KC;
const CLE = 'clé secrète';
const CLE_NFD = 'cle\u0301 secre\u0300te';
const KEY_JA = '鍵';
const EMOJI_SECRET = '🔑 emoji secret 🗝️';
const X64 = 'x'.repeat(64); // exactly one HMAC-SHA256 block: used as is
const A65 = 'A'.repeat(65); // > 64 bytes: HMAC hashes the key first
const A64 = 'A'.repeat(64);
const LONG132 = 'long-secret-'.repeat(11); // 132 bytes (> 128)
const U80 = 'ü'.repeat(40); // 40 UTF-16 units but 80 UTF-8 bytes (> 64)

const SID_A = 'wUSQkLG76IZV6i_SmQndn-U6jpP2yB8G';
const SID_B = 'Zq3mV8xR2tY7uI1oP5aS9dF4gH6jK0lQ';
const SID_DASH = '-9Ab_cD3eFgH1iJkLmNoPqRsTuVwXyZ0';
const SID_UNDER = '_xYz0123456789-ABCDEFGHIJKLMNOPQ';
const SID_LOAD = 'LoadSid_0123456789abcdefghijklmn';
const SID_NEW = 'NewSid__0123456789abcdefghijklmn';

const N0 = 1795000000000; // 2026-11-18T11:06:40.000Z

for (const s of [SID_A, SID_B, SID_DASH, SID_UNDER, SID_LOAD, SID_NEW]) {
  if (!/^[A-Za-z0-9_-]{32}$/.test(s)) throw new Error('bad fixed sid ' + s);
}

const sig = function (value, secret) { return oracle.sign({ value: value, secret: secret }).signed107; };
const sigOnly = function (value, secret) { const s = sig(value, secret); return s.slice(s.lastIndexOf('.') + 1); };

// First deterministic uid-style sid whose signature (with KC) contains both
// '+' and '/'.
function findSid(prefix, pred) {
  for (let i = 0; i < 100000; i++) {
    const sid = prefix + String(i).padStart(32 - prefix.length, '0');
    if (pred(sigOnly(sid, KC))) return sid;
  }
  throw new Error('no sid found for ' + prefix);
}
const SID_PLUS = findSid('PlusSlashSid_', function (s) { return s.includes('+') && s.includes('/'); });
const SID_PLUS2 = findSid('PlusOnlySid_', function (s) { return s.includes('+') && !s.includes('/'); });

function enc(secret, sid) { return encodeURIComponent('s:' + sig(sid, secret)); }

function flipChar(c) { return c === 'A' ? 'B' : 'A'; }
function tamperLast(s) { return s.slice(0, -1) + flipChar(s[s.length - 1]); }
function tamperSigFirst(s) { const i = s.lastIndexOf('.') + 1; return s.slice(0, i) + flipChar(s[i]) + s.slice(i + 1); }

// ------------------------------------------------------------ sign.json

function genSign() {
  const pairs = [
    ['abc', KC], // a short value
    [SID_A, KC],
    [SID_B, KC],
    [SID_DASH, KC],
    [SID_UNDER, KC],
    [SID_PLUS, KC],
    [SID_PLUS2, KC],
    [SID_A, NEW],
    ['a.b.c', KC],
    ['a+b/c=d', KC],
    ['héllo wörld', KC],
    ['😀 emoji 🎉', KC],
    ['', KC],
    ['abc', CLE],
    [SID_A, CLE],
    ['abc', CLE_NFD],
    ['abc', KEY_JA],
    [SID_A, KEY_JA],
    ['abc', EMOJI_SECRET],
    [SID_A, EMOJI_SECRET],
    ['abc', X64],
    ['abc', A64],
    ['abc', A65],
    [SID_A, A65],
    ['abc', LONG132],
    [SID_A, LONG132],
    ['abc', U80],
    ['value with spaces', 'secret with spaces '],
    ['ünï€😀.x', KEY_JA],
    [SID_DASH, CLE],
    ['%E0%A4%A', KC],
    ['j:{"a":1}', KC],
    ['s:nested', KC],
    [SID_A, 'Keyboard cat'],
    ['é', KC],
    ['e\u0301', KC],
  ];
  const sign = pairs.map(function (p) {
    const r = oracle.sign({ value: p[0], secret: p[1] });
    if (r.signed107 !== r.signed122) throw new Error('1.0.7 and 1.2.2 disagree on ' + p[0]);
    return { value: p[0], secret: p[1], signed107: r.signed107, signed122: r.signed122 };
  });

  const sA = sig(SID_A, KC);
  const sAbc = sig('abc', KC);
  const sPlus = sig(SID_PLUS, KC);
  const inputs = [
    [sAbc, [KC]],
    [sA, [KC]],
    [sig(SID_DASH, KC), [KC]],
    [sig(SID_UNDER, KC), [KC]],
    [sPlus, [KC]],
    [sig('a.b.c', KC), [KC]],
    [sig('a+b/c=d', KC), [KC]],
    [sig('héllo wörld', KC), [KC]],
    [sig('😀 emoji 🎉', KC), [KC]],
    [sig('', KC), [KC]], // verifies to the empty string
    [sig('abc', CLE), [CLE]],
    [sig('abc', CLE), [CLE_NFD]], // NFC vs NFD secret: different bytes
    [sig('abc', KEY_JA), [KEY_JA]],
    [sig('abc', EMOJI_SECRET), [EMOJI_SECRET]],
    [sig('abc', X64), [X64]],
    [sig('abc', A65), [A65]],
    [sig('abc', A65), [A64]],
    [sig('abc', LONG132), [LONG132]],
    [sig('abc', U80), [U80]],
    [sA, [NEW, OLD]], // rotation: old cookie still valid
    [sA, [OLD, NEW]],
    [sA, [NEW]], // old secret dropped
    [sig(SID_A, NEW), [NEW, OLD]],
    [sA, ['first', 'second', KC]],
    [sA, ['Keyboard cat']],
    [sA, []],
    [tamperLast(sA), [KC]],
    [tamperSigFirst(sA), [KC]],
    [sA.slice(0, -1), [KC]], // truncated signature
    [sA.slice(0, -10), [KC]],
    ['abc.', [KC]], // empty signature
    ['abc', [KC]], // no dot
    [SID_A, [KC]], // no dot, sid only
    ['a.b.c.' + sigOnly('a', KC), [KC]], // several dots: split on the last
    [sig('a', KC) + '.extra', [KC]],
    ['abc.' + sigOnly('xyz', KC), [KC]], // signature of another value
    [sAbc + '=', [KC]], // padding appended
    [sAbc + '==', [KC]],
    [sPlus.replace(/\+/g, '-').replace(/\//g, '_'), [KC]], // base64url
    [sAbc.toLowerCase(), [KC]],
    [sAbc + ' ', [KC]],
    [' ' + sAbc, [KC]],
    ['s:' + sAbc, [KC]], // the s: prefix is not part of the signed value
    ['', [KC]],
    ['.', [KC]],
    [sig('ünï€😀.x', KEY_JA), [KC]],
    [sig('ünï€😀.x', KEY_JA), [KC, KEY_JA]],
    [sig('é', KC).replace(/^é/, 'e\u0301'), [KC]], // NFD value with the NFC signature
    [sig(sAbc, KC), [KC]], // signed twice: unsign once gives "abc.<sig>"
    [sig('%E0%A4%A', KC), [KC]],
  ];
  const unsign = inputs.map(function (p) {
    return { input: p[0], secrets: p[1], result: oracle.unsign({ input: p[0], secrets: p[1] }).result };
  });
  return { sign: sign, unsign: unsign };
}

// ------------------------------------------------------------ getcookie.json

async function genGetcookie() {
  const valid = enc(KC, SID_A);
  const rawValid = 's:' + sig(SID_A, KC);
  const forged = encodeURIComponent('s:' + SID_B + '.' + sigOnly(SID_A, KC));
  const validB = enc(KC, SID_B);
  const plusRaw = 's:' + sig(SID_PLUS, KC);
  const cases = [
    ['connect.sid=' + valid, 'connect.sid', [KC]],
    ['connect.sid=' + rawValid, 'connect.sid', [KC]],
    ['connect.sid="' + valid + '"', 'connect.sid', [KC]],
    ['connect.sid="' + rawValid + '"', 'connect.sid', [KC]],
    ['connect.sid="' + valid, 'connect.sid', [KC]], // unbalanced quote kept
    ['connect.sid="', 'connect.sid', [KC]],
    ['connect.sid=' + forged + '; connect.sid=' + valid, 'connect.sid', [KC]],
    ['connect.sid=' + valid + '; connect.sid=' + forged, 'connect.sid', [KC]],
    ['connect.sid=' + validB + '; connect.sid=' + valid, 'connect.sid', [KC]],
    ['connect.sid=' + SID_A + '; connect.sid=' + valid, 'connect.sid', [KC]],
    ['connect.sid=; connect.sid=' + valid, 'connect.sid', [KC]],
    ['connect.sid=' + SID_A, 'connect.sid', [KC]], // unsigned
    ['connect.sid=s%3A' + SID_A, 'connect.sid', [KC]], // s: but no signature
    ['connect.sid=' + valid + '%', 'connect.sid', [KC]], // bad %: raw value kept, not s:
    ['connect.sid=s%3A' + SID_A + '%E0%A4%A.' + sigOnly(SID_A, KC), 'connect.sid', [KC]],
    ['connect.sid=s:' + sig('%E0%A4%A', KC), 'connect.sid', [KC]], // raw s: with undecodable %
    ['connect.sid=' + enc(KC, SID_PLUS), 'connect.sid', [KC]], // + and / encoded
    ['connect.sid=s%3A' + sig(SID_PLUS, KC), 'connect.sid', [KC]], // only : encoded, + and / raw
    ['connect.sid=' + plusRaw, 'connect.sid', [KC]],
    ['connect.sid=' + encodeURIComponent(plusRaw).replace(/%2B/g, '%2b').replace(/%2F/g, '%2f').replace('%3A', '%3a'), 'connect.sid', [KC]],
    ['connect.sid=' + plusRaw.replace(/\+/g, ' '), 'connect.sid', [KC]], // + turned into space
    ['connect.sid=' + valid, 'connect.sid', ['wrong secret']],
    ['connect.sid=' + valid, 'connect.sid', [NEW, OLD]],
    ['connect.sid=' + valid, 'connect.sid', [NEW]],
    ['connect.sid=' + enc(NEW, SID_A), 'connect.sid', [NEW, OLD]],
    ['a=1; connect.sid=' + valid + '; b=2', 'connect.sid', [KC]],
    ['a=1;connect.sid=' + valid + ';b=2;', 'connect.sid', [KC]],
    ['  connect.sid  =  ' + valid + '  ; b=2', 'connect.sid', [KC]],
    ['\tconnect.sid\t=\t' + valid + '\t', 'connect.sid', [KC]],
    ['connect.sid=' + valid + '; sid=' + enc(KC, SID_B), 'sid', [KC]],
    ['my.app-session=' + enc(KC, SID_B), 'my.app-session', [KC]],
    ['connect.sid=', 'connect.sid', [KC]],
    ['connect.sid', 'connect.sid', [KC]],
    ['connect.sid; other=1', 'connect.sid', [KC]],
    ['connect.sid; connect.sid=' + valid, 'connect.sid', [KC]],
    ['connect.sidx=' + valid, 'connect.sid', [KC]],
    ['xconnect.sid=' + valid, 'connect.sid', [KC]],
    ['connect.sidx=' + forged + '; connect.sid=' + valid, 'connect.sid', [KC]],
    ['Connect.sid=' + valid, 'connect.sid', [KC]],
    ['connect.sid=' + 'S' + rawValid.slice(1), 'connect.sid', [KC]],
    ['connect.sid=' + encodeURIComponent('s:' + tamperLast(sig(SID_A, KC))), 'connect.sid', [KC]],
    ['connect.sid=' + encodeURIComponent('s:' + sig(SID_A, KC).slice(0, -1)), 'connect.sid', [KC]],
    ['connect.sid=' + encodeURIComponent(encodeURIComponent('s:' + sig(SID_A, KC))), 'connect.sid', [KC]], // double-encoded
    ['connect.sid=' + Array.from(rawValid).map(function (c) { return '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'); }).join(''), 'connect.sid', [KC]],
    ['connect.sid=' + enc(KC, 'a.b'), 'connect.sid', [KC]],
    ['connect.sid=' + enc(KC, 'ünï€😀'), 'connect.sid', [KC]], // ASCII header, unicode sid
    ['connect.sid=' + enc(KC, ''), 'connect.sid', [KC]], // valid signature of "": no sid
    ['connect.sid=' + enc(KC, SID_DASH), 'connect.sid', [KC]],
    ['connect.sid=' + enc(KC, SID_UNDER), 'connect.sid', [KC]],
    ['', 'connect.sid', [KC]],
    [null, 'connect.sid', [KC]],
    ['connect.sid=' + encodeURIComponent('s:' + SID_A + '.' + sigOnly(SID_A, KC) + '='), 'connect.sid', [KC]],
    ['connect.sid=' + 'j%3A' + encodeURIComponent('{"a":1}'), 'connect.sid', [KC]],
    ['connect.sid=' + valid + '; connect.sid=' + valid, 'connect.sid', [KC]],
  ];
  const out = [];
  for (const c of cases) {
    const r = await oracle.getcookie({ header: c[0], name: c[1], secrets: c[2] });
    if (r.status !== 200) throw new Error('getcookie status ' + r.status + ' for ' + c[0]);
    out.push({ header: c[0], name: c[1], secrets: c[2], sid: r.sid });
  }
  return { cases: out };
}

// ------------------------------------------------------------ setcookie.json

async function genSetcookie() {
  const base = { name: 'connect.sid', secrets: [KC], sid: SID_A };
  const cases = [
    ['default-browser-session', { now: N0, cookie: {} }],
    ['maxAge-1h', { now: N0, cookie: { maxAge: 3600000 } }],
    ['maxAge-1h-now-with-ms', { now: N0 + 123, cookie: { maxAge: 3600000 } }],
    ['maxAge-1h-now-1764115769115', { now: 1764115769115, cookie: { maxAge: 3600000 } }],
    ['maxAge-1500ms', { now: N0 + 999, cookie: { maxAge: 1500 } }],
    ['maxAge-0', { now: N0, cookie: { maxAge: 0 } }],
    ['maxAge-negative', { now: N0, cookie: { maxAge: -1000 } }],
    ['maxAge-30d', { now: N0 + 1, cookie: { maxAge: 2592000000 } }],
    ['secure-via-proxy', { now: N0, cookie: { maxAge: 3600000, secure: true } }],
    ['secure-plain-http-no-cookie', { now: N0, cookie: { maxAge: 3600000, secure: true }, proxySecure: false }],
    ['secure-auto-via-proxy', { now: N0, cookie: { secure: 'auto' }, proxySecure: true }],
    ['secure-auto-plain-http', { now: N0, cookie: { secure: 'auto' }, proxySecure: false }],
    ['httpOnly-false', { now: N0, cookie: { httpOnly: false } }],
    ['path-app', { now: N0, cookie: { path: '/app' } }],
    ['domain-example.com', { now: N0, cookie: { domain: 'example.com' } }],
    ['sameSite-true', { now: N0, cookie: { sameSite: true } }],
    ['sameSite-false', { now: N0, cookie: { sameSite: false } }],
    ['sameSite-lax', { now: N0, cookie: { sameSite: 'lax' } }],
    ['sameSite-Lax-mixed-case', { now: N0, cookie: { sameSite: 'Lax' } }],
    ['sameSite-strict', { now: N0, cookie: { sameSite: 'strict' } }],
    ['sameSite-none-secure', { now: N0, cookie: { sameSite: 'none', secure: true } }],
    ['sameSite-auto-via-proxy', { now: N0, cookie: { sameSite: 'auto', secure: true } }],
    ['sameSite-auto-plain-http', { now: N0, cookie: { sameSite: 'auto' } }],
    ['partitioned-secure', { now: N0, cookie: { partitioned: true, secure: true, sameSite: 'none' } }],
    ['priority-low', { now: N0, cookie: { priority: 'low' } }],
    ['priority-medium', { now: N0, cookie: { priority: 'medium' } }],
    ['priority-high-lax-maxAge', { now: N0 + 115, cookie: { maxAge: 3600000, priority: 'high', sameSite: 'lax' } }],
    ['all-attributes', { now: N0 + 42, cookie: { maxAge: 86400000, domain: 'example.com', path: '/app', secure: true, httpOnly: true, partitioned: true, priority: 'high', sameSite: 'none' } }],
    ['rolling', { now: N0, cookie: { maxAge: 3600000 }, rolling: true }],
    ['resave-false-saveUninitialized-false', { now: N0, cookie: { maxAge: 3600000 }, resave: false, saveUninitialized: false }],
    ['custom-name-sid', { name: 'sid', now: N0, cookie: {} }],
    ['custom-name-dotted', { name: 'my.app-session', now: N0, cookie: { maxAge: 60000 } }],
    ['several-secrets-first-signs', { secrets: [NEW, OLD, 'third'], now: N0, cookie: { maxAge: 3600000 } }],
    ['unicode-secret', { secrets: [CLE], now: N0, cookie: {} }],
    ['sid-plus-and-slash-in-signature', { sid: SID_PLUS, now: N0, cookie: { maxAge: 3600000 } }],
    ['sid-plus-in-signature', { sid: SID_PLUS2, now: N0, cookie: {} }],
    ['sid-starting-with-dash', { sid: SID_DASH, now: N0, cookie: {} }],
    ['sid-starting-with-underscore', { sid: SID_UNDER, now: N0, cookie: {} }],
    ['sid-non-ascii', { sid: 'sïd-ünïcode-😀', now: N0, cookie: {} }],
  ];
  const out = [];
  for (const c of cases) {
    const args = Object.assign({}, base, c[1]);
    const r = await oracle.setcookie(args);
    if (r.status !== 200 || typeof r.stored !== 'string') throw new Error('setcookie failed for ' + c[0] + ': ' + JSON.stringify(r));
    out.push({ name: c[0], args: args, setCookie: r.setCookie, stored: r.stored });
  }
  return { cases: out };
}

// ------------------------------------------------------------ records.json

async function genRecords() {
  const recs = [
    ['plain-user', {}, { user: { id: 42 } }],
    ['plain-user-maxAge', { maxAge: 3600000 }, { user: { id: 42 } }],
    ['unicode', { maxAge: 3600000 }, { name: 'Zoë Ångström', city: 'Zürich', ja: '日本語', ar: 'مرحبا', nfd: 'e\u0301' }],
    ['emoji-astral', {}, { e: '😀🎉', family: '👩‍👩‍👧', flag: '🇫🇷', math: '𝔘𝔫𝔦' }],
    ['line-separators', { maxAge: 60000 }, { ls: 'a\u2028b', ps: 'c\u2029d' }],
    ['html-chars', {}, { html: '<script>alert("x&y")</script>', amp: 'a&b', lt: '<', gt: '>' }],
    ['control-chars', {}, { c: '\u0000\u0001\b\f\n\r\t\u001f\u007f\u0080\u009f', nul: '\u0000', del: '\u007f' }],
    ['lone-surrogates', {}, { hi: '\ud800', lo: '\udfff', mixed: 'a\ud83dz', reversed: '\ude00\ud83d', pair: '\ud83d\ude00' }],
    ['quotes-backslashes', {}, { q: '"quoted"', bs: 'back\\slash', both: '\\"', slash: 'a/b', apos: "it's" }],
    ['nested', { maxAge: 3600000 }, { a: { b: { c: { d: [1, { e: null }] } } } }],
    ['arrays', {}, { list: [1, 'two', true, null, [], {}], empty: [], nested: [[[]]] }],
    ['empty-object-and-array', {}, { obj: {}, arr: [] }],
    ['nulls-and-undefined', {}, { n: null, u: undefined, nested: { n: null, u: undefined }, arr: [undefined, null] }],
    ['numbers', {}, {
      zero: 0, negZero: -0, f: 1.5, big: 1e21, small: 1e-7, round: 123456789012345680000,
      maxSafe: Number.MAX_SAFE_INTEGER, beyondSafe: 9007199254740993, neg: -42, frac: 0.1 + 0.2,
      tiny: 5e-324, max: Number.MAX_VALUE, just: 1e20, micro: 0.000001, nan: NaN, inf: Infinity,
    }],
    ['booleans', {}, { t: true, f: false }],
    ['integer-like-keys', {}, { b: 1, 10: 'ten', 2: 'two', a: 'a', '-1': 'neg', '01': 'lead0', 4294967294: 'maxIndex', 4294967295: 'notIndex', 1.5: 'float' }],
    ['date-value', { maxAge: 3600000 }, { when: new Date(N0 + 123) }],
    ['passport-user-number', { maxAge: 86400000 }, { passport: { user: 7 } }],
    ['passport-user-zero', {}, { passport: { user: 0 } }],
    ['passport-user-string', {}, { passport: { user: 'alice@example.com' } }],
    ['passport-user-object', { maxAge: 86400000 }, { passport: { user: { id: 'u1', name: 'Ann', roles: ['admin'] } } }],
    ['passport-logged-out', {}, { passport: {} }],
    ['passport-with-app-data', { maxAge: 3600000 }, { passport: { user: 42 }, cart: [{ sku: 'A-1', qty: 2 }], flash: { info: ['Saved!'] } }],
    ['no-app-data', { maxAge: 3600000 }, {}],
  ];
  const out = [];
  for (let i = 0; i < recs.length; i++) {
    const r = await oracle.setcookie({
      name: 'connect.sid', secrets: [KC], sid: SID_A, now: N0 + i * 1000 + 7,
      cookie: recs[i][1], data: recs[i][2],
    });
    if (r.status !== 200 || typeof r.stored !== 'string') throw new Error('record failed ' + recs[i][0]);
    out.push({ name: recs[i][0], json: r.stored });
  }
  return out;
}

async function genLoads() {
  const cookieVal = enc(KC, SID_LOAD);
  const NOW = N0 + 777;
  const C1H = '{"originalMaxAge":3600000,"expires":"2026-11-18T11:30:00.000Z","httpOnly":true,"path":"/"}';
  const CNULL = '{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"}';
  const base = { name: 'connect.sid', secrets: [KC], cookie: cookieVal, now: NOW };
  const cases = [
    ['basic-maxAge', { record: '{"cookie":' + C1H + ',"views":3}' }],
    ['basic-browser-session', { record: '{"cookie":' + CNULL + ',"views":3}' }],
    ['big-integers-raw', { record: '{"cookie":' + C1H + ',"big":12345678901234567890123,"beyondSafe":9007199254740993,"passport":{"user":12345678901234567890}}' }],
    ['number-formats-raw', { record: '{"cookie":' + C1H + ',"one":1.0,"e3":1E3,"negZero":-0,"tenth":0.10,"huge":1e400,"tiny":1e-400,"exp":2.5e+2}' }],
    ['extra-whitespace', { record: '{\n  "cookie" : {\n\t"originalMaxAge" : 3600000 ,\r\n "expires":"2026-11-18T11:30:00.000Z", "httpOnly":true,"path":"/" } ,\n  "views" : 3\n}\n' }],
    ['integer-keys-out-of-order', { record: '{"cookie":' + C1H + ',"b":1,"10":"ten","2":"two","a":"a","-1":"neg","01":"lead0"}' }],
    ['duplicate-keys', { record: '{"cookie":' + C1H + ',"a":1,"a":2,"cookie":' + CNULL + '}' }],
    ['expires-without-ms', { record: '{"cookie":{"originalMaxAge":3600000,"expires":"2026-11-26T03:49:29Z","httpOnly":true,"path":"/"},"views":1}' }],
    ['expired-session-revived', { record: '{"cookie":{"originalMaxAge":3600000,"expires":"2020-01-01T00:00:00.000Z","httpOnly":true,"path":"/"},"passport":{"user":7}}' }],
    ['expires-with-null-originalMaxAge', { record: '{"cookie":{"originalMaxAge":null,"expires":"2027-01-01T00:00:00.000Z","httpOnly":true,"path":"/"},"views":1}' }],
    ['missing-originalMaxAge', { record: '{"cookie":{"expires":"2026-11-18T11:30:00.000Z","httpOnly":true,"path":"/"},"views":1}' }],
    ['originalMaxAge-mismatch', { record: '{"cookie":{"originalMaxAge":60000,"expires":"2027-06-01T00:00:00.000Z","httpOnly":true,"path":"/"},"views":1}' }],
    ['cookie-empty-object', { record: '{"cookie":{},"views":1}' }],
    ['cookie-missing-500', { record: '{"views":1}' }],
    ['cookie-extra-fields', { record: '{"cookie":{"originalMaxAge":3600000,"expires":"2026-11-18T11:30:00.000Z","httpOnly":true,"path":"/","maxAge":5,"foo":"bar","data":{"x":1}},"views":1}' }],
    ['cookie-attributes-from-record', { rolling: true, record: '{"cookie":{"originalMaxAge":3600000,"priority":"low","expires":"2026-11-18T11:30:00.000Z","secure":false,"httpOnly":false,"domain":"example.org","path":"/","sameSite":"strict"},"views":1}' }],
    ['secure-record-plain-http', { rolling: true, record: '{"cookie":{"originalMaxAge":3600000,"expires":"2026-11-18T11:30:00.000Z","secure":true,"httpOnly":true,"path":"/"},"views":1}' }],
    ['reserved-keys-dropped', { record: '{"cookie":' + C1H + ',"id":"other","req":1,"save":2,"touch":3,"reload":4,"destroy":5,"regenerate":6,"resetMaxAge":7,"constructor":8,"toString":9,"hasOwnProperty":10,"__proto__":{"polluted":true},"kept":11}' }],
    ['escapes-in-record', { record: '{"cookie":' + C1H + ',"e":"\\u00e9","ls":"\\u2028","pair":"\\ud83d\\ude00","slash":"\\/","lone":"\\udc00","ctl":"\\u0001\\u007f","raw":"é\u2028😀"}' }],
    ['mutate-login', { record: '{"cookie":' + C1H + ',"cart":[1,2]}', mutate: { set: { passport: { user: 42 } }, del: [] } }],
    ['mutate-logout', { record: '{"cookie":' + C1H + ',"passport":{"user":42}}', mutate: { set: { passport: {} }, del: [] } }],
    ['mutate-delete-and-unicode', { record: '{"cookie":' + C1H + ',"a":1,"b":2}', mutate: { set: { name: 'Zoë 😀', 5: 'five' }, del: ['a'] } }],
    ['mutate-browser-session', { record: '{"cookie":' + CNULL + ',"views":1}', mutate: { set: { views: 2 }, del: [] } }],
    ['resave-false-unmodified-touch', { resave: false, record: '{"cookie":' + C1H + ',"views":3}' }],
    ['resave-false-modified-set', { resave: false, record: '{"cookie":' + C1H + ',"views":3}', mutate: { set: { views: 4 }, del: [] } }],
    ['rolling-unmodified', { resave: false, rolling: true, record: '{"cookie":' + C1H + ',"views":3}' }],
    ['rolling-browser-session', { resave: false, rolling: true, record: '{"cookie":' + CNULL + ',"views":3}' }],
    ['rotation-old-secret-rolling', { secrets: [NEW, OLD], rolling: true, record: '{"cookie":' + C1H + ',"views":3}' }],
    ['bad-signature-new-session', { cookie: encodeURIComponent('s:' + tamperLast(sig(SID_LOAD, KC))), newSid: SID_NEW, record: '{"cookie":' + C1H + ',"views":3}' }],
    ['unknown-sid-new-session', { newSid: SID_NEW, record: null }],
    ['unknown-sid-new-session-saveUninitialized-false', { newSid: SID_NEW, record: null, saveUninitialized: false }],
    ['invalid-json-record-500', { record: '{"cookie":' }],
    // touch() throws inside res.end and express-session swallows the error
    // response: the real app never answers (status 0 after timeoutMs).
    ['string-originalMaxAge-hangs', { timeoutMs: 500, record: '{"cookie":{"originalMaxAge":"3600000","expires":null,"httpOnly":true,"path":"/"},"views":1}' }],
  ];
  const out = [];
  for (const c of cases) {
    const args = Object.assign({}, base, c[1]);
    const r = await oracle.load(args);
    out.push({ name: c[0], args: args, result: r });
  }
  return out;
}

// ------------------------------------------------------------ jsoncookie.json

function genJsoncookie() {
  const values = [
    'j:{"a":1}', 'j:[1,2]', 'j:"str"', 'j:null', 'j:123', 'j:true', 'j:', 'j:{bad', 'abc',
    's:abc.sig', 'j:{"big":12345678901234567890}', 'j:{"u":"Zoë 😀","esc":"\\u00e9\\ud83d\\ude00"}',
    'j:{"a":{"b":[{"c":null}]}}', 'j: {"a":1} ', 'J:{"a":1}', 'j', '', 'j:{"__proto__":{"x":1}}',
    'j:{"a":1,"a":2}', 'j:"\\u2028"',
  ];
  return {
    cases: values.map(function (v) {
      const r = oracle.jsoncookie({ value: v });
      return { value: v, defined: r.defined, result: r.result };
    }),
  };
}

// ------------------------------------------------------------ main

function write(name, obj, written) {
  fs.writeFileSync(path.join(OUT, name), JSON.stringify(obj, null, 2) + '\n');
  written.push(name);
}

async function main() {
  fs.mkdirSync(OUT, { recursive: true });
  const written = [];
  write('sign.json', genSign(), written);
  write('getcookie.json', await genGetcookie(), written);
  write('setcookie.json', await genSetcookie(), written);
  write('records.json', { records: await genRecords(), loads: await genLoads() }, written);
  write('jsoncookie.json', genJsoncookie(), written);
  oracle.close();
  const files = written.concat(['meta.json']);
  write('meta.json', {
    generator: 'testdata/node/gen-fixtures.js',
    versions: oracle.versions(),
    files: files,
  }, []);
  process.stderr.write('wrote ' + files.length + ' files to ' + OUT + '\n');
}

main().catch(function (err) {
  process.stderr.write((err && err.stack || String(err)) + '\n');
  process.exitCode = 1;
});
