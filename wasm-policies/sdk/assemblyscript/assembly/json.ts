// A minimal reader for the top level of a JSON object (contract params).

import { Bytes } from "./index";

export const JSON_ABSENT = 0; // key absent or null
export const JSON_NUMBER = 1;
export const JSON_NOT_NUMBER = -1;
export const JSON_MALFORMED = -2;

let p: usize = 0;
let end: usize = 0;

function ws(): void {
  while (p < end) {
    const c = load<u8>(p);
    if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) return;
    p++;
  }
}

// skipString skips a string starting at p (which is '"'); false if malformed.
function skipString(): bool {
  p++;
  while (p < end) {
    const c = load<u8>(p++);
    if (c == 0x5c) p++; // backslash: skip the escaped byte
    else if (c == 0x22) return true;
  }
  return false;
}

function skipValue(): bool {
  ws();
  if (p >= end) return false;
  const c = load<u8>(p);
  if (c == 0x22) return skipString();
  if (c == 0x7b || c == 0x5b) {
    let depth = 0;
    while (p < end) {
      const d = load<u8>(p);
      if (d == 0x22) {
        if (!skipString()) return false;
        continue;
      }
      if (d == 0x7b || d == 0x5b) depth++;
      else if (d == 0x7d || d == 0x5d) {
        depth--;
        if (depth == 0) {
          p++;
          return true;
        }
      }
      p++;
    }
    return false;
  }
  while (p < end) {
    const d = load<u8>(p);
    if (d == 0x2c || d == 0x7d || d == 0x5d || d == 0x20 || d == 0x0a || d == 0x0d || d == 0x09) break;
    p++;
  }
  return true;
}

function keyIs(kp: usize, kl: usize, key: string): bool {
  if (<i32>kl != key.length) return false;
  for (let i = 0; i < key.length; i++) {
    let c = <i32>load<u8>(kp + <usize>i);
    if (c >= 0x41 && c <= 0x5a) c += 32; // ASCII case folding, as Go's encoding/json matches keys
    if (c != key.charCodeAt(i)) return false;
  }
  return true;
}

const POW10: f64[] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];

// parseNumber parses a JSON number in [s, e). Exact (correctly rounded) for
// up to 15 significant digits and decimal exponents within ±22, which
// covers every practical parameter; longer numbers fall back to parseFloat.
function parseNumber(s: usize, e: usize, out: f64[]): bool {
  let q = s;
  let neg = false;
  if (q < e && load<u8>(q) == 0x2d) {
    neg = true;
    q++;
  }
  let mant: u64 = 0;
  let digits = 0;
  let exp10 = 0;
  let any = false;
  while (q < e && load<u8>(q) >= 0x30 && load<u8>(q) <= 0x39) {
    if (digits < 19) {
      mant = mant * 10 + <u64>(load<u8>(q) - 0x30);
      if (mant != 0) digits++;
    } else exp10++;
    q++;
    any = true;
  }
  if (q < e && load<u8>(q) == 0x2e) {
    q++;
    while (q < e && load<u8>(q) >= 0x30 && load<u8>(q) <= 0x39) {
      if (digits < 19) {
        mant = mant * 10 + <u64>(load<u8>(q) - 0x30);
        if (mant != 0) digits++;
        exp10--;
      }
      q++;
      any = true;
    }
  }
  if (!any) return false;
  if (q < e && (load<u8>(q) | 0x20) == 0x65) {
    q++;
    let eneg = false;
    if (q < e && (load<u8>(q) == 0x2d || load<u8>(q) == 0x2b)) {
      eneg = load<u8>(q) == 0x2d;
      q++;
    }
    let ev = 0;
    let edig = false;
    while (q < e && load<u8>(q) >= 0x30 && load<u8>(q) <= 0x39) {
      if (ev < 100000) ev = ev * 10 + <i32>(load<u8>(q) - 0x30);
      q++;
      edig = true;
    }
    if (!edig) return false;
    exp10 += eneg ? -ev : ev;
  }
  if (q != e) return false;
  let v: f64;
  if (mant == 0) v = 0;
  else if (digits <= 15 && exp10 >= -22 && exp10 <= 22) {
    v = <f64>mant;
    v = exp10 < 0 ? v / unchecked(POW10[-exp10]) : v * unchecked(POW10[exp10]);
  } else {
    v = parseFloat(String.UTF8.decodeUnsafe(s, e - s));
  }
  out[0] = neg ? -v : v;
  return true;
}

/**
 * Looks up key (lower case) at the top level of the JSON object in b.
 * Returns JSON_NUMBER (value in out[0]), JSON_ABSENT (missing or null),
 * JSON_NOT_NUMBER or JSON_MALFORMED. The last occurrence of a key wins.
 */
export function jsonNumber(b: Bytes, key: string, out: f64[]): i32 {
  p = b.ptr;
  end = b.ptr + <usize>b.len;
  ws();
  if (p >= end || load<u8>(p) != 0x7b) return JSON_MALFORMED;
  p++;
  let result = JSON_ABSENT;
  ws();
  if (p < end && load<u8>(p) == 0x7d) return result;
  while (true) {
    ws();
    if (p >= end || load<u8>(p) != 0x22) return JSON_MALFORMED;
    const ks = p + 1;
    if (!skipString()) return JSON_MALFORMED;
    const kl = p - 1 - ks;
    ws();
    if (p >= end || load<u8>(p) != 0x3a) return JSON_MALFORMED;
    p++;
    ws();
    const vs = p;
    if (!skipValue()) return JSON_MALFORMED;
    if (keyIs(ks, kl, key)) {
      const c = load<u8>(vs);
      if (c == 0x6e) result = JSON_ABSENT; // null
      else if (c == 0x2d || (c >= 0x30 && c <= 0x39)) {
        if (!parseNumber(vs, p, out)) return JSON_MALFORMED;
        result = JSON_NUMBER;
      } else result = JSON_NOT_NUMBER;
    }
    ws();
    if (p >= end) return JSON_MALFORMED;
    const c = load<u8>(p++);
    if (c == 0x7d) return result;
    if (c != 0x2c) return JSON_MALFORMED;
  }
}
