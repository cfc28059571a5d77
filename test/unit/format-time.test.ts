// Calendar formatting against golden strings from the C tools (TZ=UTC) and, in other
// zones, against Date's own local time (which reads the same tzdata).

process.env.TZ = 'UTC';

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  clockTime,
  daysFromCivil,
  dumpTime,
  fullTime,
  isoTime,
  isoTimeMicro,
  localParts,
  localSeconds,
  resetZoneCache,
  shortTime,
  utcSeconds,
  whoTime,
} from '../../src/format/time.js';
import { parseTimeSpec } from '../../src/format/timespec.js';

function inZone<T>(tz: string, fn: () => T): T {
  const before = process.env.TZ;
  process.env.TZ = tz;
  resetZoneCache();
  try {
    return fn();
  } finally {
    process.env.TZ = before;
    resetZoneCache();
  }
}

describe('formats (golden strings from last, who and utmpdump)', () => {
  test('last', () => {
    assert.equal(shortTime(1700000000), 'Tue Nov 14 22:13');
    assert.equal(shortTime(1699000000), 'Fri Nov  3 08:26');
    assert.equal(clockTime(1700003900), '23:18');
    assert.equal(fullTime(1700000000), 'Tue Nov 14 22:13:20 2023');
    assert.equal(isoTime(1700000000), '2023-11-14T22:13:20+00:00');
    assert.equal(fullTime(-5), 'Wed Dec 31 23:59:55 1969');
  });

  test('who, C locale and ISO', () => {
    assert.equal(whoTime(1700000100, false), 'Nov 14 22:15');
    assert.equal(whoTime(0, false), 'Jan  1 00:00');
    assert.equal(whoTime(1700000100, true), '2023-11-14 22:15');
  });

  test('utmpdump, always UTC, with microseconds as C "%06d"', () => {
    assert.equal(dumpTime(1700000000, 123456), '2023-11-14T22:13:20,123456+00:00');
    assert.equal(dumpTime(2147483647, -5), '2038-01-19T03:14:07,-00005+00:00');
    assert.equal(dumpTime(-1, 0), '1969-12-31T23:59:59,000000+00:00');
    assert.equal(inZone('America/New_York', () => dumpTime(1700000000, 0)), '2023-11-14T22:13:20,000000+00:00');
  });

  test('ISO with microseconds for JSON', () => {
    assert.equal(isoTimeMicro(1700000000, 250000), '2023-11-14T22:13:20.250000+00:00');
    assert.equal(isoTimeMicro(1700000000, 0), '2023-11-14T22:13:20+00:00');
  });
});

describe('the local zone', () => {
  const zones = ['America/New_York', 'Europe/Berlin', 'Asia/Kolkata', 'Australia/Lord_Howe', 'America/St_Johns', 'Pacific/Chatham'];
  for (const tz of zones) {
    test(`${tz}: every part agrees with Date, across DST changes`, () => {
      inZone(tz, () => {
        // Each hour of two years, plus odd seconds, in time order and out of it.
        const times: number[] = [];
        for (let t = 1672531200; t < 1735689600; t += 3599) times.push(t);
        for (let i = 0; i < 2000; i++) times.push(Math.floor(Math.random() * 2 ** 31));
        for (const t of times) {
          const d = new Date(t * 1000);
          const p = localParts(t);
          const got = [p.year, p.month, p.day, p.hour, p.minute, p.second, p.weekday, p.offset];
          const want = [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds(), d.getDay(), -d.getTimezoneOffset() * 60];
          assert.deepEqual(got, want, `${tz} ${t}`);
        }
      });
    });
  }

  test('ISO offsets with minutes', () => {
    assert.equal(inZone('Asia/Kolkata', () => isoTime(1700000000)), '2023-11-15T03:43:20+05:30');
    assert.equal(inZone('America/St_Johns', () => isoTime(1700000000)), '2023-11-14T18:43:20-03:30');
  });
});

describe('calendar arithmetic', () => {
  test('daysFromCivil agrees with Date.UTC, months overflowing like timegm', () => {
    for (let i = 0; i < 5000; i++) {
      const y = 1 + Math.floor(Math.random() * 9000);
      const m = Math.floor(Math.random() * 30) - 8;
      const d = Math.floor(Math.random() * 40) - 5;
      const ref = new Date(0);
      ref.setUTCFullYear(y, m - 1, d);
      assert.equal(daysFromCivil(y, m, d), Math.floor(ref.getTime() / 86400000), `${y}-${m}-${d}`);
    }
    assert.equal(utcSeconds(2023, 11, 14, 22, 13, 20), 1700000000);
  });

  test('localSeconds normalizes like mktime', () => {
    assert.equal(localSeconds(2023, 2, 30, 0, 0, 0), utcSeconds(2023, 3, 2, 0, 0, 0));
    assert.equal(inZone('Asia/Kolkata', () => localSeconds(2023, 11, 15, 3, 43, 20)), 1700000000);
  });
});

describe('time arguments (-s, -t, -p)', () => {
  const now = 1700000000; // Tue 2023-11-14 22:13:20 UTC
  const cases: Array<[string, number | undefined]> = [
    ['now', now],
    ['today', 1699920000],
    ['yesterday', 1699833600],
    ['tomorrow', 1700006400],
    ['2023-11-14 22:16:40', 1700000200],
    ['2023-11-14T22:16:40', 1700000200],
    ['2023-11-14 22:16', 1700000160],
    ['2023-11-14 7:05', 1699945500],
    ['2023-11-14', 1699920000],
    ['20231114221640', 1700000200],
    ['22:16', 1700000160],
    ['22:16:40', 1700000200],
    ['Tue 2023-11-14 22:16:40', 1700000200],
    ['2023-02-30', utcSeconds(2023, 3, 2, 0, 0, 0)],
    ['+1h', now + 3600],
    ['-1days', now - 86400],
    ['+1 hour', now + 3600],
    ['5 days ago', now - 5 * 86400],
    ['1h 30min ago', now - 5400],
    ['-2d', now - 172800],
    // What util-linux refuses
    ['Wed 2023-11-14 22:16:40', undefined],
    ['2023-11-14 24:00:00', undefined],
    ['@1700003900', undefined],
    ['20231114', undefined],
    ['2023-11-14T22:16:40Z', undefined],
    ['now -1d', undefined],
    ['xyz', undefined],
    ['', undefined],
  ];
  for (const [text, want] of cases) test(JSON.stringify(text), () => assert.equal(parseTimeSpec(text, now), want));
});
