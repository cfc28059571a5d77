// The timeline's pure parts: the time axis (round local times from minutes to years),
// record text for XML, and lastlog's table of latest logins (bounded by distinct users).

process.env.TZ = 'UTC';

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { LatestLogins, lastlogTime } from '../../src/format/lastlog.js';
import { resetZoneCache } from '../../src/format/time.js';
import { axisTicks, xmlText } from '../../src/format/timeline.js';
import { buildRecord } from '../../src/record/index.js';

resetZoneCache();

const T = Date.UTC(2023, 10, 14, 22, 13, 20) / 1000; // Tue Nov 14 22:13:20 2023
const MIN = 60;
const HOUR = 3600;
const DAY = 86_400;

describe('axisTicks', () => {
  const cases: Array<[string, number, number, RegExp]> = [
    ['5 minutes', 5 * MIN, MIN, /^\d\d:\d\d$/],
    ['40 minutes', 40 * MIN, 5 * MIN, /^\d\d:\d\d$/],
    ['3 hours', 3 * HOUR, 30 * MIN, /^\d\d:\d\d$/],
    ['20 hours', 20 * HOUR, 2 * HOUR, /^\d\d:\d\d$/],
    ['4 days', 4 * DAY, 12 * HOUR, /^\d\d:\d\d$/],
    ['9 days', 9 * DAY, DAY, /^[A-Z][a-z]{2} \d{1,2}$/],
    ['15 days', 15 * DAY, 2 * DAY, /^[A-Z][a-z]{2} \d{1,2}$/],
    ['60 days', 60 * DAY, 7 * DAY, /^[A-Z][a-z]{2} \d{1,2}$/],
  ];
  for (const [name, span, step, label] of cases) {
    test(`${name}: ticks every ${step} s at round times, 2 to 10 of them`, () => {
      const ticks = axisTicks(T, T + span);
      assert.ok(ticks.length >= 2 && ticks.length <= 10, `${ticks.length} ticks`);
      for (const t of ticks) {
        assert.ok(t.time >= T && t.time <= T + span);
        assert.equal(t.time % Math.min(step, DAY) === 0 || step >= 7 * DAY, true, `${t.label} is round`);
        assert.match(t.label, label);
      }
      for (let i = 1; i < ticks.length; i++) assert.equal(ticks[i].time - ticks[i - 1].time, step);
    });
  }

  test('sub-day ticks carry their date; day ticks fall on midnights, weeks on Mondays', () => {
    const hours = axisTicks(T, T + 6 * HOUR);
    assert.deepEqual(
      hours.map((t) => `${t.day} ${t.label}`),
      ['Nov 14 2023 23:00', 'Nov 15 2023 00:00', 'Nov 15 2023 01:00', 'Nov 15 2023 02:00', 'Nov 15 2023 03:00', 'Nov 15 2023 04:00'],
    );
    const weeks = axisTicks(T, T + 60 * DAY);
    for (const t of weeks) assert.equal(new Date(t.time * 1000).getUTCDay(), 1, t.label);
  });

  test('months and years: the 1st of a month, January for years', () => {
    const months = axisTicks(T, T + 200 * DAY);
    assert.ok(months.length >= 2 && months.length <= 10);
    for (const t of months) {
      assert.equal(new Date(t.time * 1000).getUTCDate(), 1);
      assert.match(t.label, /^[A-Z][a-z]{2} \d{4}$/);
    }
    const years = axisTicks(T, T + 6 * 365 * DAY);
    assert.ok(years.length >= 2 && years.length <= 10);
    for (const t of years) {
      assert.equal(new Date(t.time * 1000).getUTCMonth(), 0);
      assert.match(t.label, /^\d{4}$/);
    }
  });
});

describe('xmlText', () => {
  test('markup escaped, controls made visible, UTF-8 decoded, XML non-characters replaced', () => {
    assert.equal(xmlText('a<b>&"\''), 'a&lt;b&gt;&amp;&quot;&apos;');
    assert.equal(xmlText('x\x1b[31m\n'), 'x\\x1b[31m\\x0a');
    assert.equal(xmlText(Buffer.from('é\u0085\uffff', 'utf8').toString('latin1')), 'é\\xc2\\x85\ufffd');
    assert.equal(xmlText('\xff\x80'), '\ufffd\\x80');
  });
});

describe('LatestLogins', () => {
  test('the first login seen per user (records fed newest first); memory is one entry per user', () => {
    const latest = new LatestLogins();
    const recs: Buffer[] = [];
    for (let i = 0; i < 20_000; i++) {
      recs.push(buildRecord({ type: 'USER_PROCESS', line: `pts/${i % 50}`, user: `u${i % 37}`, host: `h${i}`, tvSec: T + i }));
      recs.push(buildRecord({ type: 'DEAD_PROCESS', line: `pts/${i % 50}`, user: `u${i % 37}`, tvSec: T + i }));
    }
    for (let i = recs.length - 1; i >= 0; i--) latest.push(recs[i], 0);
    assert.equal(latest.size, 37);
    const u0 = latest.byUser.get('u0')!;
    // The last i with i % 37 === 0 below 20,000 is 19,980.
    assert.deepEqual(u0, { user: 'u0', line: `pts/${19_980 % 50}`, host: 'h19980', time: T + 19_980 });
    assert.equal(lastlogTime(T), 'Tue Nov 14 22:13:20 +0000 2023');
  });
});
