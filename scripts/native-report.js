// Runs when `node-gyp rebuild` failed during install (package.json "install"). The client
// library needs no native code, so the install goes on; this says what is missing and how
// to get it, then exits 0. npm shows install output only with --foreground-scripts: the
// daemons repeat the message when they start without the addon.

const lines = [
  'the native addon (build/Release/utmps_sys.node) was not built: node-gyp failed (see above).',
  'The client library (import ... from "utmps-ts") works without it.',
  'The daemons (utmpsd, utmps-utmpd, utmps-wtmpd) need it: install a C compiler, make and',
  'python3 (Debian: apt-get install build-essential python3), then run `npm rebuild utmps-ts`',
  '(or `npx node-gyp rebuild` in this package).',
];
process.stderr.write(lines.map((l) => `utmps-ts: warning: ${l}\n`).join(''));
process.exit(0);
