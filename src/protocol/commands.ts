// The wire vocabulary (PROTOCOL.md sections 3 and 4, extensions in docs/PROTOCOL-EXTENSIONS.md).
// A request is one command byte and a fixed-size body; an answer is a status byte, then a
// 400-byte record for successful reads.

import { RECORD_SIZE } from '../record/layout.js';

export type Service = 'utmp' | 'wtmp';

export interface CommandSpec {
  readonly op: string;
  readonly byte: number;
  readonly service: Service;
  /** Body size after the command byte. */
  readonly body: number;
  /** What a successful answer carries after the status byte. */
  readonly answer: 'status' | 'record' | 'records';
  /** True for commands the C utmps daemons do not know. */
  readonly extension: boolean;
}

function spec(op: string, char: string, service: Service, body: number, answer: CommandSpec['answer'], extension = false): CommandSpec {
  return Object.freeze({ op, byte: char.charCodeAt(0), service, body, answer, extension });
}

export const Commands = {
  rewind: spec('rewind', 'r', 'utmp', 0, 'status'),
  getent: spec('getent', 'e', 'utmp', 0, 'record'),
  getid: spec('getid', 'i', 'utmp', 6, 'record'), // ut_type as u16 big-endian + 4-byte id
  getline: spec('getline', 'l', 'utmp', 32, 'record'),
  putline: spec('putline', 'E', 'utmp', RECORD_SIZE, 'status'),
  // Ours: every record from the cursor to the end, as repeated record answers closed by ESRCH.
  getall: spec('getall', 'A', 'utmp', 0, 'records', true),
  append: spec('append', '+', 'wtmp', RECORD_SIZE, 'status'),
  // Ours: read wtmp with filters, and follow new appends (docs/PROTOCOL-EXTENSIONS.md).
  read: spec('read', 'R', 'wtmp', 85, 'records', true),
} as const satisfies Record<string, CommandSpec>;

export type Op = keyof typeof Commands;

const BY_BYTE: ReadonlyMap<string, CommandSpec> = new Map(
  Object.values(Commands).map((c) => [`${c.service}:${c.byte}`, c]),
);

export function commandForByte(service: Service, byte: number): CommandSpec | undefined {
  return BY_BYTE.get(`${service}:${byte}`);
}
