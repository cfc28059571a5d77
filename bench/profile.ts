// Where utmpsd spends its time under one load: runs utmpsd with --cpu-prof, drives it with
// the C client (or ours), stops it cleanly (the profile is written at exit) and prints the
// top functions by self and inclusive time, and by file.
//
//   node dist/bench/profile.js [--op login|wtmp|who|session|who-ext] [--entries N]
//        [--clients N] [--duration S] [--loader c|ts] [--top N] [--keep DIR]
//
// The profile covers utmpsd's main thread only: fsync and other file system calls that run
// on libuv's thread pool show up as (idle) time there, which is why the busy share is given.

import { mkdtemp, readdir, readFile, rm, cp, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildCBench } from './cbench.js';
import { analyse, type CpuProfile, formatRanked } from './cpuprofile.js';
import { installSignalHandlers, runJson, stopAll } from './procs.js';
import { startServer } from './servers.js';
import { DIST_BENCH, ROOT, scratchBase } from './system.js';

const { values } = parseArgs({
  options: {
    op: { type: 'string', default: 'who' },
    entries: { type: 'string' },
    clients: { type: 'string', default: '4' },
    duration: { type: 'string', default: '5' },
    loader: { type: 'string', default: 'c' },
    top: { type: 'string', default: '25' },
    interval: { type: 'string', default: '250' },
    keep: { type: 'string' },
  },
});
const op = values.op!;
const entries = values.entries === undefined ? (op.startsWith('who') ? 1000 : undefined) : Number(values.entries);
const loader = values.loader === 'ts' || op === 'who-ext' ? 'ts' : 'c';

const { base } = scratchBase();
const scratch = await mkdtemp(join(base, 'utp-'));
installSignalHandlers(() => rm(scratch, { recursive: true, force: true }));
try {
  const cBench = await buildCBench(scratch);
  const profDir = join(scratch, 'prof');
  const server = await startServer('utmpsd', join(scratch, 'srv'), {
    nodeArgs: ['--cpu-prof', '--cpu-prof-dir', profDir, '--cpu-prof-interval', values.interval!],
  });
  let result: Record<string, unknown>;
  try {
    if (entries) await runJson(cBench, ['-U', server.utmpSocket, '-o', 'who', '-c', '0', '-m', `prefill:${entries}`, '--json'], server.dir, 300_000);
    const args = ['-U', server.utmpSocket, '-W', server.wtmpSocket, '-o', op, '-n', values.clients!, '-d', values.duration!, '--json'];
    if (entries !== undefined) args.push('-e', String(entries));
    result =
      loader === 'c'
        ? await runJson(cBench, args, server.dir, 600_000)
        : await runJson(process.execPath, [join(DIST_BENCH, 'load.js'), ...args], server.dir, 600_000);
  } finally {
    await server.stop();
  }
  const files = (await readdir(profDir)).filter((f) => f.endsWith('.cpuprofile'));
  if (!files.length) throw new Error(`utmpsd wrote no profile in ${profDir}: ${server.stderr()}`);
  const profile = JSON.parse(await readFile(join(profDir, files[0]), 'utf8')) as CpuProfile;
  const top = Number(values.top);
  const s = analyse(profile, ROOT, top);
  const session = result.session as { puts_per_s: number } | undefined;
  const lines = [
    `load: ${loader} client, ${op}${entries === undefined ? '' : ` over ${entries} entries`}, ${values.clients} clients, ${values.duration} s: ` +
      `${(result.ops_per_s as number).toFixed(1)} ops/s${session ? `, ${session.puts_per_s.toFixed(0)} puts/s` : ''}, ${(result.errors as { total: number }).total} errors`,
    `utmpsd main thread: ${(s.totalMs / 1000).toFixed(2)} s sampled, ${(s.busyMs / 1000).toFixed(2)} s busy (${((100 * s.busyMs) / s.totalMs).toFixed(0)}%); shares below are of the busy time`,
    '',
    ...formatRanked('self time by function:', s.self),
    '',
    ...formatRanked('inclusive time by function:', s.inclusive),
    '',
    ...formatRanked('self time by file:', s.byFile),
  ];
  process.stdout.write(lines.join('\n') + '\n');
  if (values.keep) {
    await mkdir(values.keep, { recursive: true });
    await cp(join(profDir, files[0]), join(values.keep, `utmpsd-${op}${entries ?? ''}-${values.clients}.cpuprofile`));
  }
} catch (e) {
  process.stderr.write(`profile: fatal: ${(e as Error).message}\n`);
  process.exitCode = 111;
} finally {
  await stopAll();
  await rm(scratch, { recursive: true, force: true });
}
