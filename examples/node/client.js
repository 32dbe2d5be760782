#!/usr/bin/node
// An iomodels client in Node.js, written from docs/protocol.md alone: run it
// under `iomodels run --exec "examples/node/client.js"`.
//
// Event-driven, every connection at once on Node's one event loop (libuv on
// epoll): each connection sends a request, its read callbacks gather the
// response, and once it is all in the client checks every byte, records the
// latency and sends the next. Sockets (socketpair: an inherited fd; tcp: N
// connects) and pipes alike are net.Sockets, so libuv polls them all (fs
// streams on a pipe would read in libuv's 4-thread pool, a blocking read()
// each, one pool for every connection's reads and writes: they hang here).
//
// Mirrors: epoll
// Quadrant: async-nonblocking
// Expect: cpu=sleep cpu_max=0.2
//
// It sleeps in epoll_wait; its bound is higher than the Python clients' 0.1
// core because each request costs Node about 60-95 us (BigInt checks, the
// event loop's own work, more while the JIT warms up): 0.09-0.10 core at 8
// connections x 4 KiB x 5 ms over 800 requests, up to 0.19 over 160.
'use strict';
const fs = require('fs');
const net = require('net');

const M64 = (1n << 64n) - 1n;
const die = (msg, status) => { process.stderr.write(`client.js: ${msg}\n`); process.exit(status); };
const env = (name, re = /^\d+$/) => {
  const v = process.env[name];
  if (v === undefined || !re.test(v)) die(`${name}=${v}: missing or malformed (run me under iomodels run --exec)`, 2);
  return v;
};

// §1: the environment.
if (process.env.IOMODELS_PROTOCOL !== '1') die(`IOMODELS_PROTOCOL=${process.env.IOMODELS_PROTOCOL}: I speak version 1 only`, 2);
const transport = env('IOMODELS_TRANSPORT', /^(socketpair|pipe|tcp)$/);
const N = Number(env('IOMODELS_CONNECTIONS')), S = Number(env('IOMODELS_SIZE'));
const R = BigInt(env('IOMODELS_REQUESTS')), rate = Number(env('IOMODELS_RATE', /^\d+(\.\d*)?$/));
const reportFd = Number(env('IOMODELS_REPORT_FD'));
if (N < 1 || N > 10000 || S < 1 || S > 1048576 || R < 1n) die('IOMODELS_CONNECTIONS, _SIZE or _REQUESTS out of range', 2);

// §3: the payload. key(conn, id) with BigInt; the words k * 0x9e37... are the
// same for every request, so made once (T); byte o of a response is then
// T[o] ^ (byte o % 8 of the key).
const mix64 = (x) => {
  x ^= x >> 30n; x = (x * 0xbf58476d1ce4e5b9n) & M64;
  x ^= x >> 27n; x = (x * 0x94d049bb133111ebn) & M64;
  return x ^ (x >> 31n);
};
const T = Buffer.alloc(Math.ceil(S / 8) * 8);
for (let k = 0; k < T.length / 8; k++) T.writeBigUInt64LE((BigInt(k) * 0x9e3779b97f4a7c15n) & M64, 8 * k);
const key = Buffer.alloc(8);
const hex = (b) => b.toString(16).padStart(2, '0');
function check(conn, id, data) {
  key.writeBigUInt64LE(mix64((BigInt(conn) << 40n) ^ id ^ 0x6a09e667f3bcc909n));
  for (let o = 0; o < S; o++) {
    const want = T[o] ^ key[o & 7];
    if (data[o] !== want) die(`connection ${conn} request ${id}: wrong byte at offset ${o}: expected 0x${hex(want)}, got 0x${hex(data[o])}`, 1);
  }
}

// §4 and §5: pacing and the latency report, written once at the end.
const t0 = process.hrtime.bigint();
const scheduled = (id) => t0 + BigInt(Math.round(Number(id) * 1e9 / rate));
const report = [];
let left = N;
function finish() {
  const buf = Buffer.from(report.join(''));
  for (let off = 0; off < buf.length;) off += fs.writeSync(reportFd, buf, off);
  fs.closeSync(reportFd);
  process.exit(0);
}

// §2: one connection: a request, its whole response, the next request.
// Reads use net.Socket's `onread` option: every read lands in one shared
// buffer and calls back at once (no stream machinery, no allocation per read).
const readBuffer = Buffer.allocUnsafe(65536);
function serve(conn, open) {
  let id = 0n, start = 0n, got = 0;
  const request = Buffer.alloc(16), response = Buffer.allocUnsafe(S);
  const onread = (n, buf) => {  // a read returned n bytes into buf
    if (got + n > S) die(`connection ${conn}: ${got + n - S} bytes more than the response`, 1);
    buf.copy(response, got, 0, n); got += n;
    if (got < S) return;
    const end = process.hrtime.bigint();
    check(conn, id, response);
    report.push(`${conn} ${id} ${end - start}\n`);
    got = 0;
    if (++id < R) ask(); else if (--left === 0) finish();
  };
  const [input, output] = open({ buffer: readBuffer, callback: onread });
  const ask = () => {
    const now = process.hrtime.bigint();
    if (rate > 0 && scheduled(id) > now) return setTimeout(ask, Number(scheduled(id) - now) / 1e6);
    start = rate > 0 ? scheduled(id) : now;
    request.writeUInt32LE(conn, 0); request.writeUInt32LE(S, 4); request.writeBigUInt64LE(id, 8);
    output.write(Buffer.from(request));  // a copy: the write may finish later
  };
  input.on('end', () => id < R && die(`connection ${conn}: closed by the peer at request ${id}`, 1));
  for (const s of new Set([input, output])) s.on('error', (e) => id < R && die(`connection ${conn}: ${e.message}`, 1));
  ask();
}

if (transport === 'tcp') {
  const [, host, port] = env('IOMODELS_ADDRESS', /^([\d.]+):(\d+)$/).match(/^(.*):(\d+)$/);
  for (let i = 0; i < N; i++) {  // connection i is the i-th connect
    serve(i, (onread) => {
      const s = net.connect({ host, port: Number(port), noDelay: true, onread });
      return [s, s];
    });
  }
} else {
  const fds = env('IOMODELS_FDS', /^\d+:\d+(,\d+:\d+)*$/).split(',').map((e) => e.split(':').map(Number));
  if (fds.length !== N) die(`IOMODELS_FDS has ${fds.length} entries, not ${N}`, 2);
  const open = (fd, options) => {
    try { return new net.Socket({ fd, ...options }); } catch (e) { die(`IOMODELS_FDS: fd ${fd}: ${e.message}`, 2); }
  };
  fds.forEach(([r, w], i) => serve(i, (onread) => {
    if (r === w) { const s = open(r, { onread }); return [s, s]; }  // a socket
    return [open(r, { onread, writable: false }), open(w, { readable: false })];  // two pipes
  }));
}
