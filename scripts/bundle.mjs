// Bundles each short-lived program into one CommonJS file under dist/bundle/, from the
// compiled dist/src (run after tsc). Node 20 spends tens of milliseconds in its ES module
// loader resolving and linking a program's ~20 files; one CommonJS file starts within a few
// ms of `node -e 0` (docs/BENCHMARKS.md, "Start-up"). bin/launch.cjs runs a bundle only
// when it is at least as new as the compiled entry it was made from, else the module tree.
//
// `utmps` gets one bundle per subcommand (utmps-last.cjs: the dispatcher with only `last`
// in it), so `utmps last -n 10` parses no code of who, dump or the client, and the
// dispatcher and its subcommand share one copy of every module (Exit stays one class).
//
//   node scripts/bundle.mjs

import { build } from 'esbuild';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import Module from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist', 'src', 'cli');
const OUT = join(ROOT, 'dist', 'bundle');

export const SUBCOMMANDS = ['who', 'last', 'dump', 'convert'];
const DAEMONS = ['utmps-utmpd', 'utmps-wtmpd', 'utmps-btmpd', 'utmps-write'];

/** In the bundle for `keep`, every other subcommand's lazy import is a stub. */
function onlySubcommand(keep) {
  return {
    name: 'only-subcommand',
    setup(b) {
      b.onResolve({ filter: /^\.\/utmps-[a-z]+\.js$/ }, (args) => {
        const name = /^\.\/utmps-([a-z]+)\.js$/.exec(args.path)[1];
        if (!SUBCOMMANDS.includes(name) || name === keep || !args.importer.endsWith(`${join('cli', 'utmps.js')}`)) return undefined;
        return { path: name, namespace: 'stub' };
      });
      b.onLoad({ filter: /.*/, namespace: 'stub' }, (args) => ({
        contents: `export function run() { throw new Error('utmps ${args.path}: not in this bundle'); }`,
        loader: 'js',
      }));
    },
  };
}

async function bundle(entry, out, plugins = []) {
  await build({
    entryPoints: [join(CLI, entry)],
    outfile: join(OUT, out),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // The addon is found from the module's own place (src/sys/native.ts walks up to the
    // package root), which in a bundle is dist/bundle/.
    define: { 'import.meta.url': 'importMetaUrl' },
    inject: [join(ROOT, 'scripts', 'bundle-meta.mjs')],
    // import() of a builtin becomes require(): launch.cjs runs the bundle as a vm.Script.
    supported: { 'dynamic-import': false },
    plugins,
    logLevel: 'warning',
    legalComments: 'none',
  });
  writeCodeCache(join(OUT, out));
}

/**
 * V8's code cache of the bundle's top level, next to it (NAME.cjs.cache): with it, Node
 * skips parsing the bundle at start. bin/launch.cjs compiles the same wrapper; V8 checks
 * its version, flags and the source's length and ignores a cache that does not fit.
 */
function writeCodeCache(file) {
  const script = new vm.Script(Module.wrap(readFileSync(file, 'utf8')), { filename: file });
  writeFileSync(`${file}.cache`, script.createCachedData());
}

mkdirSync(OUT, { recursive: true });
await Promise.all([
  bundle('utmps.js', 'utmps.cjs', [onlySubcommand(undefined)]),
  ...SUBCOMMANDS.map((name) => bundle('utmps.js', `utmps-${name}.cjs`, [onlySubcommand(name)])),
  ...DAEMONS.map((name) => bundle(`${name}.js`, `${name}.cjs`)),
]);
