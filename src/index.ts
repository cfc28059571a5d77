// utmps-ts: the client library. Everything a Node program needs to record and read
// sessions through utmps daemons. Server internals (daemons, stores, protocol) are under
// subpaths (utmps-ts/server/*, utmps-ts/store/*, utmps-ts/protocol); this entry never loads
// the native addon, so it works where the addon was not built.

// Errors: one base class; callers branch on `code`.
export { UtmpsError, type UtmpsErrorCode, type UtmpsOp } from './errors.js';
export { RecordError } from './record/entry.js';

// Sessions, wtmp and btmp appends and reads.
export { UtmpSession } from './client/utmp-session.js';
export { appendWtmp } from './client/wtmp.js';
export { appendBtmp, readBtmp } from './client/btmp.js';
export { readWtmp, type WtmpReadItem, type WtmpReadOptions } from './client/wtmp-read.js';
export { DEFAULT_TIMEOUT_MS } from './client/connection.js';
export { btmpdSocketPath, DEFAULT_BTMPD_SOCKET, DEFAULT_UTMPD_SOCKET, DEFAULT_WTMPD_SOCKET, utmpdSocketPath, wtmpdSocketPath } from './client/paths.js';
export { nowTimeval, type Timeval } from './record/time.js';
export { type CallOptions, type ConnectOptions, type RecordInput, type UtmpRecord } from './client/types.js';

// The POSIX/GNU names, over one implicit session (or createUtmpx() for one of your own).
export {
  createUtmpx,
  endutxent,
  getutxent,
  getutxid,
  getutxline,
  idFromLine,
  type IdQuery,
  login,
  type LoginInput,
  logout,
  logwtmp,
  type LogwtmpOptions,
  pututxline,
  setutxent,
  updwtmpx,
  type Utmpx,
  utmpxname,
  type UtmpxOptions,
} from './client/utmpx.js';

// Records: types and helpers.
export {
  buildRecord,
  decodeEntry,
  type EntryInput,
  entryTimeISO,
  entryToJSON,
  FIELD_SIZE,
  RECORD_SIZE,
  RecordType,
  type RecordTypeName,
  typeName,
  type UtmpEntry,
  type UtmpEntryJSON,
} from './record/index.js';
