export { UtmpsError, type UtmpsErrorCode, type UtmpsOp } from './errors.js';
export { Connection, Deadline, DEFAULT_TIMEOUT_MS, type RecordsAnswer } from './connection.js';
export { btmpdSocketPath, DEFAULT_BTMPD_SOCKET, DEFAULT_UTMPD_SOCKET, DEFAULT_WTMPD_SOCKET, utmpdSocketPath, wtmpdSocketPath } from './paths.js';
export { nowTimeval, type Timeval } from '../record/time.js';
export { type CallOptions, type ConnectOptions, type RecordInput, type UtmpRecord, utmpRecord } from './types.js';
export { UtmpSession } from './utmp-session.js';
export { appendWtmp } from './wtmp.js';
export { appendBtmp, readBtmp } from './btmp.js';
export { readWtmp, type WtmpReadItem, type WtmpReadOptions } from './wtmp-read.js';
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
  type LogwtmpOptions,
  logout,
  logwtmp,
  pututxline,
  setutxent,
  updwtmpx,
  type Utmpx,
  utmpxname,
  type UtmpxOptions,
} from './utmpx.js';
export { RecordError, type EntryInput, type UtmpEntry, type UtmpEntryJSON } from '../record/index.js';
