// utmpsd: the utmp, wtmp and btmp services in one long-running server. See docs/UTMPSD.md.

import { closeSync, fstatSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { resolveLocations } from '../server/config.js';
import { DEFAULT_LIMITS, DEFAULT_MAX_FOLLOWERS_PER_UID, defaultRootReserve } from '../server/limits.js';
import { DEFAULT_FOLLOW_TIMEOUT_MS } from '../server/wtmp-read.js';
import { DEFAULT_READS_PER_UID } from '../server/read-slots.js';
import { BTMP_MODE, warnLooseBtmp } from '../server/btmp-service.js';
import { type ServiceName, systemdSockets } from '../server/listen.js';
import { Logger } from '../server/log.js';
import { countOption, SHARED_OPTIONS, sharedConfig, systemPolicy } from '../server/options.js';
import { DEFAULT_RATE_LIMIT, RateLimiter } from '../server/rate-limit.js';
import { becomeUser, resolveIdentity, type Identity } from '../server/privileges.js';
import { notifyFd, sdNotify } from '../server/readiness.js';
import { DEFAULT_TIMEOUTS } from '../server/session.js';
import { checkOpenedFile, handOverFds, openStateDir } from '../server/state-dir.js';
import { Utmpsd } from '../server/utmpsd.js';
import { DEFAULT_REAP_GRACE_MS, DEFAULT_REAP_POLL_MS, Reaper } from '../server/reaper.js';
import { openFileLimit } from '../host/liveness.js';
import { UtmpFile } from '../store/utmp-file.js';
import { defaultCreateMode } from '../store/open.js';
import { DEFAULT_LOCK_TIMEOUT_MS } from '../store/record-file.js';
import { WtmpFile } from '../store/wtmp-file.js';
import { WtmpSeal } from '../store/wtmp-seal.js';
import { nativeProblem } from '../sys/native.js';

const USAGE = `usage: utmpsd [options]
  --state-dir DIR            sockets and files go here (default: /run/utmps as root,
                             else $XDG_RUNTIME_DIR/utmps or ./.utmps)
  --utmpd-socket PATH        utmp service socket (default STATE/.utmpd-socket)
  --wtmpd-socket PATH        wtmp service socket (default STATE/.wtmpd-socket)
  --btmpd-socket PATH        btmp (failed logins) service socket, root only
                             (default STATE/.btmpd-socket)
  --utmp-file PATH           utmp file (default STATE/utmp)
  --wtmp-file PATH           wtmp file (default /var/log/wtmp as root, else STATE/wtmp)
  --btmp-file PATH           btmp file, created mode 0600 whatever --file-mode says
                             (default /var/log/btmp as root, else STATE/btmp)
  --no-btmp                  no btmp service: no socket, btmp is not opened
  -F, --format utmps|glibc   on-disk record layout (default utmps)
  --user USER [--group GRP]  as root: become USER after creating sockets and files;
                             without --group, USER's group if no one else shares it
  -c, --max-connections N    total connections (default ${DEFAULT_LIMITS.maxConnections})
  -C, --max-per-uid N        connections per non-root uid (default ${DEFAULT_LIMITS.maxPerUid})
  --root-reserve N           of the -c connections, how many only root may use
                             (default: a tenth, at least 1, at most 20)
  --max-followers-per-uid N  wtmp followers per non-root uid (default ${DEFAULT_MAX_FOLLOWERS_PER_UID})
  --follow-timeout MS        close a wtmp follower sent nothing this long
                             (default ${DEFAULT_FOLLOW_TIMEOUT_MS}; 0: never)
  --max-reads-per-uid N      wtmp histories a non-root uid is read at once; more wait
                             their turn (default ${DEFAULT_READS_PER_UID})
  -t, --timeout MS           deadline for each request body and answer
                             (default ${DEFAULT_TIMEOUTS.bodyMs}; 0: none)
  -i, --idle-timeout MS      close connections idle this long (default 0: never)
  -L, --lock-timeout MS      longest wait for another process's file lock (default ${DEFAULT_LOCK_TIMEOUT_MS})
  --rate-limit N             writes per minute per non-root uid (default ${DEFAULT_RATE_LIMIT.perMinute}; 0: no limit)
  --rate-burst N             writes a non-root uid may make at once (default ${DEFAULT_RATE_LIMIT.burst})
  --private-reads            wtmp reads: non-root peers see only their own records
  --file-mode OCTAL          mode of files utmpsd creates (default 0640 for -F utmps,
                             0644 for -F glibc, which system tools read directly);
                             world-writable modes are refused
  --seal-key FILE            seal wtmp forward-securely with the key state FILE (from
                             utmps seal init); seals go to WTMP.seal (docs/SEALING.md)
  --no-reap                  do not end the utmp sessions whose process died
                             without logging out (docs/REAPING.md)
  --reap-with pidfd|proc     how to learn of a process's exit: a pidfd (default),
                             or a look in /proc every --reap-poll ms
  --reap-poll MS             /proc check interval where pidfds are unavailable
                             (default ${DEFAULT_REAP_POLL_MS})
  --reap-grace MS            time a login program has to log out a session itself
                             after its process exits (default ${DEFAULT_REAP_GRACE_MS}; 0: none)
  --notify-fd N              write a newline to fd N and close it once ready (s6)
  -v, --verbose | -q, --quiet
  -h, --help`;

/**
 * Watches may use the fds no connection can need: the open-file limit less every
 * connection, and a margin for the files, sockets and Node's own.
 */
function pidfdBudget(connections: number): number {
  const limit = openFileLimit();
  return limit === null ? 0 : Math.max(0, limit - connections - 256);
}

function die(code: number, message: string): never {
  process.stderr.write(`utmpsd: fatal: ${message}\n`);
  process.exit(code);
}

/** Runs a parse step; a bad option is a usage error. */
function usage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    return die(100, `${(e as Error).message}\n${USAGE}`);
  }
}

function count(name: string, text: string | undefined, fallback: number, min = 0): number {
  return usage(() => countOption(name, text, fallback, min));
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      'state-dir': { type: 'string' },
      'utmpd-socket': { type: 'string' },
      'wtmpd-socket': { type: 'string' },
      'btmpd-socket': { type: 'string' },
      'utmp-file': { type: 'string' },
      'wtmp-file': { type: 'string' },
      'btmp-file': { type: 'string' },
      'no-btmp': { type: 'boolean' },
      ...SHARED_OPTIONS,
      user: { type: 'string' },
      group: { type: 'string' },
      'max-connections': { type: 'string', short: 'c' },
      'max-per-uid': { type: 'string', short: 'C' },
      'root-reserve': { type: 'string' },
      'max-followers-per-uid': { type: 'string' },
      'follow-timeout': { type: 'string' },
      'max-reads-per-uid': { type: 'string' },
      'notify-fd': { type: 'string' },
      'seal-key': { type: 'string' },
      'rate-limit': { type: 'string' },
      'rate-burst': { type: 'string' },
      'file-mode': { type: 'string' },
      'private-reads': { type: 'boolean' },
      'no-reap': { type: 'boolean' },
      'reap-with': { type: 'string' },
      'reap-poll': { type: 'string' },
      'reap-grace': { type: 'string' },
      verbose: { type: 'boolean', short: 'v' },
      quiet: { type: 'boolean', short: 'q' },
    },
  }));
} catch (e) {
  die(100, `${(e as Error).message}\n${USAGE}`);
}
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
// The addon is optional at install time (the client needs none); the server does need it.
const missingNative = nativeProblem();
if (missingNative !== undefined) die(111, missingNative);

for (const name of ['state-dir', 'utmpd-socket', 'wtmpd-socket', 'btmpd-socket', 'utmp-file', 'wtmp-file', 'btmp-file'] as const) {
  // An empty path would quietly mean the working directory.
  if (values[name] === '') die(100, `--${name} must not be empty${name.startsWith('btmp') ? ' (--no-btmp turns btmp off)' : ''}\n${USAGE}`);
}
const withBtmp = !values['no-btmp'];
const log = new Logger('utmpsd', values.quiet ? 'quiet' : values.verbose ? 'verbose' : 'normal');
const where = resolveLocations(
  {
    stateDir: values['state-dir'],
    utmpSocket: values['utmpd-socket'],
    wtmpSocket: values['wtmpd-socket'],
    btmpSocket: values['btmpd-socket'],
    utmpFile: values['utmp-file'],
    wtmpFile: values['wtmp-file'],
    btmpFile: values['btmp-file'],
  },
  process.geteuid!(),
);
const { timeouts, lockTimeoutMs, layout } = usage(() => sharedConfig(values));
const maxConnections = count('--max-connections', values['max-connections'], DEFAULT_LIMITS.maxConnections, 1);
const limits = {
  maxConnections,
  maxPerUid: count('--max-per-uid', values['max-per-uid'], DEFAULT_LIMITS.maxPerUid, 1),
  rootReserve: count('--root-reserve', values['root-reserve'], defaultRootReserve(maxConnections)),
  maxFollowersPerUid: count('--max-followers-per-uid', values['max-followers-per-uid'], DEFAULT_MAX_FOLLOWERS_PER_UID),
};
if (limits.rootReserve >= maxConnections) die(100, `--root-reserve must be below --max-connections (${maxConnections})`);
const followTimeoutMs = count('--follow-timeout', values['follow-timeout'], DEFAULT_FOLLOW_TIMEOUT_MS);
const readsPerUid = count('--max-reads-per-uid', values['max-reads-per-uid'], DEFAULT_READS_PER_UID, 1);
const rateLimit = {
  perMinute: count('--rate-limit', values['rate-limit'], DEFAULT_RATE_LIMIT.perMinute),
  burst: count('--rate-burst', values['rate-burst'], DEFAULT_RATE_LIMIT.burst, 1),
};
// utmps-layout files are read only through the daemons: no one else needs to open them
// (and whoever can open one can lock it). glibc-layout files are read directly by last,
// who and login, so they stay world-readable.
const modeText = values['file-mode'] ?? `0${defaultCreateMode(layout).toString(8)}`;
if (!/^0?[0-7]{3}$/.test(modeText)) die(100, `--file-mode must be an octal mode like 0640, got '${modeText}'`);
const fileMode = parseInt(modeText, 8);
if ((fileMode & 0o002) !== 0) {
  die(100, `--file-mode ${modeText} lets every user forge and erase records; use 0640, or 0644 for files system tools read`);
}
if ((fileMode & 0o020) !== 0) {
  log.warn(`--file-mode ${modeText}: every member of the files' group can forge and erase records without asking the daemon`);
}
const reapWith = values['reap-with'] ?? 'pidfd';
if (reapWith !== 'pidfd' && reapWith !== 'proc') die(100, `--reap-with must be pidfd or proc, got '${reapWith}'`);
const reapPollMs = count('--reap-poll', values['reap-poll'], DEFAULT_REAP_POLL_MS, 1);
const reapGraceMs = count('--reap-grace', values['reap-grace'], DEFAULT_REAP_GRACE_MS, 0);
const notifyFdNumber = values['notify-fd'] === undefined ? undefined : count('--notify-fd', values['notify-fd'], 0, 3);
let identity: Identity | undefined;
if (values.user !== undefined) {
  if (process.geteuid!() !== 0) die(100, '--user needs root');
  try {
    identity = resolveIdentity(values.user, values.group);
  } catch (e) {
    die(100, (e as Error).message);
  }
}

const fileOptions = { layout, mode: fileMode, lockTimeoutMs, warn: (m: string) => log.warn(m) };
const trust = { euid: process.geteuid!(), serviceUid: identity?.uid };
let stateDirFd: number;
try {
  stateDirFd = openStateDir(where.stateDir, trust, (m) => log.warn(m));
} catch (e) {
  die(111, `unable to start: ${(e as Error).message}`);
}
let server: Utmpsd;
try {
  const utmp = await UtmpFile.open(where.utmpFile, fileOptions);
  const wtmp = await WtmpFile.open(where.wtmpFile, fileOptions);
  // Failed logins: 0600 whatever --file-mode says; an existing file keeps its mode.
  const btmp = withBtmp ? await WtmpFile.open(where.btmpFile, { ...fileOptions, mode: BTMP_MODE }) : undefined;
  if (btmp) warnLooseBtmp(where.btmpFile, btmp.fd, (m) => log.warn(m));
  const files = [
    { path: where.utmpFile, file: utmp },
    { path: where.wtmpFile, file: wtmp },
    ...(btmp ? [{ path: where.btmpFile, file: btmp }] : []),
  ];
  if (trust.euid === 0) for (const { path, file } of files) checkOpenedFile(path, file.fd, trust);
  if (values['private-reads'] && (fstatSync(wtmp.fd).mode & 0o004) !== 0) {
    log.warn(
      `--private-reads: ${where.wtmpFile} is readable by every user (mode 0${(fstatSync(wtmp.fd).mode & 0o777).toString(8)}), ` +
        'who can read all its records directly; chmod o-r it, or use --file-mode 0640 when utmpsd creates it',
    );
  }
  let seal: WtmpSeal | undefined;
  if (values['seal-key'] !== undefined) {
    seal = await WtmpSeal.open(values['seal-key'], where.wtmpFile, {
      mode: fileMode,
      warn: (m) => log.warn(m),
      ...(trust.euid === 0 && { checkSidecar: (path: string, fd: number) => checkOpenedFile(path, fd, trust) }),
    });
    await wtmp.startSealing(seal, (e) => log.error(`unable to seal wtmp: ${e.message}`));
  }
  const policy = systemPolicy({ rateLimiter: new RateLimiter(rateLimit), privateReads: values['private-reads'] ?? false });
  const inherited = systemdSockets();
  const socketFor = (service: ServiceName, path: string) => {
    const fd = inherited?.get(service);
    return fd === undefined ? { path } : { fd };
  };
  const reaper = values['no-reap']
    ? undefined
    : await Reaper.start({ utmp, wtmp, log, pollMs: reapPollMs, graceMs: reapGraceMs, pidfds: reapWith === 'pidfd', maxPidfds: pidfdBudget(maxConnections) });
  server = await Utmpsd.start({
    sockets: {
      utmp: socketFor('utmp', where.utmpSocket),
      wtmp: socketFor('wtmp', where.wtmpSocket),
      ...(btmp && { btmp: socketFor('btmp', where.btmpSocket) }),
    },
    reaper,
    utmp,
    wtmp,
    btmp,
    policy,
    timeouts,
    limits,
    followTimeoutMs,
    readsPerUid,
    log,
  });
  if (identity) {
    // Through descriptors only: every name in the state directory may be a link by now.
    // The sockets stay root's, mode 0666; the service account can still remove them.
    // The seal key stays root's: the account writes it through the descriptor held open.
    handOverFds([...files.map(({ file }) => file.fd), stateDirFd, ...(seal ? [seal.sidecarFd] : [])], identity.uid, identity.gid);
    becomeUser(identity);
  }
  closeSync(stateDirFd);
  process.on('SIGHUP', () => {
    log.notice(`SIGHUP: the next appends reopen ${where.wtmpFile}${btmp ? ` and ${where.btmpFile}` : ''}`);
    wtmp.reopen();
    btmp?.reopen();
  });
} catch (e) {
  die(111, `unable to start: ${(e as Error).message}`);
}

let exiting = false;
const stop = (signal: string): void => {
  if (exiting) return;
  exiting = true;
  log.info(`${signal}: finishing requests in flight`);
  try {
    sdNotify('STOPPING=1');
  } catch {
    // the supervisor may be gone already
  }
  server.stop().then(
    () => process.exit(0),
    (e: Error) => die(111, `unable to stop cleanly: ${e.message}`),
  );
};
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));

log.notice(
  `ready: ${server.describeSockets().join(', ')}` +
    ` (utmp file ${where.utmpFile}, wtmp file ${where.wtmpFile}${withBtmp ? `, btmp file ${where.btmpFile}` : ''})`,
);
if (process.stderr.isTTY) {
  const btmpHint = withBtmp ? ` UTMPS_BTMPD_SOCKET=${where.btmpSocket}` : '';
  process.stderr.write(`  export UTMPS_UTMPD_SOCKET=${where.utmpSocket} UTMPS_WTMPD_SOCKET=${where.wtmpSocket}${btmpHint}\n`);
}
try {
  if (notifyFdNumber !== undefined) notifyFd(notifyFdNumber);
  sdNotify(`READY=1\nMAINPID=${process.pid}`);
} catch (e) {
  log.error(`unable to signal readiness: ${(e as Error).message}`);
}
