// Text helpers shared by the who / last / dump formatters.
//
// The C tools print field bytes as they are and pad by bytes (printf "%-8s"), so the
// formatters work on latin1 strings: one character per byte. Output goes out with the
// 'latin1' encoding and every byte comes back unchanged, UTF-8 or not.

/** A NUL-padded fixed field as a byte string: the bytes before the first NUL (strncpy). */
export function fieldBytes(buf: Buffer, start: number, size: number): string {
  let end = buf.indexOf(0, start);
  if (end < 0 || end > start + size) end = start + size;
  return buf.toString('latin1', start, end);
}

/** printf("%-W.Ws"): cut to w, then pad with spaces to w. */
export function fit(s: string, w: number): string {
  return s.length > w ? s.slice(0, w) : s.padEnd(w);
}

/** The C tools drop trailing blanks from each line; so do we. */
export function trimEnd(s: string): string {
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 32) end--;
  return end === s.length ? s : s.slice(0, end);
}

/** C's "%02d": at least two digits, the sign counted in the width ("-5", "05", "-15"). */
export function int02(n: number): string {
  const s = String(n);
  return s.length < 2 ? `0${s}` : s;
}

/** Byte strings (latin1) to UTF-8 text for JSON; invalid sequences become U+FFFD. */
export function utf8(bytes: string): string {
  return /[\x80-\xff]/.test(bytes) ? Buffer.from(bytes, 'latin1').toString('utf8') : bytes;
}

/**
 * JSON text for a terminal: JSON.stringify escapes C0 but leaves DEL and C1 (U+0080-U+009F,
 * CSI among them) raw, and record bytes are anyone's. As \uXXXX they parse the same.
 */
export function terminalSafeJson(json: string): string {
  return json.replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
