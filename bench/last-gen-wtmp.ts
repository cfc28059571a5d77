// A realistic synthetic wtmp in the glibc layout (384-byte records): boots with their
// run level record, logins and logouts over many ttys, users and hosts, clean shutdowns
// (logouts, then a "shutdown" record) and some crashes (the next boot comes with sessions
// still open). Deterministic for a given seed.
//
//   node dist/bench/last-gen-wtmp.js OUT RECORDS [SEED]

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

export function generateWtmp(path: string, records: number, seed = 1): void {
  const random = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const users = Array.from({ length: 400 }, (_, i) =>
    i % 25 === 0 ? `firstname.lastname${i}` : `user${String(i).padStart(3, '0')}`,
  );
  const hosts: Array<{ host: string; addr?: number[] }> = [{ host: '' }, { host: '' }];
  for (let i = 0; i < 300; i++) {
    const addr = [10, (i >> 8) & 255, i & 255, 1 + (i % 250)];
    hosts.push(i % 3 === 0 ? { host: `ws${i}.corp.example.net`, addr } : { host: addr.join('.'), addr });
  }
  hosts.push({ host: '2001:db8::42', addr: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x42] });
  const ttys = [...Array.from({ length: 6 }, (_, i) => `tty${i + 1}`), ...Array.from({ length: 250 }, (_, i) => `pts/${i}`)];

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
    const events = 500 + Math.floor(random() * 20_000);
    for (let e = 0; e < events && n < records; e++) {
      sec += 1 + Math.floor(random() * 300);
      const free = ttys.length - active.size;
      if (active.size === 0 || (free > 0 && random() < 0.5)) {
        let line = pick(ttys);
        while (active.has(line)) line = pick(ttys);
        const user = pick(users);
        const h = line.startsWith('tty') ? { host: '' } : pick(hosts);
        pid = pid >= 4_000_000 ? 1000 : pid + 1 + Math.floor(random() * 50);
        active.set(line, { pid, user });
        emit({ type: 7, pid, line, id: idOf(line), user, host: h.host, addr: h.addr });
      } else {
        const lines = [...active.keys()];
        const line = lines[Math.floor(random() * lines.length)];
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

if (process.argv[1]?.endsWith('last-gen-wtmp.js')) {
  const [out, count, seed] = process.argv.slice(2);
  if (!out || !count) {
    process.stderr.write('usage: node dist/bench/last-gen-wtmp.js OUT RECORDS [SEED]\n');
    process.exit(100);
  }
  generateWtmp(out, Number(count), seed === undefined ? 1 : Number(seed));
}
