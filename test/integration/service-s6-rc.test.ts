// The s6-rc source definitions of examples/s6-rc. Two sources, compiled one at a time
// (both define the bundle `utmps`, so dependants need not know which one is installed):
// classic/ (utmps-utmpd, utmps-wtmpd and utmps-btmpd under s6-ipcserver) and utmpsd/.
//
// Checked here: the source format as s6-rc-compile reads it (type, run, notification-fd,
// timeout-up, timeout-down, contents.d, dependencies.d, producer-for/consumer-for, a
// oneshot's up and down), that every longrun's run script and
// notification-fd are exactly those of examples/s6 (the loggers: NAME/log) (which service-s6.test.ts runs under
// a real s6-svscan), and, where the s6-rc package is installed, s6-rc-compile itself
// and s6-rc-db on the compiled database. Debian 12 has no s6-rc package, so there the
// compile step is skipped and the format checks stand alone.

import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { onPath, run } from '../helpers/commands.js';
import { ROOT } from '../helpers/paths.js';

const SOURCES = join(ROOT, 'examples', 's6-rc');
const S6 = join(ROOT, 'examples', 's6');

/** What each source must define: service name -> type. */
const EXPECTED: Record<string, Record<string, string>> = {
  classic: {
    'utmps-utmpd': 'longrun',
    'utmps-utmpd-log': 'longrun',
    'utmps-wtmpd': 'longrun',
    'utmps-wtmpd-log': 'longrun',
    'utmps-btmpd': 'longrun',
    'utmps-btmpd-log': 'longrun',
    'utmps-boot': 'oneshot',
    utmps: 'bundle',
  },
  utmpsd: { utmpsd: 'longrun', 'utmpsd-log': 'longrun', 'utmps-boot': 'oneshot', utmps: 'bundle' },
};

/** The s6 file a longrun must equal: NAME-log is examples/s6/NAME/log. */
function s6Path(name: string, file: string): string {
  return name.endsWith('-log') ? join(S6, name.slice(0, -'-log'.length), 'log', file) : join(S6, name, file);
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function entries(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((n) => !n.startsWith('.')).sort();
  } catch {
    return [];
  }
}

/** A one-line file: its content without the final newline, which must be there. */
async function oneLine(path: string): Promise<string> {
  const text = await readFile(path, 'utf8');
  assert.match(text, /^[^\n]+\n$/, `${path} is one line ending in a newline`);
  return text.slice(0, -1);
}

/** The service names a contents.d or dependencies.d directory lists (empty files). */
async function listed(dir: string): Promise<string[]> {
  const names = await entries(dir);
  for (const name of names) {
    const st = await stat(join(dir, name));
    assert.ok(st.isFile() && st.size === 0, `${join(dir, name)} is an empty file named after a service`);
  }
  return names;
}

const S6RC = (await onPath('s6-rc-compile')) && (await onPath('s6-rc-db'));

for (const [source, expected] of Object.entries(EXPECTED)) {
  const dir = join(SOURCES, source);

  describe(`examples/s6-rc/${source}`, () => {
    test('defines exactly the expected services, with valid names and types', async () => {
      const names = await entries(dir);
      assert.deepEqual(names, Object.keys(expected).sort());
      for (const name of names) {
        assert.doesNotMatch(name, /^s6-?rc-/, 'the s6rc- and s6-rc- prefixes are reserved');
        assert.equal(await oneLine(join(dir, name, 'type')), expected[name], `${name}/type`);
      }
    });

    test('longruns: an executable run, notification-fd 3, a timeout-up and a timeout-down in ms', async () => {
      for (const [name, type] of Object.entries(expected)) {
        if (type !== 'longrun') continue;
        const run = join(dir, name, 'run');
        assert.ok((await stat(run)).mode & 0o111, `${name}/run is executable`);
        assert.equal(await oneLine(join(dir, name, 'notification-fd')), '3');
        assert.match(await oneLine(join(dir, name, 'timeout-up')), /^[1-9][0-9]*$/);
        assert.match(await oneLine(join(dir, name, 'timeout-down')), /^[1-9][0-9]*$/);
        // s6-rc-compile would ignore these; their presence would mean a mistake.
        for (const ignored of ['log', 'down']) {
          assert.equal(await exists(join(dir, name, ignored)), false, `${name}/${ignored} must not exist`);
        }
      }
    });

    test('bundle contents and dependencies name services of this source', async () => {
      for (const [name, type] of Object.entries(expected)) {
        if (type === 'bundle') {
          const contents = await listed(join(dir, name, 'contents.d'));
          assert.ok(contents.length > 0, `${name} bundles something`);
          for (const c of contents) assert.ok(c in expected && c !== name, `${name} contains ${c}, defined here`);
          assert.equal(await isFile(join(dir, name, 'contents')), false, 'one format only: contents.d');
        }
        for (const d of await listed(join(dir, name, 'dependencies.d'))) {
          assert.ok(d in expected && d !== name, `${name} depends on ${d}, defined here`);
        }
      }
    });

    test('the bundle utmps holds every longrun and oneshot of the source', async () => {
      const atomics = Object.keys(expected).filter((n) => expected[n] !== 'bundle');
      assert.deepEqual(await listed(join(dir, 'utmps', 'contents.d')), atomics.sort());
    });

    test('each longrun runs exactly the s6 service directory of the same name (NAME-log: NAME/log)', async () => {
      for (const [name, type] of Object.entries(expected)) {
        if (type !== 'longrun') continue;
        for (const file of ['run', 'notification-fd', 'data/access/uid/0/allow', 'data/access/uid/default/allow', 'data/access/uid/default/env/IPCCONNMAX']) {
          if (!file.startsWith('data/') || (await exists(s6Path(name, file))))
            assert.equal(await readFile(join(dir, name, file), 'utf8'), await readFile(s6Path(name, file), 'utf8'), `${name}/${file}`);
        }
      }
    });

    test('every daemon has its logger: producer-for and consumer-for name each other', async () => {
      for (const [name, type] of Object.entries(expected)) {
        if (type !== 'longrun' || name.endsWith('-log')) continue;
        assert.equal(await oneLine(join(dir, name, 'producer-for')), `${name}-log`);
        assert.equal(await oneLine(join(dir, `${name}-log`, 'consumer-for')), name);
      }
    });

    test('utmps-boot: a oneshot running utmps boot up and utmps shutdown down, after every daemon', async () => {
      const boot = join(dir, 'utmps-boot');
      const code = async (file: string): Promise<string[]> =>
        (await readFile(join(boot, file), 'utf8')).split('\n').filter((l) => l.trim() !== '' && !l.trimStart().startsWith('#'));
      assert.deepEqual(await code('up'), ['utmps boot']);
      assert.deepEqual(await code('down'), ['utmps shutdown']);
      const daemons = Object.keys(expected).filter((n) => expected[n] === 'longrun' && !n.endsWith('-log'));
      assert.deepEqual(await listed(join(boot, 'dependencies.d')), daemons.sort());
      assert.match(await oneLine(join(boot, 'timeout-up')), /^[1-9][0-9]*$/);
      assert.match(await oneLine(join(boot, 'timeout-down')), /^[1-9][0-9]*$/);
    });

    test('s6-rc-compile accepts it and s6-rc-db sees the bundle', { skip: S6RC ? false : 's6-rc is not installed (no Debian 12 package)' }, async () => {
      const out = await mkdtemp('/tmp/s6rc-');
      try {
        const compiled = join(out, 'compiled');
        const c = await run('s6-rc-compile', ['-v', '2', compiled, dir]);
        assert.equal(c.code, 0, `s6-rc-compile: ${c.stderr}`);
        const check = await run('s6-rc-db', ['-c', compiled, 'check']);
        assert.equal(check.code, 0, `s6-rc-db check: ${check.stderr}`);
        const contents = await run('s6-rc-db', ['-c', compiled, 'contents', 'utmps']);
        assert.equal(contents.code, 0, contents.stderr);
        const atomics = Object.keys(expected).filter((n) => expected[n] !== 'bundle');
        assert.deepEqual(contents.stdout.trim().split('\n').sort(), atomics.sort());
      } finally {
        await rm(out, { recursive: true, force: true });
      }
    });
  });
}
