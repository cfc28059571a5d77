// SysError carries a stable code, the positive errno and the operation.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { getEffectiveIds, SysError } from '../../src/sys/native.js';

test('SysError names the errno and words it like strerror', () => {
  getEffectiveIds(); // loads the addon, whose strerror gives glibc's wording
  const err = new SysError('fcntl(F_OFD_SETLK)', 11);
  assert.ok(err instanceof Error);
  assert.equal(err.name, 'SysError');
  assert.equal(err.code, 'EAGAIN');
  assert.equal(err.errno, 11);
  assert.equal(err.syscall, 'fcntl(F_OFD_SETLK)');
  assert.equal(err.message, 'fcntl(F_OFD_SETLK): Resource temporarily unavailable');
});

test('negative errnos are accepted and unknown ones still make an error', () => {
  assert.equal(new SysError('x', -13).code, 'EACCES');
  const odd = new SysError('x', 4000);
  assert.equal(odd.code, 'UNKNOWN');
  assert.equal(odd.errno, 4000);
});
