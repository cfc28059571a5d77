// utmps lastb: failed logins from btmp, newest first, like util-linux lastb (which is
// last reading btmp: every record one line, ending when it began). Reads the btmp
// service's socket (root only), or files with -f. --summary counts the attempts per user
// and per source host (src/format/failed.ts). Differences: docs/READERS.md.

import { btmpdSocketPath } from '../client/paths.js';
import { FailedSummary } from '../format/failed.js';
import { terminalSafeJson } from '../format/text.js';
import { LastPairing } from '../format/last.js';
import { UTMPS_LAYOUT } from '../record/layout.js';
import { SocketSource } from './record-source.js';
import { COMMON_HELP, type ReaderMode, runReader, TIME_HELP } from './utmps-last.js';
import { Exit, fatalError, reason, writeAll } from './utmps-io.js';

const USAGE =
  'utmps lastb [ -W btmpd-socket | -f file... ] [ -n num | -num ] [ -s time ] [ -t time ] [ -p time ] [ -F ] [ -d ] [ -i ] [ -w ] [ -a | -R ] ' +
  '[ --time-format notime|short|full|iso ] [ --format utmps|glibc ] [ --json ] [ user | tty ]...\n' +
  '       utmps lastb --summary [ -W btmpd-socket | -f file... ] [ -s time ] [ -t time ] [ --json ] [ user | tty ]...';

const HELP = `usage: ${USAGE}

Shows failed logins from btmp, newest first (util-linux lastb's output).
  Without -f: read through the btmp service, $UTMPS_BTMPD_SOCKET, else
  /run/utmps/.btmpd-socket (root only: btmp holds passwords typed as user names).
${COMMON_HELP}  -W, --socket PATH      btmpd socket to read (default $UTMPS_BTMPD_SOCKET,
                         else /run/utmps/.btmpd-socket)
      --summary          failed logins counted per user and per source host
                         (within -s/-t), instead of the list; --json for JSON
${TIME_HELP}`;

const LASTB: ReaderMode = {
  prog: 'lastb',
  usage: USAGE,
  help: HELP,
  options: { summary: { type: 'boolean' } },
  defaultSources(socket) {
    const path = btmpdSocketPath(socket);
    return { paths: [path], sources: [() => new SocketSource(path, 'btmp')] };
  },
  async special(values, { sources, paths, since, until, filters }) {
    if (values.summary !== true) return undefined;
    const summary = new FailedSummary(since, until);
    const pairing = new LastPairing(
      { failed: true, since, until, filters: filters.map((p) => Buffer.from(p).toString('latin1')) },
      (s) => {
        summary.add(s);
        return true;
      },
    );
    for (const [index, open] of sources.entries()) {
      let src;
      try {
        src = open();
      } catch (e) {
        throw fatalError(`unable to open ${paths[index]}: ${reason(e)}`);
      }
      try {
        for await (const { buf, count } of src.blocks()) {
          for (let i = count - 1; i >= 0; i--) pairing.push(buf, i * UTMPS_LAYOUT.size);
        }
      } catch (e) {
        if (e instanceof Exit) throw e;
        throw fatalError(`unable to read ${src.path}: ${reason(e)}`);
      } finally {
        src.close();
      }
    }
    const text = values.json === true ? `${terminalSafeJson(JSON.stringify(summary.json()))}\n` : summary.text();
    writeAll(1, Buffer.from(text, values.json === true ? 'utf8' : 'latin1'));
    return 0;
  },
};

export function run(argv: string[]): Promise<number> {
  return runReader(argv, LASTB);
}
