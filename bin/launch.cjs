'use strict';
// Starts a program from its one-file bundle (dist/bundle/, scripts/bundle.mjs), which Node
// loads far quicker than the ES module tree in dist/src, when the bundle is at least as new
// as the compiled entry it was made from; else (no bundle, or tsc ran since) from dist/src.
// The bundle is compiled with V8's code cache made beside it at build time, as require()
// would compile it (same wrapper), so Node 20 need not parse it again at every start.
const { readFileSync, statSync } = require('node:fs');
const Module = require('node:module');
const { dirname, join } = require('node:path');
const { Script } = require('node:vm');

const DIST = join(__dirname, '..', 'dist');

function fresh(bundled, source) {
  try {
    return statSync(bundled).mtimeMs >= statSync(source).mtimeMs;
  } catch {
    return false;
  }
}

function runBundle(file) {
  let cachedData;
  try {
    cachedData = readFileSync(`${file}.cache`);
  } catch {
    cachedData = undefined;
  }
  const wrapper = new Script(Module.wrap(readFileSync(file, 'utf8')), { filename: file, cachedData }).runInThisContext();
  const module = { exports: {}, filename: file, id: file };
  wrapper.call(module.exports, module.exports, Module.createRequire(file), module, file, dirname(file));
}

module.exports = function launch(entry, bundle) {
  const source = join(DIST, 'src', 'cli', `${entry}.js`);
  const bundled = join(DIST, 'bundle', `${bundle}.cjs`);
  if (fresh(bundled, source)) runBundle(bundled);
  else require('./import.cjs')(source);
};
