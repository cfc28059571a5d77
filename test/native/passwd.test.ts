// Passwd lookups through NSS, against the entries every Debian system has.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  lookupUserByName,
  lookupUserByNameSync,
  lookupUserByUid,
} from '../../src/sys/native.js';

test('lookupUserByName finds root and nobody on the thread pool', async () => {
  const [root, nobody] = await Promise.all([lookupUserByName('root'), lookupUserByName('nobody')]);
  assert.equal(root?.uid, 0);
  assert.equal(root?.gid, 0);
  assert.equal(root?.name, 'root');
  assert.equal(typeof root?.dir, 'string');
  assert.equal(typeof root?.shell, 'string');
  assert.equal(nobody?.uid, 65534);
});

test('unknown and empty names are null, not errors', async () => {
  assert.equal(await lookupUserByName('nosuchuser-xyz'), null);
  assert.equal(await lookupUserByName(''), null);
  assert.equal(lookupUserByNameSync('nosuchuser-xyz'), null);
  assert.equal(lookupUserByNameSync(''), null);
});

test('lookupUserByNameSync agrees with the async form', async () => {
  assert.deepEqual(lookupUserByNameSync('nobody'), await lookupUserByName('nobody'));
  assert.equal(lookupUserByNameSync('root')?.uid, 0);
});

test('lookupUserByUid', () => {
  assert.equal(lookupUserByUid(65534)?.name, 'nobody');
  assert.equal(lookupUserByUid(0)?.name, 'root');
  assert.equal(lookupUserByUid(4_000_000_000), null);
  assert.throws(() => lookupUserByUid(-1), TypeError);
});

test('names with NUL are refused before reaching C', async () => {
  assert.throws(() => lookupUserByNameSync('root\0x'), TypeError);
  await assert.rejects(lookupUserByName('root\0x'), TypeError);
});
