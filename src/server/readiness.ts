// Telling a supervisor we are ready: s6's notification-fd (a newline, then close) and
// systemd's sd_notify (READY=1 on $NOTIFY_SOCKET).

import { closeSync, writeSync } from 'node:fs';
import { sendNotify } from '../sys/native.js';

export function notifyFd(fd: number): void {
  writeSync(fd, '\n');
  closeSync(fd);
}

export function sdNotify(message: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const path = env.NOTIFY_SOCKET;
  if (!path) return false;
  sendNotify(path, message);
  return true;
}
