// The one escape every reader applies to record fields (src/format/escape.ts): controls
// never go out raw, text without them goes out unchanged, and the escapes read back.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { safeText, safeUnicode, unescapeText } from '../../src/format/escape.js';

/** Any byte a terminal acts on: C0 controls, DEL, and single C1 bytes. */
const RAW_CONTROL = /[\x00-\x1f\x7f-\x9f]/;

/** Valid UTF-8 of characters from U+00A0 (written out here, not taken from escape.ts). */
const UTF8_PRINTABLE =
  /\xc2[\xa0-\xbf]|[\xc3-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2}/g;

/** A tiny seeded generator, so a failure names its case. */
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4_294_967_296;
  };
}

describe('safeText', () => {
  test('every C0 control, DEL and single C1 byte is \\xHH', () => {
    for (let c = 0; c < 0x20; c++) assert.equal(safeText(String.fromCharCode(c)), `\\x${c.toString(16).padStart(2, '0')}`);
    assert.equal(safeText('\x7f'), '\\x7f');
    for (let c = 0x80; c <= 0x9f; c++) assert.equal(safeText(String.fromCharCode(c)), `\\x${c.toString(16)}`);
  });

  test('the spoofs of issue 8: a carriage return, a newline, terminal sequences', () => {
    assert.equal(safeText('\rroot     pts/0 '), '\\x0droot     pts/0 ');
    assert.equal(safeText('evil\nroot     pts/1'), 'evil\\x0aroot     pts/1');
    assert.equal(safeText('\x1b]0;owned\x07\x1b[2J'), '\\x1b]0;owned\\x07\\x1b[2J');
    assert.equal(safeText('a\tb'), 'a\\x09b');
    // C1 CSI as a single byte and in UTF-8 (U+009B).
    assert.equal(safeText('\x9b2J'), '\\x9b2J');
    assert.equal(safeText('\xc2\x9b2J'), '\\xc2\\x9b2J');
  });

  test('text without controls is unchanged, UTF-8 and Latin-1 bytes included', () => {
    for (const s of ['', 'root', 'pts/0', 'client.example.net:0.0', 'j\xc3\xb6rg', '\xe2\x82\xac', 'caf\xe9', 'a\\b', '\\x', '\\x4', '\\x41', '\\xzz', '[]?*']) {
      assert.equal(safeText(s), s, JSON.stringify(s));
    }
  });

  test('a backslash is escaped only where it would read as an escape', () => {
    assert.equal(safeText('\\x0d'), '\\x5cx0d');
    assert.equal(safeText('\\x5c'), '\\x5cx5c');
    assert.equal(safeText('\\X0d\\x0D'), '\\X0d\\x5cx0D');
    assert.equal(safeText('\\x9f\\xa0'), '\\x5cx9f\\xa0');
  });

  test('bytes from 0x80 as last shows them: octal in the C locale, UTF-8 in a UTF-8 one', () => {
    assert.equal(safeText('j\xc3\xb6rg\x1b', 'octal'), 'j\\303\\266rg\\x1b');
    assert.equal(safeText('j\xc3\xb6rg\x1b', 'utf8'), 'j\xc3\xb6rg\\x1b');
    assert.equal(safeText('a\x80\x9f\xa0\xc2\x85', 'utf8'), 'a\\200\\237\\240\\302\\205');
  });

  test('no mode lets a raw control through (random bytes)', () => {
    const next = random(8);
    for (let n = 0; n < 2000; n++) {
      let s = '';
      const len = Math.floor(next() * 24);
      for (let i = 0; i < len; i++) s += String.fromCharCode(next() < 0.3 ? 0x5c : Math.floor(next() * 256));
      for (const mode of ['raw', 'octal', 'utf8'] as const) {
        const out = safeText(s, mode);
        // What is left from 0x80 may only be whole UTF-8 characters from U+00A0 on.
        assert.ok(!RAW_CONTROL.test(out.replace(UTF8_PRINTABLE, 'u')), `${mode} ${JSON.stringify(s)} -> ${JSON.stringify(out)}`);
        if (mode === 'raw') assert.equal(unescapeText(out), s, `round trip of ${JSON.stringify(s)}`);
      }
    }
  });
});

describe('unescapeText', () => {
  test('decodes exactly what safeText escapes', () => {
    assert.equal(unescapeText('\\x0droot'), '\rroot');
    assert.equal(unescapeText('\\x5cx0d'), '\\x0d');
    assert.equal(unescapeText('\\x1B'), '\x1b');
    // Look-alikes that name no control stay as they are.
    assert.equal(unescapeText('\\x41 \\xa0 \\x4 \\q'), '\\x41 \\xa0 \\x4 \\q');
  });
});

describe('safeUnicode (decoded strings, for --follow lines)', () => {
  test('the same escapes; other characters unchanged', () => {
    assert.equal(safeUnicode('\rroot\u009b\u00e9\u20ac'), '\\x0droot\\xc2\\x9b\u00e9\u20ac');
    assert.equal(safeUnicode('plain'), 'plain');
  });
});
