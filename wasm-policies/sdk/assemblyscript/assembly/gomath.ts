// Go-compatible math: these functions return the same bits as Go's math
// package does in a GOOS=wasip1 build (Go's portable implementations,
// ported line by line). AssemblyScript's Math.exp and Math.log are ports of
// musl and may differ from Go's in the last bit; a contract ported from Go
// whose state holds such results must use these to keep the same states
// (and so the same digests).

const SHIFT: u64 = 52;
const MASK: u64 = 0x7ff;
const BIAS: i32 = 1023;

// normalize returns a normal number y and exponent exp with x == y × 2**exp.
function normalize(x: f64, e: i32[]): f64 {
  if (Math.abs(x) < 2.2250738585072014e-308) {
    e[0] = -52;
    return x * 4503599627370496.0; // 1 << 52
  }
  e[0] = 0;
  return x;
}

const scratch: i32[] = [0];

/** Go's math.Ldexp: frac × 2**exp. */
export function ldexp(frac: f64, exp: i32): f64 {
  if (frac == 0 || !isFinite(frac)) return frac;
  frac = normalize(frac, scratch);
  exp += scratch[0];
  let x = reinterpret<u64>(frac);
  exp += (<i32>((x >> SHIFT) & MASK)) - BIAS;
  if (exp < -1075) return frac < 0 ? -0.0 : 0.0;
  if (exp > 1023) return frac < 0 ? -Infinity : Infinity;
  let m: f64 = 1;
  if (exp < -1022) {
    exp += 53;
    m = 1.0 / 9007199254740992.0; // 2**-53
  }
  x &= ~(MASK << SHIFT);
  x |= (<u64>(exp + BIAS)) << SHIFT;
  return m * reinterpret<f64>(x);
}

/** Go's math.Frexp: returns frac in [½, 1) and sets exp[0]. */
export function frexp(f: f64, exp: i32[]): f64 {
  if (f == 0 || !isFinite(f)) {
    exp[0] = 0;
    return f;
  }
  f = normalize(f, exp);
  let x = reinterpret<u64>(f);
  exp[0] += (<i32>((x >> SHIFT) & MASK)) - BIAS + 1;
  x &= ~(MASK << SHIFT);
  x |= (<u64>(-1 + BIAS)) << SHIFT;
  return reinterpret<f64>(x);
}

/** Go's math.Exp (portable implementation). */
export function exp(x: f64): f64 {
  const Ln2Hi = 6.93147180369123816490e-01;
  const Ln2Lo = 1.90821492927058770002e-10;
  const Log2e = 1.44269504088896338700e+00;
  const Overflow = 7.09782712893383973096e+02;
  const Underflow = -7.45133219101941108420e+02;
  const NearZero = 1.0 / 268435456.0; // 2**-28
  if (isNaN(x) || x == Infinity) return x;
  if (x == -Infinity) return 0;
  if (x > Overflow) return Infinity;
  if (x < Underflow) return 0;
  if (-NearZero < x && x < NearZero) return 1 + x;
  let k: i32 = 0;
  if (x < 0) k = <i32>(Log2e * x - 0.5);
  else if (x > 0) k = <i32>(Log2e * x + 0.5);
  const hi = x - (<f64>k) * Ln2Hi;
  const lo = (<f64>k) * Ln2Lo;
  return expmulti(hi, lo, k);
}

function expmulti(hi: f64, lo: f64, k: i32): f64 {
  const P1 = 1.66666666666666657415e-01;
  const P2 = -2.77777777770155933842e-03;
  const P3 = 6.61375632143793436117e-05;
  const P4 = -1.65339022054652515390e-06;
  const P5 = 4.13813679705723846039e-08;
  const r = hi - lo;
  const t = r * r;
  const c = r - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))));
  const y = 1 - ((lo - (r * c) / (2 - c)) - hi);
  return ldexp(y, k);
}

/** Go's math.Log (portable implementation). */
export function log(x: f64): f64 {
  const Ln2Hi = 6.93147180369123816490e-01;
  const Ln2Lo = 1.90821492927058770002e-10;
  const L1 = 6.666666666666735130e-01;
  const L2 = 3.999999999940941908e-01;
  const L3 = 2.857142874366239149e-01;
  const L4 = 2.222219843214978396e-01;
  const L5 = 1.818357216161805012e-01;
  const L6 = 1.531383769920937332e-01;
  const L7 = 1.479819860511658591e-01;
  if (isNaN(x) || x == Infinity) return x;
  if (x < 0) return NaN;
  if (x == 0) return -Infinity;
  let f1 = frexp(x, scratch);
  let ki = scratch[0];
  if (f1 < 0.7071067811865476) { // Sqrt2/2
    f1 *= 2;
    ki--;
  }
  const f = f1 - 1;
  const k = <f64>ki;
  const s = f / (2 + f);
  const s2 = s * s;
  const s4 = s2 * s2;
  const t1 = s2 * (L1 + s4 * (L3 + s4 * (L5 + s4 * L7)));
  const t2 = s4 * (L2 + s4 * (L4 + s4 * L6));
  const R = t1 + t2;
  const hfsq = 0.5 * f * f;
  return k * Ln2Hi - ((hfsq - (s * (hfsq + R) + k * Ln2Lo)) - f);
}

/** Go's math.Round: half away from zero (JavaScript's Math.round is half up). */
export function round(x: f64): f64 {
  let bits = reinterpret<u64>(x);
  let e = (bits >> SHIFT) & MASK;
  if (e < <u64>BIAS) {
    bits &= 1 << 63;
    if (e == <u64>(BIAS - 1)) bits |= 0x3FF0000000000000;
  } else if (e < <u64>BIAS + SHIFT) {
    const half: u64 = 1 << (SHIFT - 1);
    e -= <u64>BIAS;
    bits += half >> e;
    bits &= ~(((<u64>1 << SHIFT) - 1) >> e);
  }
  return reinterpret<f64>(bits);
}
