// SysError carries a stable code, the positive errno and the operation.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Errno } from '../../src/errno.js';
import { SysError } from '../../src/sys/native.js';

test('SysError names the errno and words it like strerror', () => {
  const err = new SysError('fcntl(F_OFD_SETLK)', Errno.EAGAIN);
  assert.ok(err instanceof Error);
  assert.equal(err.name, 'SysError');
  assert.equal(err.code, 'EAGAIN');
  assert.equal(err.errno, Errno.EAGAIN);
  assert.equal(err.syscall, 'fcntl(F_OFD_SETLK)');
  assert.equal(err.message, 'fcntl(F_OFD_SETLK): Resource temporarily unavailable');
});

test('negative errnos are accepted and unknown ones still make an error', () => {
  assert.equal(new SysError('x', -Errno.EACCES).code, 'EACCES');
  const odd = new SysError('x', 4000);
  assert.equal(odd.code, 'UNKNOWN');
  assert.equal(odd.errno, 4000);
});
