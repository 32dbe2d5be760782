#!/usr/bin/node
// An iomodels server in Node.js, written from docs/protocol.md ("The server
// role") alone: run it under
// `iomodels run --exec "examples/node/server.js" --role server --offered R`.
//
// Event-driven, every connection on Node's one event loop (libuv on epoll).
// On tcp a net.Server listens on the socket iomodels passed as fd 3
// (`listen({fd: 3})`: socket activation, nothing bound here); on pipe and
// socketpair each inherited descriptor is a net.Socket, so libuv polls them
// all (fs streams on a pipe would read in libuv's thread pool). A
// connection's 'data' callbacks gather 16-byte requests from reads of any
// size and write each response; at EOF the connection is closed.
//
// Role: server
// Mirrors: epoll
// Quadrant: async-nonblocking
// Expect: cpu=sleep cpu_max=0.3
//
// It sleeps in epoll_wait; each request costs Node its event loop's work, a
// BigInt key and a 4 KiB payload made 32 bits at a time: about 75 us and 3.6
// syscalls a request, 0.15 core at 2000 requests/s over 8 socketpairs.
//
// Run: build/release/iomodels run --exec "examples/node/server.js" --role server --offered 2000 -c 8 -s 4KiB -r 200
'use strict';
const net = require('net');
const os = require('os');

const M64 = (1n << 64n) - 1n;
const MAX_SIZE = 64 * 1024 * 1024;  // a larger response is a malformed request
const die = (msg, status) => { process.stderr.write(`server.js: ${msg}\n`); process.exit(status); };
const env = (name, re = /^\d+$/) => {
  const v = process.env[name];
  if (v === undefined || !re.test(v)) die(`${name}=${v}: missing or malformed (run me under iomodels run --exec --role server)`, 2);
  return v;
};

// The environment.
if (process.env.IOMODELS_PROTOCOL !== '2' || process.env.IOMODELS_ROLE !== 'server') {
  die(`IOMODELS_PROTOCOL=${process.env.IOMODELS_PROTOCOL}, IOMODELS_ROLE=${process.env.IOMODELS_ROLE}: I am a server of protocol version 2`, 2);
}
if (os.endianness() !== 'LE') die('the payload below is made with little-endian 32-bit words', 2);
const transport = env('IOMODELS_TRANSPORT', /^(socketpair|pipe|tcp)$/);
const N = Number(env('IOMODELS_CONNECTIONS'));

// The payload of (conn, id): word k is key(conn, id) ^ (k * 0x9e37...). The
// second terms are the same for every request of a size, so made once (as
// 32-bit halves); a response is then two XORs per word.
const mix64 = (x) => {
  x ^= x >> 30n; x = (x * 0xbf58476d1ce4e5b9n) & M64;
  x ^= x >> 27n; x = (x * 0x94d049bb133111ebn) & M64;
  return x ^ (x >> 31n);
};
const tables = new Map();  // size -> Uint32Array of the words k * 0x9e37...
function table(size) {
  let t = tables.get(size);
  if (t) return t;
  t = new Uint32Array(2 * Math.ceil(size / 8));
  for (let k = 0; k < t.length / 2; k++) {
    const w = (BigInt(k) * 0x9e3779b97f4a7c15n) & M64;
    t[2 * k] = Number(w & 0xffffffffn); t[2 * k + 1] = Number(w >> 32n);
  }
  tables.set(size, t);
  return t;
}
function payload(conn, id, size) {
  const t = table(size), out = new Uint32Array(t.length);
  const key = mix64((BigInt(conn) << 40n) ^ id ^ 0x6a09e667f3bcc909n);
  const lo = Number(key & 0xffffffffn), hi = Number(key >> 32n);
  for (let i = 0; i < t.length; i += 2) { out[i] = t[i] ^ lo; out[i + 1] = t[i + 1] ^ hi; }
  return Buffer.from(out.buffer, 0, size);
}
table(Number(env('IOMODELS_SIZE')));  // made now, not at the first request

// One connection: requests in from `input`, responses out to `output` (the
// same socket, or a pipe connection's two ends).
function serve(input, output) {
  const head = Buffer.alloc(16);
  let got = 0;
  input.on('data', (chunk) => {
    for (let at = 0; at < chunk.length;) {  // a request may come in pieces
      const n = Math.min(16 - got, chunk.length - at);
      chunk.copy(head, got, at, at + n); got += n; at += n;
      if (got < 16) break;
      got = 0;
      const conn = head.readUInt32LE(0), size = head.readUInt32LE(4), id = head.readBigUInt64LE(8);
      if (size === 0 || size > MAX_SIZE) die(`connection ${conn} request ${id}: size ${size} is not 1..${MAX_SIZE} bytes`, 1);
      output.write(payload(conn, id, size));
    }
  });
  const close = () => { input.destroy(); output.destroy(); };
  input.on('end', close);  // EOF: iomodels is done with this connection
  for (const s of new Set([input, output])) s.on('error', close);
}

if (transport === 'tcp') {
  // sd_listen_fds(3): the socket is ours if LISTEN_PID is our pid.
  if (Number(env('LISTEN_PID')) !== process.pid || env('LISTEN_FDS') !== '1') die('LISTEN_PID / LISTEN_FDS: no socket was passed to this process', 2);
  const fd = Number(env('IOMODELS_LISTEN_FD', /^3$/));
  for (const name of ['LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES']) delete process.env[name];
  net.createServer({ noDelay: true }, (s) => serve(s, s))
    .on('error', (e) => die(`fd ${fd}: ${e.message}`, 2))
    .listen({ fd });
} else {
  const fds = env('IOMODELS_FDS', /^\d+:\d+(,\d+:\d+)*$/).split(',').map((e) => e.split(':').map(Number));
  if (fds.length !== N) die(`IOMODELS_FDS has ${fds.length} entries, not ${N}`, 2);
  const open = (fd, options) => {
    try { return new net.Socket({ fd, ...options }); } catch (e) { die(`IOMODELS_FDS: fd ${fd}: ${e.message}`, 2); }
  };
  for (const [r, w] of fds) {
    if (r === w) { const s = open(r, {}); serve(s, s); }  // a socket
    else serve(open(r, { writable: false }), open(w, { readable: false }));  // two pipes
  }
  setInterval(() => {}, 1 << 30);  // every connection closed: still a server, until SIGTERM
}
