// The package as a new user gets it: pack a clean copy of the committed tree (its prepare
// builds it), install the tarball into a new project with no C compiler (CC=/bin/false), then
// import it (ESM and require()), type-check a strict TypeScript consumer against it, use the
// client without the addon against a real utmpsd, and run the bins.

import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../helpers/paths.js';
import { startUtmpsd } from '../helpers/utmpsd.js';

function sh(cmd: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; input?: string }): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { encoding: 'utf8', timeout: 180_000, env: options.env ?? process.env, cwd: options.cwd, input: options.input });
}

/** Runs node asynchronously (the test's own utmpsd must keep answering meanwhile). */
function node(args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c));
    child.stderr.on('data', (c: Buffer) => (err += c));
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, out, err });
    });
  });
}

const isGitCheckout = spawnSync('git', ['-C', ROOT, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).status === 0;

test('npm pack of a clean copy installs without a C compiler, imports, type-checks and runs', { skip: !isGitCheckout && 'not a git checkout', timeout: 300_000 }, async (t) => {
  const tmp = mkdtempSync('/tmp/pkg-');
  t.after(() => rmSync(tmp, { recursive: true, force: true }));

  // A clean copy of the committed tree; dev dependencies from this checkout.
  const copy = join(tmp, 'src');
  mkdirSync(copy);
  const archive = sh('sh', ['-c', `git -C '${ROOT}' archive --format=tar HEAD | tar -x -C '${copy}'`], { cwd: tmp });
  assert.equal(archive.status, 0, archive.stderr);
  symlinkSync(realpathSync(join(ROOT, 'node_modules')), join(copy, 'node_modules'));

  const packed = sh('npm', ['pack', '--json', '--pack-destination', tmp], { cwd: copy });
  assert.equal(packed.status, 0, packed.stderr);
  const [info] = JSON.parse(packed.stdout) as [{ filename: string; files: { path: string }[] }];
  const files = info.files.map((f) => f.path);
  for (const want of ['dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/client/utmpx.js', 'dist/src/cli/utmpsd.js', 'bin/utmpsd', 'bin/launch.cjs', 'dist/bundle/utmps-last.cjs', 'dist/bundle/utmps-last.cjs.cache', 'dist/bundle/utmps-utmpd.cjs', 'native/utmps_sys.c', 'binding.gyp', 'LICENSE', 'cjs/index.cjs', 'scripts/native-report.js', 'docs/CLIENT.md', 'examples/client/terminal-server.mjs']) {
    assert.ok(files.includes(want), `the tarball holds ${want}`);
  }
  const stray = files.filter((f) => /^(test|bench|fuzz|\.ci|src|build|dist\/test|dist\/bench|dist\/fuzz)\//.test(f) || f.endsWith('.map'));
  assert.deepEqual(stray, [], 'nothing from tests, bench, fuzz, CI, sources or a local build');
  const manifest = JSON.parse(readFileSync(join(copy, 'package.json'), 'utf8')) as Record<string, unknown>;
  assert.deepEqual(manifest.os, ['linux']);
  assert.equal(manifest.license, 'ISC');
  assert.match(readFileSync(join(copy, 'LICENSE'), 'utf8'), /^ISC License/);

  // A new project; the install's native build fails for want of a compiler, and says so.
  const app = join(tmp, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
  const env = { ...process.env, CC: '/bin/false', CXX: '/bin/false' };
  const install = sh('npm', ['install', '--offline', '--no-audit', '--no-fund', '--foreground-scripts', join(tmp, info.filename)], { cwd: app, env });
  assert.equal(install.status, 0, `install fails without a compiler:\n${install.stdout}${install.stderr}`);
  assert.match(install.stdout + install.stderr, /utmps-ts: warning: the native addon .* was not built/);
  assert.match(install.stdout + install.stderr, /npm rebuild utmps-ts/);
  const pkg = join(app, 'node_modules', 'utmps-ts');
  assert.equal(existsSync(join(pkg, 'build', 'Release', 'utmps_sys.node')), false, 'no addon was built');

  // The strict consumer, type-checked against the installed .d.ts (skipLibCheck off); runs
  // alongside the rest.
  copyFileSync(join(ROOT, 'test', 'consumer', 'consumer.ts'), join(app, 'consumer.ts'));
  copyFileSync(join(ROOT, 'test', 'consumer', 'tsconfig.json'), join(app, 'tsconfig.json'));
  symlinkSync(realpathSync(join(ROOT, 'node_modules', '@types')), join(app, 'node_modules', '@types'));
  const typecheck = node([join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(app, 'tsconfig.json')], app);

  await t.test('ESM: the root entry is the client; internals under subpaths; dist paths closed', async () => {
    const script = `
      const root = await import('utmps-ts');
      const client = await import('utmps-ts/client');
      const policy = await import('utmps-ts/server/policy');
      await import('utmps-ts/record'); await import('utmps-ts/protocol'); await import('utmps-ts/utmpx');
      let closed = '';
      try { await import('utmps-ts/dist/src/index.js'); } catch (e) { closed = e.code; }
      console.log(JSON.stringify({ login: typeof root.login, session: root.UtmpSession === client.UtmpSession, policy: typeof policy.Policy, server: 'Utmpsd' in root, closed }));`;
    const r = await node(['--input-type=module', '-e', script], app);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(JSON.parse(r.out), { login: 'function', session: true, policy: 'function', server: false, closed: 'ERR_PACKAGE_PATH_NOT_EXPORTED' });
  });

  await t.test('CommonJS: require() of the client entry works, or is refused clearly', async () => {
    const script = `
      try {
        const cjs = require('utmps-ts');
        import('utmps-ts').then((esm) => console.log('works', typeof cjs.login, cjs.UtmpsError === esm.UtmpsError));
      } catch (e) { console.log('refused', e.code, e.message); }`;
    const r = await node(['-e', script], app);
    assert.equal(r.code, 0, r.err);
    if (r.out.startsWith('works')) assert.equal(r.out.trim(), 'works function true', 'one module instance for require and import');
    else assert.match(r.out, /^refused ERR_REQUIRE_ESM utmps-ts is an ES module, and Node v[\d.]+ cannot require\(\) it\. Use `import/);
  });

  await t.test('the client works without the addon, against a real utmpsd', async () => {
    // pid 4242 is made up: with reaping on, utmpsd would end that session at once.
    const server = await startUtmpsd({ extra: ['--no-reap'] });
    try {
      const script = `
        import { login, logout, UtmpSession } from 'utmps-ts';
        await login({ line: 'web/1', id: 'w1', user: 'root', pid: 4242 });
        const session = await UtmpSession.connect();
        const live = (await session.readAll()).map((r) => r.toJSON()).filter((e) => e.typeName === 'USER_PROCESS');
        session.close();
        console.log(JSON.stringify(live.map((e) => [e.line, e.pid])), await logout('web/1'));`;
      const r = await node(['--input-type=module', '-e', script], app, { ...process.env, UTMPS_UTMPD_SOCKET: server.utmpSocket, UTMPS_WTMPD_SOCKET: server.wtmpSocket });
      assert.equal(r.code, 0, r.err);
      assert.equal(r.out.trim(), '[["web/1",4242]] true');
    } finally {
      await server.stop();
    }
  });

  await t.test('the bins run; the daemons say the native part is missing and how to build it', async () => {
    const bin = (name: string): string => join(app, 'node_modules', '.bin', name);
    for (const [name, args, code, out] of [
      ['utmps', ['--help'], 0, /usage: utmps who\|last\|lastb\|lastlog\|timeline\|dump\|convert/],
      ['utmpsd', ['--help'], 0, /usage: utmpsd \[options\]/],
      ['utmps-utmpd', ['--help'], 0, /usage: utmps-utmpd/],
      ['utmps-wtmpd', ['--help'], 0, /usage: utmps-wtmpd/],
    ] as const) {
      const r = sh(bin(name), [...args], { cwd: app });
      assert.equal(r.status, code, `${name} ${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stdout, out);
    }
    // utmps-write keeps upstream's interface (-h is the host): a usage message, exit 100.
    const write = sh(bin('utmps-write'), ['--help'], { cwd: app });
    assert.equal(write.status, 100);
    assert.match(write.stderr, /usage: utmps-write/);
    for (const [name, args] of [
      ['utmpsd', ['--state-dir', join(tmp, 'state')]],
      ['utmps-utmpd', []],
      ['utmps-wtmpd', []],
    ] as const) {
      const r = sh(bin(name), [...args], { cwd: tmp, input: '' });
      assert.equal(r.status, 111, `${name}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^${name}: fatal: the native part of utmps-ts is missing .*build it with \`npm rebuild utmps-ts\``, 'm'));
    }
  });

  await t.test('a strict TypeScript consumer type-checks (skipLibCheck off)', async () => {
    const r = await typecheck;
    assert.equal(r.code, 0, `tsc:\n${r.out}${r.err}`);
  });
});
