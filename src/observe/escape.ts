/**
 * Client-supplied text (SNI, Host, ALPN, anything read off the wire) is escaped before it goes
 * into a log: printable ASCII stays, everything else becomes \xNN, and it is cut at 256 chars.
 */
export function escapeClientText(s: string | undefined, max = 256): string | undefined {
  if (s === undefined) return undefined;
  let out = '';
  for (let i = 0; i < s.length && out.length < max; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c <= 0x7e && c !== 0x5c) out += s[i];
    else if (c === 0x5c) out += '\\\\';
    else out += '\\x' + (c & 0xff).toString(16).padStart(2, '0');
  }
  return out.length >= max && s.length > max ? out + '...' : out;
}
