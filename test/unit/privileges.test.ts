import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveIdentity, sharersOfGroup } from '../../src/server/privileges.js';

// Debian's accounts, trimmed: nobody's primary group nogroup (65534) is also _apt's and sync's.
const PASSWD = [
  'root:x:0:0:root:/root:/bin/bash',
  'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
  'sync:x:4:65534:sync:/bin:/bin/sync',
  '_apt:x:42:65534::/nonexistent:/usr/sbin/nologin',
  'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
  'utmp:x:120:43::/nonexistent:/usr/sbin/nologin',
  'svc:x:121:121::/nonexistent:/usr/sbin/nologin',
  '',
].join('\n');
const GROUP = ['root:x:0:', 'daemon:x:1:', 'utmp:x:43:', 'nogroup:x:65534:', 'svc:x:121:alice,bob', ''].join('\n');
const FILES = { passwd: PASSWD, group: GROUP };

test('sharersOfGroup: other accounts with that primary group and listed members, never the account itself', () => {
  assert.deepEqual(sharersOfGroup(65534, { name: 'nobody', uid: 65534 }, FILES), { name: 'nogroup', sharers: ['_apt', 'sync'] });
  assert.deepEqual(sharersOfGroup(43, { name: 'utmp', uid: 120 }, FILES), { name: 'utmp', sharers: [] });
  assert.deepEqual(sharersOfGroup(121, { name: 'svc', uid: 121 }, FILES), { name: 'svc', sharers: ['alice', 'bob'] });
  assert.deepEqual(sharersOfGroup(999, { name: 'x', uid: 999 }, FILES), { name: null, sharers: [] });
  assert.deepEqual(sharersOfGroup(1, { name: 'daemon', uid: 1 }, { passwd: '', group: '' }), { name: null, sharers: [] });
});

test('resolveIdentity: a shared primary group is refused without --group, accepted with it', () => {
  assert.throws(
    () => resolveIdentity('nobody', undefined, FILES),
    /^Error: --user nobody: its primary group 65534 \(nogroup\) is shared with _apt, sync; pass --group GID/,
  );
  assert.throws(() => resolveIdentity('65534', undefined, FILES), /primary group 65534 \(nogroup\) is shared with _apt, sync;/);
  assert.deepEqual(resolveIdentity('nobody', '43', FILES), { name: 'nobody', uid: 65534, gid: 43 });
  assert.deepEqual(resolveIdentity('daemon', undefined, FILES), { name: 'daemon', uid: 1, gid: 1 });
  assert.deepEqual(resolveIdentity('nobody', 'utmp', FILES), { name: 'nobody', uid: 65534, gid: 43 }, 'a group name');
  assert.throws(() => resolveIdentity('nobody', 'wheel', FILES), /--group: no such group: wheel/);
});
