// wtmp records as events, for `utmps last --follow`: one JSON object or one text line per
// record, as it is appended. Pure.

import { safeUnicode } from './escape.js';
import type { UtmpEntry } from '../record/entry.js';
import { RecordType } from '../record/layout.js';

export type WtmpEventKind = 'login' | 'logout' | 'boot' | 'shutdown' | 'runlevel' | 'init' | 'getty' | 'clock' | 'accounting' | 'empty' | 'unknown';

export interface WtmpEvent {
  event: WtmpEventKind;
  type: string;
  user: string;
  line: string;
  id: string;
  host: string;
  address: string;
  pid: number;
  time: { tvSec: number; tvUsec: number; iso: string };
}

export function eventKind(entry: Pick<UtmpEntry, 'type' | 'user' | 'line'>): WtmpEventKind {
  switch (entry.type) {
    case RecordType.USER_PROCESS:
      return 'login';
    case RecordType.DEAD_PROCESS:
      return 'logout';
    case RecordType.BOOT_TIME:
      return 'boot';
    case RecordType.RUN_LVL:
      // shutdown(8) and init write a RUN_LVL record with user "shutdown" on the way down.
      return entry.user === 'shutdown' ? 'shutdown' : 'runlevel';
    case RecordType.INIT_PROCESS:
      return 'init';
    case RecordType.LOGIN_PROCESS:
      return 'getty';
    case RecordType.OLD_TIME:
    case RecordType.NEW_TIME:
      return 'clock';
    case RecordType.ACCOUNTING:
      return 'accounting';
    case RecordType.EMPTY:
      return 'empty';
    default:
      return 'unknown';
  }
}

export function wtmpEvent(entry: UtmpEntry): WtmpEvent {
  const tvSec = Number(entry.tvSec);
  return {
    event: eventKind(entry),
    type: entry.typeName,
    user: entry.user,
    line: entry.line,
    id: entry.id,
    host: entry.host,
    address: entry.address,
    pid: entry.pid,
    time: { tvSec, tvUsec: entry.tvUsec, iso: new Date(tvSec * 1000 + Math.floor(entry.tvUsec / 1000)).toISOString() },
  };
}

/** One text line: event, user, line, host, ISO time; controls escaped (escape.ts). */
export function wtmpEventLine(e: WtmpEvent): string {
  return [e.event.padEnd(8), safeUnicode(e.user).padEnd(8), safeUnicode(e.line).padEnd(12), safeUnicode(e.host).padEnd(16), e.time.iso].join(' ').trimEnd();
}
