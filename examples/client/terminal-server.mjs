// A terminal server that records each child's session, as a web terminal or an SSH server
// written in Node would: login on spawn (utmp + wtmp, with the CHILD's pid), logout on exit
// (utmp marked dead + a wtmp logout record).
//
//   node terminal-server.mjs [sessions] [command...]    (default: 2 sessions of `sleep 0.2`)
//
// Lines and ids are ours to choose: 'web/N' is not a real tty, and the id is chosen too
// (utmp holds one record per id; the default id, the line's last 4 bytes, could collide).

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { userInfo } from 'node:os';
import { login, logout, logwtmp } from 'utmps-ts';

const sessions = Number(process.argv[2] ?? 2);
const [command, ...args] = process.argv.length > 3 ? process.argv.slice(3) : ['sleep', '0.2'];
const user = userInfo().username;

async function serve(n) {
  const line = `web/${n}`;
  const id = `w${n.toString(36)}`; // unique among our live sessions
  const child = spawn(command, args, { stdio: 'ignore' });
  await once(child, 'spawn');
  const exited = once(child, 'exit');
  await login({ line, id, user, host: 'client.example', pid: child.pid }, { timeoutMs: 5000 });
  console.log(`login ${line} id ${id} pid ${child.pid}`);
  const [code] = await exited;
  await logout(line, { timeoutMs: 5000 });
  await logwtmp(line, '', '', { pid: child.pid, timeoutMs: 5000 });
  console.log(`logout ${line} pid ${child.pid} exit ${code}`);
}

await Promise.all(Array.from({ length: sessions }, (_, i) => serve(i + 1)));
// No endutxent() needed: idle connections do not keep the process alive.
