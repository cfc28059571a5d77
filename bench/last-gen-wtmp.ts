// A realistic synthetic wtmp in the glibc layout (384-byte records): boots with their
// run level record, logins and logouts over many ttys, users and hosts, clean shutdowns
// (logouts, then a "shutdown" record) and some crashes (the next boot comes with sessions
// still open). Deterministic for a given seed. Shapes (SHAPES) stress one thing each:
//   mixed     the default: 256 ttys, 400 users, 300 hosts, a boot every 500-20,500 events
//   open      2,000 ttys, 9 logins for 1 logout until 1,000 are open, a boot every
//             ~200,000 records: many sessions open at once (last's per-tty map at its
//             largest). util-linux last keeps them in a list it walks for every record:
//             with 10,000 open it took over 7 minutes on 1M records, hence 1,000.
//   reboots   a boot (and often a shutdown) every 4-40 events
//   users     50,000 users, names up to 32 bytes
//   hosts     long host names (100-256 bytes)
//   ipv6      every remote login from an IPv6 address, its text in ut_host
//
//   node dist/bench/last-gen-wtmp.js OUT RECORDS [SEED] [SHAPE]

import { closeSync, openSync, writeSync } from 'node:fs';
import { GLIBC_LAYOUT as G } from '../src/record/layout.js';

/** mulberry32: small, fast, good enough to pick names and gaps. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

interface Fields {
  type: number;
  pid: number;
  line: string;
  id: string;
  user: string;
  host: string;
  sec: number;
  usec: number;
  addr?: readonly number[];
}

function put(buf: Buffer, at: number, f: Fields): void {
  buf.fill(0, at, at + G.size);
  buf.writeInt16LE(f.type, at + G.type);
  buf.writeInt32LE(f.pid, at + G.pid);
  buf.write(f.line, at + G.line, 32, 'latin1');
  buf.write(f.id, at + G.id, 4, 'latin1');
  buf.write(f.user, at + G.user, 32, 'latin1');
  buf.write(f.host, at + G.host, 256, 'latin1');
  buf.writeInt32LE(f.sec, at + G.tvSec);
  buf.writeInt32LE(f.usec, at + G.tvUsec);
  if (f.addr) for (let i = 0; i < f.addr.length; i++) buf[at + G.addr + i] = f.addr[i];
}

const KERNEL = '6.1.0-13-amd64';

export const SHAPES = ['mixed', 'open', 'reboots', 'users', 'hosts', 'ipv6'] as const;
export type Shape = (typeof SHAPES)[number];

export function generateWtmp(path: string, records: number, seed = 1, shape: Shape = 'mixed'): void {
  const random = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  const word = (n: number): string => Array.from({ length: n }, () => letters[Math.floor(random() * 26)]).join('');
  const users =
    shape === 'users'
      ? Array.from({ length: 50_000 }, (_, i) => `${word(4 + Math.floor(random() * 20))}.${i}`.slice(-32).padStart(8 + (i % 25), 'x'))
      : Array.from({ length: 400 }, (_, i) => (i % 25 === 0 ? `firstname.lastname${i}` : `user${String(i).padStart(3, '0')}`));
  const hosts: Array<{ host: string; addr?: number[] }> = [{ host: '' }, { host: '' }];
  for (let i = 0; i < 300; i++) {
    const addr = [10, (i >> 8) & 255, i & 255, 1 + (i % 250)];
    if (shape === 'hosts') {
      const labels: string[] = [];
      const want = 100 + Math.floor(random() * 156);
      while (labels.join('.').length < want) labels.push(word(3 + Math.floor(random() * 20)));
      hosts.push({ host: `${labels.join('.')}.example.net`.slice(-256), addr });
    } else if (shape === 'ipv6') {
      const v6 = [0x20, 0x01, 0x0d, 0xb8, (i >> 8) & 255, i & 255, 0, 0, 0, 0, 0, 0, 0, Math.floor(random() * 256), 0, 1 + (i % 250)];
      const text = Array.from({ length: 8 }, (_, k) => ((v6[2 * k] << 8) | v6[2 * k + 1]).toString(16)).join(':');
      hosts.push({ host: text, addr: v6 });
    } else {
      hosts.push(i % 3 === 0 ? { host: `ws${i}.corp.example.net`, addr } : { host: addr.join('.'), addr });
    }
  }
  hosts.push({ host: '2001:db8::42', addr: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x42] });
  const ptys = shape === 'open' ? 2000 : 250;
  const ttys = [...Array.from({ length: 6 }, (_, i) => `tty${i + 1}`), ...Array.from({ length: ptys }, (_, i) => `pts/${i}`)];
  // How often a free tty gets a login rather than an open one a logout.
  const loginShare = shape === 'open' ? 0.9 : 0.5;
  const eventsPerBoot = (): number =>
    shape === 'reboots' ? 4 + Math.floor(random() * 36) : shape === 'open' ? 200_000 : 500 + Math.floor(random() * 20_000);

  const fd = openSync(path, 'w', 0o644);
  const chunkRecords = 8192;
  const buf = Buffer.alloc(chunkRecords * G.size);
  let n = 0;
  let inChunk = 0;
  let sec = 1_600_000_000;
  let pid = 1000;
  const emit = (f: Omit<Fields, 'sec' | 'usec'>): void => {
    put(buf, inChunk * G.size, { ...f, sec, usec: Math.floor(random() * 1e6) });
    n++;
    if (++inChunk === chunkRecords) {
      writeSync(fd, buf);
      inChunk = 0;
    }
  };
  const idOf = (line: string): string => (line.startsWith('pts/') ? `ts/${line.slice(4)}` : line.slice(3)).slice(0, 4);

  while (n < records) {
    // A boot: the boot record, then the run level change.
    emit({ type: 2, pid: 0, line: '~', id: '~~', user: 'reboot', host: KERNEL });
    sec += 5;
    emit({ type: 1, pid: 0x35 + 256 * 0x4e, line: '~', id: '~~', user: 'runlevel', host: KERNEL });
    const active = new Map<string, { pid: number; user: string }>();
    const events = eventsPerBoot();
    for (let e = 0; e < events && n < records; e++) {
      sec += 1 + Math.floor(random() * 300);
      // open: at most half the ttys open at once, so a free one is quick to pick.
      const free = (shape === 'open' ? ttys.length / 2 : ttys.length) - active.size;
      if (active.size === 0 || (free > 0 && random() < loginShare)) {
        let line = pick(ttys);
        while (active.has(line)) line = pick(ttys);
        const user = pick(users);
        const h = line.startsWith('tty') ? { host: '' } : pick(shape === 'ipv6' ? hosts.slice(2) : hosts);
        pid = pid >= 4_000_000 ? 1000 : pid + 1 + Math.floor(random() * 50);
        active.set(line, { pid, user });
        emit({ type: 7, pid, line, id: idOf(line), user, host: h.host, addr: h.addr });
      } else {
        const line = randomKey(active, random);
        const s = active.get(line)!;
        active.delete(line);
        emit({ type: 8, pid: s.pid, line, id: idOf(line), user: '', host: '' });
      }
    }
    sec += 60 + Math.floor(random() * 3600);
    if (random() < 0.85) {
      // A clean shutdown: everyone is logged out, then the shutdown record.
      for (const [line, s] of active) {
        if (n >= records) break;
        emit({ type: 8, pid: s.pid, line, id: idOf(line), user: '', host: '' });
      }
      if (n < records) emit({ type: 1, pid: 0, line: '~', id: '~~', user: 'shutdown', host: KERNEL });
    }
    sec += 30 + Math.floor(random() * 600);
  }
  if (inChunk > 0) writeSync(fd, buf, 0, inChunk * G.size);
  closeSync(fd);
}

/**
 * A key of the map: uniformly up to 1,000 keys (the mixed shape's history is what it
 * always was), else among the 64 oldest (no walk over thousands of ttys on each logout).
 */
function randomKey<K, V>(m: Map<K, V>, random: () => number): K {
  let skip = Math.floor(random() * (m.size <= 1000 ? m.size : 64));
  for (const k of m.keys()) if (skip-- === 0) return k;
  throw new Error('empty map');
}

if (process.argv[1]?.endsWith('last-gen-wtmp.js')) {
  const [out, count, seed, shape] = process.argv.slice(2);
  if (!out || !count || (shape !== undefined && !SHAPES.includes(shape as Shape))) {
    process.stderr.write(`usage: node dist/bench/last-gen-wtmp.js OUT RECORDS [SEED] [${SHAPES.join('|')}]\n`);
    process.exit(100);
  }
  generateWtmp(out, Number(count), seed === undefined ? 1 : Number(seed), (shape ?? 'mixed') as Shape);
}
