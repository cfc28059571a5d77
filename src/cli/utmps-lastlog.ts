// utmps lastlog: each user's latest login, like shadow lastlog, but derived from wtmp
// (there is no lastlog file to keep): read newest first through the wtmpd socket's read
// extension, or from -f files, in blocks. Users come from the passwd file (in its order),
// then every user wtmp names that passwd does not (SSSD, LDAP, deleted accounts), by
// name. NSS is asked only about users named with -u. Differences: docs/READERS.md.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { wtmpdSocketPath } from '../client/paths.js';
import { terminalSafeJson } from '../format/text.js';
import { LASTLOG_HEADER, type LastlogRow, lastlogJson, lastlogLine, LatestLogins } from '../format/lastlog.js';
import { UTMPS_LAYOUT } from '../record/layout.js';
import { FileSource, type RecordSource, SocketSource } from './record-source.js';
import { Exit, EXIT_REFUSED, fatalError, formatOption, Output, parseOptions, reason, valueError, writeAll } from './utmps-io.js';

const VERSION = '0.1.0';

const USAGE = 'utmps lastlog [ -u login|uid|uid1-uid2 ] [ -b days ] [ -t days ] [ -W wtmpd-socket | -f file... ] [ --format utmps|glibc ] [ --passwd file ] [ --json ]';

const HELP = `usage: ${USAGE}

Shows each user's latest login (shadow lastlog's columns), derived from wtmp.
  -u, --user WHO         only this login name (passwd, NSS, or seen in wtmp), uid,
                         or uid range (UID1-UID2, UID1-, -UID2)
  -b, --before DAYS      only users whose latest login is older than DAYS days
                         (users who never logged in included)
  -t, --time DAYS        only users who logged in within the last DAYS days
  -f, --file FILE        read the wtmp FILE (repeatable) instead of the wtmpd socket
  -W, --socket PATH      wtmpd socket (default $UTMPS_WTMPD_SOCKET, else
                         /run/utmps/.wtmpd-socket)
      --format F         the files' layout, utmps or glibc (default: detected)
      --passwd FILE      the user list (default /etc/passwd)
      --json             a JSON array of {user, line, host, time (ISO 8601 or null)}
  -V, --version          print the version
  -h, --help             print this help
`;

const OPTIONS = {
  user: { type: 'string', short: 'u' },
  before: { type: 'string', short: 'b' },
  time: { type: 'string', short: 't' },
  file: { type: 'string', short: 'f', multiple: true },
  socket: { type: 'string', short: 'W' },
  format: { type: 'string' },
  passwd: { type: 'string' },
  json: { type: 'boolean' },
  version: { type: 'boolean', short: 'V' },
  help: { type: 'boolean', short: 'h' },
} as const;

interface PasswdUser {
  /** latin1 byte string, as ut_user compares. */
  name: string;
  uid: number;
}

/** The files source of passwd, read as getent would list it (NIS "+"/"-" lines skipped). */
function readPasswd(path: string): PasswdUser[] {
  let text: string;
  try {
    text = readFileSync(path, 'latin1');
  } catch (e) {
    throw fatalError(`unable to read ${path}: ${reason(e)}`);
  }
  const users: PasswdUser[] = [];
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 4 || f[0] === '' || f[0].startsWith('+') || f[0].startsWith('-') || !/^\d+$/.test(f[2])) continue;
    if (names.has(f[0])) continue; // the first entry wins, as with getpwnam
    names.add(f[0]);
    users.push({ name: f[0], uid: Number(f[2]) });
  }
  return users;
}

function days(text: string | undefined, option: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d{1,9}$/.test(text)) throw valueError(`invalid number of days for ${option}: ${text}`);
  return Number(text) * 86_400;
}

/** -u's uid forms: N, N-M, N-, -M; null when the text is none of them. */
function uidRange(text: string): [number, number] | null {
  const m = /^(\d*)-(\d*)$/.exec(text);
  if (m && (m[1] !== '' || m[2] !== '')) return [m[1] === '' ? 0 : Number(m[1]), m[2] === '' ? Number.MAX_SAFE_INTEGER : Number(m[2])];
  if (/^\d+$/.test(text)) return [Number(text), Number(text)];
  return null;
}

/** getpwnam / getpwuid through NSS (the addon), for -u only; null when unavailable. */
async function nssName(who: string, range: [number, number] | null): Promise<string | null> {
  try {
    const native = await import('../sys/native.js');
    if (!/^\d+$/.test(who) || range === null) return native.lookupUserByNameSync(who)?.name ?? null;
    const byName = native.lookupUserByNameSync(who);
    if (byName) return byName.name;
    return range[0] === range[1] ? (native.lookupUserByUid(range[0])?.name ?? null) : null;
  } catch {
    return null;
  }
}

export async function run(argv: string[]): Promise<number> {
  const { values: v } = parseOptions(() => parseArgs({ args: argv, options: OPTIONS, allowPositionals: false, strict: true }), USAGE);
  if (v.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (v.version) {
    process.stdout.write(`utmps lastlog from utmps-ts ${VERSION}\n`);
    return 0;
  }
  const layout = formatOption(v.format);
  const newer = days(v.time, '-t');
  const older = days(v.before, '-b');
  const passwd = readPasswd(v.passwd ?? '/etc/passwd');
  const latin1 = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');

  // Whom to list: everyone (passwd, then wtmp's others), or -u's user(s).
  let listed: string[] | null = null;
  let wanted: Set<string> | null = null;
  if (v.user !== undefined) {
    const who = latin1(v.user);
    const range = uidRange(v.user);
    const byName = passwd.find((p) => p.name === who);
    if (byName) listed = [who];
    else if (range) listed = passwd.filter((p) => p.uid >= range[0] && p.uid <= range[1]).map((p) => p.name);
    if (!listed || listed.length === 0) {
      const nss = await nssName(v.user, range);
      // Not in passwd or NSS: still a user if wtmp names them (looked for below).
      listed = [nss === null ? who : latin1(nss)];
    }
    wanted = new Set(listed);
  }

  const latest = new LatestLogins();
  const paths = v.file ?? [wtmpdSocketPath(v.socket)];
  for (const path of paths) {
    let src: RecordSource;
    try {
      src = v.file ? new FileSource(path, layout) : new SocketSource(path, 'wtmp');
    } catch (e) {
      throw fatalError(`unable to open ${path}: ${reason(e)}`);
    }
    // Several files: each one's latest logins, the later one kept.
    const mine = paths.length > 1 ? new LatestLogins() : latest;
    try {
      read: for await (const { buf, count } of src.blocks()) {
        for (let i = count - 1; i >= 0; i--) mine.push(buf, i * UTMPS_LAYOUT.size);
        // Only named users asked for: done once each is found.
        if (wanted && [...wanted].every((u) => mine.byUser.has(u))) break read;
      }
    } catch (e) {
      if (e instanceof Exit) throw e;
      throw fatalError(`unable to read ${path}: ${reason(e)}`);
    } finally {
      src.close();
    }
    if (mine !== latest) {
      for (const [user, l] of mine.byUser) {
        const had = latest.byUser.get(user);
        if (!had || l.time > had.time) latest.byUser.set(user, l);
      }
    }
  }

  let rows: LastlogRow[];
  if (listed) {
    const known = new Set(passwd.map((p) => p.name));
    rows = listed.map((user) => ({ user, login: latest.byUser.get(user) ?? null }));
    // A name nobody knows: not in passwd, NSS or wtmp (shadow says the same).
    if (rows.length === 1 && rows[0].login === null && !known.has(rows[0].user) && !(await nssKnown(rows[0].user))) {
      throw new Exit(EXIT_REFUSED, `fatal: unknown user or range: ${v.user}`);
    }
  } else {
    const inPasswd = new Set(passwd.map((p) => p.name));
    const others = [...latest.byUser.keys()].filter((u) => !inPasswd.has(u)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    rows = [...passwd.map((p) => p.name), ...others].map((user) => ({ user, login: latest.byUser.get(user) ?? null }));
  }

  // shadow's -t / -b: by the age of the latest login ("never" is older than any -b).
  const now = Math.floor(Date.now() / 1000);
  rows = rows.filter((r) => {
    const t = r.login?.time ?? 0;
    if (newer !== undefined && now - t > newer) return false;
    if (older !== undefined && now - t < older) return false;
    return true;
  });

  if (v.json) {
    writeAll(1, Buffer.from(`${terminalSafeJson(JSON.stringify(rows.map(lastlogJson)))}\n`, 'utf8'));
    return 0;
  }
  const out = new Output();
  if (rows.length > 0) out.line(LASTLOG_HEADER);
  for (const r of rows) out.line(lastlogLine(r));
  out.flush();
  return 0;
}

async function nssKnown(user: string): Promise<boolean> {
  return (await nssName(Buffer.from(user, 'latin1').toString('utf8'), null)) !== null;
}
