// utmps timeline --svg: the SVG's structure against util-linux last and utmps last --json
// (the same sessions, marks for boots, shutdowns and crashes, ticks for failed logins,
// record text escaped), and the picture itself: rendered by rsvg-convert (which refuses
// malformed SVG), the PNG decoded here, pixels checked where bars and marks must and must
// not be. TZ=UTC.

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';

import { COLORS, GEOMETRY } from '../../src/format/timeline.js';
import { buildRecord, type EntryInput, GLIBC_LAYOUT } from '../../src/record/index.js';
import { READER_ENV as ENV, type Run, run, utmps } from '../helpers/readers.js';


// ---- a PNG reader: 8-bit RGB or RGBA, not interlaced (what rsvg-convert writes) ----

interface Image {
  width: number;
  height: number;
  pixel(x: number, y: number): [number, number, number];
}

function decodePng(png: Buffer): Image {
  assert.equal(png.subarray(0, 8).toString('hex'), '89504e470d0a1a0a', 'a PNG signature');
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  for (let p = 8; p < png.length; ) {
    const len = png.readUInt32BE(p);
    const type = png.toString('latin1', p + 4, p + 8);
    const data = png.subarray(p + 8, p + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      assert.equal(data[8], 8, 'bit depth 8');
      assert.ok(data[9] === 2 || data[9] === 6, `colour type ${data[9]}`);
      assert.equal(data[12], 0, 'not interlaced');
      channels = data[9] === 6 ? 4 : 3;
    } else if (type === 'IDAT') {
      idat.push(data);
    }
    p += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const out = Buffer.alloc(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? out[y * stride + i - channels] : 0;
      const b = y > 0 ? out[(y - 1) * stride + i] : 0;
      const c = i >= channels && y > 0 ? out[(y - 1) * stride + i - channels] : 0;
      let v = line[i];
      if (filter === 1) v += a;
      else if (filter === 2) v += b;
      else if (filter === 3) v += (a + b) >> 1;
      else if (filter === 4) {
        const pa = Math.abs(b - c);
        const pb = Math.abs(a - c);
        const pc = Math.abs(a + b - 2 * c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      out[y * stride + i] = v & 255;
    }
  }
  return {
    width,
    height,
    pixel(x, y) {
      const o = Math.round(y) * stride + Math.round(x) * channels;
      // Transparent pixels are the background; composite RGBA on white.
      const alpha = channels === 4 ? out[o + 3] / 255 : 1;
      return [0, 1, 2].map((k) => Math.round(out[o + k] * alpha + 255 * (1 - alpha))) as [number, number, number];
    },
  };
}

function rgb(hex: string): [number, number, number] {
  return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
}

function near(actual: [number, number, number], hex: string, what: string): void {
  const want = rgb(hex);
  assert.ok(
    actual.every((v, i) => Math.abs(v - want[i]) <= 12),
    `${what}: pixel rgb(${actual.join(',')}) is not ${hex}`,
  );
}

/** A thin line may fall between pixels: the best of x-1, x and x+1. */
function nearLine(image: Image, x: number, y: number, hex: string, what: string): void {
  const want = rgb(hex);
  const dist = (p: [number, number, number]): number => Math.max(...p.map((v, i) => Math.abs(v - want[i])));
  const best = [x - 1, x, x + 1].map((px) => image.pixel(px, y)).sort((a, b) => dist(a) - dist(b))[0];
  near(best, hex, what);
}

function unescapeXml(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
}

// ---- the history ----

const T = 1700000000; // Tue Nov 14 22:13:20 2023 UTC
const H = 3600;
const EVIL_USER = 'x<script>&"\x1b]0;t\x07';
const EVIL_HOST = 'h\n</svg>\u00ff\u0085\uFFFF';

const WTMP: EntryInput[] = [
  { type: 'BOOT_TIME', pid: 0, line: '~', id: '~~', user: 'reboot', host: '6.1', tvSec: T },
  { type: 'USER_PROCESS', pid: 700, line: 'tty1', id: '1', user: 'alice', tvSec: T + 1 * H },
  { type: 'USER_PROCESS', pid: 701, line: 'pts/0', id: 'ts/0', user: 'bob', host: '192.0.2.10', address: '192.0.2.10', tvSec: T + 2 * H },
  { type: 'DEAD_PROCESS', pid: 701, line: 'pts/0', id: 'ts/0', tvSec: T + 4 * H },
  { type: 'USER_PROCESS', pid: 702, line: 'pts/1', id: 'ts/1', user: EVIL_USER, host: EVIL_HOST, tvSec: T + 5 * H },
  { type: 'DEAD_PROCESS', pid: 702, line: 'pts/1', id: 'ts/1', tvSec: T + 6 * H },
  // No shutdown before this boot: a crash; alice's session ends there.
  { type: 'BOOT_TIME', pid: 0, line: '~', id: '~~', user: 'reboot', host: '6.1', tvSec: T + 8 * H },
  { type: 'USER_PROCESS', pid: 703, line: 'pts/0', id: 'ts/0', user: 'bob', host: 'h.example', tvSec: T + 9 * H },
  { type: 'RUN_LVL', pid: 0, line: '~', id: '~~', user: 'shutdown', host: '6.1', tvSec: T + 12 * H },
  { type: 'BOOT_TIME', pid: 0, line: '~', id: '~~', user: 'reboot', host: '6.1', tvSec: T + 13 * H },
  { type: 'USER_PROCESS', pid: 704, line: 'pts/2', id: 'ts/2', user: 'carol', tvSec: T + 14 * H },
];

const BTMP: EntryInput[] = [
  { type: 'LOGIN_PROCESS', pid: 9, line: 'ssh:notty', user: 'root', host: '203.0.113.5', tvSec: T + 3 * H },
  { type: 'LOGIN_PROCESS', pid: 9, line: 'ssh:notty', user: 'admin', host: '203.0.113.5', tvSec: T + 3 * H + 600 },
  { type: 'LOGIN_PROCESS', pid: 9, line: 'ssh:notty', user: 'oracle', host: '203.0.113.5', tvSec: T + 10 * H },
  { type: 'LOGIN_PROCESS', pid: 9, line: 'ssh:notty', user: 'late', host: '203.0.113.5', tvSec: T + 40 * H }, // after --until
];

const SINCE = T - H; // 2023-11-14 21:13:20
const UNTIL = T + 16 * H; // 2023-11-15 14:13:20
const isoArg = (t: number): string => new Date(t * 1000).toISOString().slice(0, 19);

let dir: string;
let wtmp: string;
let btmp: string;
let svg: string;
let image: Image;

before(async () => {
  dir = await mkdtemp('/tmp/tl-');
  wtmp = join(dir, 'wtmp');
  btmp = join(dir, 'btmp');
  await writeFile(wtmp, Buffer.concat(WTMP.map((r) => buildRecord(r, GLIBC_LAYOUT))));
  await writeFile(btmp, Buffer.concat(BTMP.map((r) => buildRecord(r, GLIBC_LAYOUT))));
  const out = join(dir, 'tl.svg');
  const r = await utmps('timeline', '--svg', out, '-f', wtmp, '--btmp', btmp, '--since', isoArg(SINCE), '--until', isoArg(UNTIL));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  svg = await readFile(out, 'utf8');
  const png = join(dir, 'tl.png');
  const rs = await run('rsvg-convert', ['-f', 'png', '-o', png, out]);
  assert.equal(rs.code, 0, `rsvg-convert refused the SVG: ${rs.stderr}`);
  image = decodePng(await readFile(png));
});
after(() => rm(dir, { recursive: true, force: true }));

const G = GEOMETRY;
const xAt = (t: number): number => G.left + ((t - SINCE) / (UNTIL - SINCE)) * (G.width - G.left - G.right);
// Rows by user, sorted by bytes: alice, bob, carol, the evil name ("x<...").
const ROWS = ['alice', 'bob', 'carol', EVIL_USER];
const yAt = (row: number): number => G.top + row * G.rowHeight + G.rowHeight / 2;

describe('utmps timeline --svg: the SVG', () => {
  test('one bar per session util-linux last lists, with its title (user, line, host, login – end)', async () => {
    const theirs = await run('last', ['-R', '-f', wtmp]); // -R: the host with a newline stays out
    const logins = theirs.stdout.split('\n').filter((l) => l !== '' && !l.startsWith('reboot ') && !l.startsWith('wtmp begins'));
    const bars = [...svg.matchAll(/<rect class="session"[^>]*><title>([^<]*)<\/title><\/rect>/g)].map((m) => unescapeXml(m[1]));
    assert.equal(bars.length, logins.length);
    // The titles say what utmps last --json says about each session (the same pairing).
    const doc = JSON.parse(Buffer.from((await utmps('last', '--json', '-f', wtmp)).stdout, 'latin1').toString('utf8')) as {
      files: Array<{ sessions: Array<{ kind: string; user: string; line: string; host: string; login: { time: string }; logout: { time: string } | null; status: string }> }>;
    };
    // Controls as \xHH (a C1 control: both its UTF-8 bytes), as `last` shows them.
    const hex = (n: number): string => `\\x${n.toString(16).padStart(2, '0')}`;
    const esc = (s: string): string => s.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => (c.charCodeAt(0) >= 0x80 ? hex(0xc2) : '') + hex(c.charCodeAt(0)));
    const want = doc.files[0].sessions
      .filter((s) => s.kind === 'login')
      .map((s) => `${esc(s.user)} on ${s.line}${s.host === '' ? '' : ` from ${esc(s.host)}`}: ${s.login.time} – ${s.logout ? `${s.logout.time} ` : ''}(${s.status})`);
    assert.deepEqual(
      [...bars].sort(),
      want.map((w) => w.replace(/\uFFFF/g, '\uFFFD')).sort(),
    );
    assert.ok(bars.includes('alice on tty1: 2023-11-14T23:13:20+00:00 – 2023-11-15T06:13:20+00:00 (crash)'), bars.join('\n'));
    assert.ok(bars.includes('carol on pts/2: 2023-11-15T12:13:20+00:00 – (still logged in)') || bars.some((b) => b.startsWith('carol on pts/2: 2023-11-15T12:13:20+00:00 – (gone')));
  });

  test('marks: three boots, one shutdown, one crash at the boot that followed no shutdown', () => {
    const marks = [...svg.matchAll(/<line class="mark (\w+)"[^>]*><title>([^<]*)<\/title>/g)].map((m) => [m[1], m[2]]);
    assert.deepEqual(marks.filter(([k]) => k === 'boot').length, 3);
    assert.deepEqual(
      marks.filter(([k]) => k !== 'boot'),
      [
        ['crash', 'crash (before the boot at 2023-11-15T06:13:20+00:00)'],
        ['shutdown', 'system down at 2023-11-15T10:13:20+00:00'],
      ],
    );
  });

  test('failed logins: a tick for each btmp record inside the window', () => {
    const ticks = [...svg.matchAll(/<line class="failed"[^>]*><title>([^<]*)<\/title>/g)].map((m) => m[1]);
    assert.deepEqual(ticks, [
      'failed login: root from 203.0.113.5 at 2023-11-15T01:13:20+00:00',
      'failed login: admin from 203.0.113.5 at 2023-11-15T01:23:20+00:00',
      'failed login: oracle from 203.0.113.5 at 2023-11-15T08:13:20+00:00',
    ]);
  });

  test('record text is escaped: no markup, no raw control characters (SECURITY promise 25)', () => {
    assert.ok(!svg.includes('<script'), 'markup from a record');
    assert.equal(svg.match(/<\/svg>/g)?.length, 1);
    assert.doesNotMatch(svg, /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\uFFFE\uFFFF]/);
    assert.match(svg, /x&lt;script&gt;&amp;&quot;\\x1b\]0;t\\x07 on pts\/1 from h\\x0a&lt;\/svg&gt;/);
    // The axis: round hours with the day under the first tick of each day.
    assert.match(svg, /<text class="tick"[^>]*>00:00<\/text>/);
    assert.match(svg, /<text class="day"[^>]*>Nov 15 2023<\/text>/);
  });
});

describe('utmps timeline --svg: the picture (rsvg-convert)', () => {
  test('rendered at the SVG\'s size', () => {
    assert.equal(image.width, G.width);
    assert.equal(image.height, G.top + (ROWS.length + 1) * G.rowHeight + G.axisHeight);
  });

  test('bars where sessions are, background where none are', () => {
    near(image.pixel(xAt(T + 1.5 * H), yAt(0)), COLORS.session, 'alice at 23:43');
    near(image.pixel(xAt(T + 7.5 * H), yAt(0)), COLORS.session, 'alice just before the crash');
    near(image.pixel(xAt(T + 3 * H), yAt(1)), COLORS.session, 'bob at 01:13');
    near(image.pixel(xAt(T + 10.5 * H), yAt(1)), COLORS.session, 'bob after the crash');
    near(image.pixel(xAt(T + 15 * H), yAt(2)), COLORS.open, 'carol, still logged in');
    near(image.pixel(xAt(T + 5.5 * H), yAt(3)), COLORS.session, 'the escaped user');
    // No session: alice after the crash, bob between his sessions, carol before hers.
    near(image.pixel(xAt(T + 10.2 * H), yAt(0)), COLORS.background, 'alice after the crash');
    near(image.pixel(xAt(T + 6.5 * H), yAt(1)), COLORS.background, 'bob between sessions');
    near(image.pixel(xAt(T + 12.5 * H), yAt(2)), COLORS.background, 'carol before her login');
    near(image.pixel(xAt(T + 0.5 * H), yAt(3)), COLORS.background, 'nothing at the start');
  });

  test('marks and ticks in their colours', () => {
    // Between rows' bars: the boot at T in a row with no bar then.
    nearLine(image, xAt(T), yAt(2), COLORS.boot, 'the first boot');
    nearLine(image, xAt(T + 8 * H), yAt(2), COLORS.crash, 'the crash');
    nearLine(image, xAt(T + 13 * H), yAt(2), COLORS.boot, 'the boot after the shutdown');
    nearLine(image, xAt(T + 10 * H), yAt(ROWS.length), COLORS.failed, 'a failed login');
    near(image.pixel(xAt(T + 6 * H), yAt(ROWS.length)), COLORS.background, 'no failed login');
  });
});

describe('utmps timeline: options', () => {
  test('--by line: one row per line; without a readable btmp, a warning and no failed row', async () => {
    const out = join(dir, 'by-line.svg');
    const r = await utmps('timeline', '--svg', out, '--by', 'line', '-f', wtmp, '--btmp', join(dir, 'no-btmp'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^utmps: warning: no failed logins in the picture: unable to read .*no-btmp: No such file or directory\n$/);
    const text = await readFile(out, 'utf8');
    const rows = [...text.matchAll(/<text class="row"[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
    assert.deepEqual(rows, ['pts/0', 'pts/1', 'pts/2', 'tty1']);
    assert.equal((await run('rsvg-convert', ['-f', 'png', '-o', join(dir, 'by-line.png'), out])).code, 0);
    // To standard output, and a week-long window labels days.
    const week = await utmps('timeline', '--svg', '-', '-f', wtmp, '--no-btmp', '-s', isoArg(T - 3 * 86400), '-t', isoArg(T + 4 * 86400));
    assert.equal(week.code, 0, week.stderr);
    assert.match(week.stdout, /<text class="tick"[^>]*>Nov 14<\/text>/);
    assert.equal((await utmps('timeline', '-f', wtmp)).code, 100);
    assert.equal((await utmps('timeline', '--svg', '-', '--by', 'host', '-f', wtmp)).code, 100);
  });
});
