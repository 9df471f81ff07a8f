// custos contract SDK for AssemblyScript: ABI v1 (wasm-policies/ABI.md).
//
// A contract extends Contract, calls register() at top level and re-exports
// the entry points from its entry file:
//
//   import { Contract, Event, Output, State, register } from "<sdk>/assembly";
//   class MyPolicy extends Contract { ... }
//   register(new MyPolicy());
//   export { custos_abi_v1, custos_event_flags, custos_alloc, custos_reset,
//            custos_init, custos_apply, custos_view } from "<sdk>/assembly";
//
// (add custos_migrate to the list if the contract overrides migrate).
// Build with --runtime minimal --use abort= (no imports at all; see
// build.sh). Inputs live in unmanaged memory handed out by custos_alloc and
// freed by custos_reset; the output buffer is unmanaged too and lives until
// the next call. The minimal runtime never collects by itself (and has no
// write barriers, which made the incremental runtime's apply ~1.7× slower):
// the SDK runs a full collection at the start of an entry call — when no
// managed reference is on the stack — every 1024 calls, or sooner when the
// last call grew the memory.

import { round } from "./gomath";
export { exp, log, round, ldexp, frexp } from "./gomath";

// Event kinds (ABI v1 §3).
export const KIND_READING: u8 = 1;
export const KIND_TIMER: u8 = 2;
export const KIND_CREATE: u8 = 3;
export const KIND_CUSTODY: u8 = 4;
export const KIND_STATUS: u8 = 5;
export const KIND_AGGREGATE: u8 = 6;
export const KIND_DISAGGREGATE: u8 = 7;
export const KIND_UPGRADE: u8 = 8;

// Reading types.
export const TYPE_TEMPERATURE: u8 = 1;
export const TYPE_HUMIDITY: u8 = 2;
export const TYPE_SHOCK: u8 = 3;
export const TYPE_DOOR: u8 = 4;
export const TYPE_LOCATION: u8 = 5;
export const TYPE_BATTERY: u8 = 6;
export const TYPE_LIGHT: u8 = 7;
export const TYPE_TILT: u8 = 8;

// Event flags (ABI v1 §3): bit 0, the event's time is earlier than the
// twin's event-time watermark when it was applied.
export const FLAG_LATE: u16 = 1;

// Timer clocks (the second field of a timer event).
export const CLOCK_EVENT = "event";
export const CLOCK_PROCESSING = "processing";

// Alert severities.
export const INFO: u8 = 1;
export const WARNING: u8 = 2;
export const CRITICAL: u8 = 3;

// Field indexes.
export const FIELD_SENSOR = 0;
export const FIELD_UNIT = 1;
export const FIELD_TIMER_NAME = 0;
export const FIELD_TIMER_CLOCK = 1;
export const FIELD_TWIN_KIND = 0;
export const FIELD_PARAMS = 1;
export const FIELD_CUSTODIAN = 2;
export const FIELD_PARENT = 3;
export const FIELD_FROM = 0;
export const FIELD_TO = 1;
export const FIELD_STATUS = 0;
export const FIELD_FROM_MODULE = 0;
export const FIELD_FROM_VERSION = 1;
export const FIELD_TO_VERSION = 2;

/** A byte range in linear memory (an input the host wrote). */
@final export class Bytes {
  constructor(public ptr: usize = 0, public len: i32 = 0) {}
  u8(off: i32): u8 { return load<u8>(this.ptr + <usize>off); }
  u64(off: i32): u64 { return load<u64>(this.ptr + <usize>off); }
  i64(off: i32): i64 { return load<i64>(this.ptr + <usize>off); }
  f64(off: i32): f64 { return load<f64>(this.ptr + <usize>off); }
  /** Decodes the bytes as UTF-8 (allocates). */
  toString(): string { return String.UTF8.decodeUnsafe(this.ptr, <usize>this.len); }
  /** Reports whether the bytes are the UTF-8 encoding of the ASCII string s (no allocation). */
  equals(s: string): bool {
    if (s.length != this.len) return false;
    for (let i = 0; i < this.len; i++) {
      if (<i32>load<u8>(this.ptr + <usize>i) != s.charCodeAt(i)) return false;
    }
    return true;
  }
}

/** A decoded event (ABI v1 §3). Valid until the call returns. */
@final export class Event {
  kind: u8 = 0;
  type: u8 = 0;
  flags: u16 = 0; // FLAG_LATE; other bits are 0 today and must be ignored
  time: i64 = 0; // Unix ns
  seq: u64 = 0;
  value: f64 = 0;
  value2: f64 = 0;
  private offs: StaticArray<u32> = new StaticArray<u32>(16);
  private lens: StaticArray<u32> = new StaticArray<u32>(16);
  private n: i32 = 0;
  private base: usize = 0;
  private field0: Bytes = new Bytes();

  /** Decodes len bytes at ptr; traps on a malformed encoding. */
  decode(ptr: usize, len: usize): void {
    if (len < 40) unreachable();
    this.kind = load<u8>(ptr);
    this.type = load<u8>(ptr, 1);
    this.flags = load<u16>(ptr, 2);
    const n = load<u32>(ptr, 4);
    this.time = load<i64>(ptr, 8);
    this.seq = load<u64>(ptr, 16);
    this.value = load<f64>(ptr, 24);
    this.value2 = load<f64>(ptr, 32);
    if (<u64>n * 4 > <u64>(len - 40)) unreachable();
    if (<i32>n > this.offs.length) {
      this.offs = new StaticArray<u32>(<i32>n);
      this.lens = new StaticArray<u32>(<i32>n);
    }
    let off: usize = 40;
    for (let i: u32 = 0; i < n; i++) {
      if (off + 4 > len) unreachable();
      const l = <usize>load<u32>(ptr + off);
      off += 4;
      if (off + l > len) unreachable();
      unchecked(this.offs[i] = <u32>off);
      unchecked(this.lens[i] = <u32>l);
      off += l;
    }
    if (off != len) unreachable();
    this.n = <i32>n;
    this.base = ptr;
  }

  get numFields(): i32 { return this.n; }

  /** The event's time is earlier than the twin's watermark: event-time timers due before it have fired. */
  get late(): bool { return (this.flags & FLAG_LATE) != 0; }

  /** The clock of a timer event: CLOCK_EVENT or CLOCK_PROCESSING ("" for other kinds; allocates). */
  get timerClock(): string { return this.kind == KIND_TIMER ? this.fieldString(FIELD_TIMER_CLOCK) : ""; }

  /** A timer event fired by the server's clock (SetProcessingTimer), not by the watermark. */
  get processingTimer(): bool { return this.kind == KIND_TIMER && this.field(FIELD_TIMER_CLOCK).equals(CLOCK_PROCESSING); }

  /** Field i as a byte range (empty if absent). The returned object is reused by the next call. */
  field(i: i32): Bytes {
    const b = this.field0;
    if (i < 0 || i >= this.n) {
      b.ptr = 0;
      b.len = 0;
    } else {
      b.ptr = this.base + <usize>unchecked(this.offs[i]);
      b.len = <i32>unchecked(this.lens[i]);
    }
    return b;
  }

  /** Field i decoded as a string (allocates). */
  fieldString(i: i32): string { return this.field(i).toString(); }
}

/** What a call returns besides the state. Reset before every call. */
@final export class Output {
  status: string = "";
  rejected: string = "";
  view: string = "";
  alertSev: u8[] = [];
  alertCode: string[] = [];
  alertMsg: string[] = [];
  timerOp: u8[] = [];
  timerAt: i64[] = [];
  timerName: string[] = [];
  // The new state: stateLen bytes at statePtr (an SDK buffer or an input).
  statePtr: usize = 0;
  stateLen: i32 = 0;

  reset(): void {
    this.status = "";
    this.rejected = "";
    this.view = "";
    this.alertSev.length = 0;
    this.alertCode.length = 0;
    this.alertMsg.length = 0;
    this.timerOp.length = 0;
    this.timerAt.length = 0;
    this.timerName.length = 0;
    this.statePtr = 0;
    this.stateLen = 0;
  }

  setStatus(s: string): void { this.status = s; }
  alert(severity: u8, code: string, message: string): void {
    this.alertSev.push(severity);
    this.alertCode.push(code);
    this.alertMsg.push(message);
  }
  /** Sets an event-time timer: fires when the twin's watermark reaches at (Unix ns of event time, > 0). */
  setTimer(name: string, at: i64): void {
    this.timerOp.push(1);
    this.timerAt.push(at);
    this.timerName.push(name);
  }
  /** Sets a processing-time timer: fires by the server's clock, delay ns (> 0) after this event is applied. */
  setProcessingTimer(name: string, delay: i64): void {
    this.timerOp.push(3);
    this.timerAt.push(delay);
    this.timerName.push(name);
  }
  /** Cancels the timer called name (either clock). */
  cancelTimer(name: string): void {
    this.timerOp.push(2);
    this.timerAt.push(0);
    this.timerName.push(name);
  }
  setView(json: string): void { this.view = json; }
  /** Refuses the event: nothing changes; the input goes to the dead-letter subject. */
  reject(reason: string): void { this.rejected = reason; }

  /** Returns a buffer of at least n bytes for the new state and makes the state its first n bytes. */
  stateBuffer(n: i32): usize {
    if (n > stateCap) {
      if (stateBuf != 0) heap.free(stateBuf);
      stateCap = max(n, 256);
      stateBuf = heap.alloc(<usize>stateCap);
    }
    this.statePtr = stateBuf;
    this.stateLen = n;
    return stateBuf;
  }
  /** Keeps the input state unchanged. */
  keepState(state: Bytes): void {
    this.statePtr = state.ptr;
    this.stateLen = state.len;
  }
}

let stateBuf: usize = 0;
let stateCap: i32 = 0;

/** A contract. Override init and apply; view and migrate are optional. */
export abstract class Contract {
  /** custos_init: the create event (fields [kind, params JSON, custodian, parent]). */
  abstract init(ev: Event, out: Output): void;
  /** custos_apply: one event on state. */
  abstract apply(state: Bytes, ev: Event, out: Output): void;
  /** custos_view: the JSON view of state (out.setView). */
  view(state: Bytes, out: Output): void {}
  /** custos_migrate: turn another module's state into this one's (ev is the upgrade event). */
  migrate(state: Bytes, ev: Event, out: Output): void { unreachable(); }
}

let contract: Contract | null = null;
const event = new Event();
const output = new Output();
const stateIn = new Bytes();

/** Installs c as the contract this module runs. Call it at top level. */
export function register(c: Contract): void { contract = c; }

// ---- ABI v1 entry points ----

// Input regions: unmanaged blocks, freed by custos_reset.
const regions: usize[] = [];

export function custos_abi_v1(): void {}
/** Tells the host this module reads the event flags (the LATE bit, ABI.md §3). */
export function custos_event_flags(): void {}

let calls: u32 = 0;
let pages: i32 = 0;

// gc collects garbage between calls (see the top of this file).
@inline function gc(): void {
  calls++;
  if ((calls & 1023) == 0 || memory.size() != pages) {
    __collect();
    pages = memory.size();
  }
}

export function custos_alloc(n: u32): usize {
  const p = heap.alloc(<usize>max<u32>(n, 8));
  regions.push(p);
  return p;
}

export function custos_reset(): void {
  for (let i = 0; i < regions.length; i++) heap.free(unchecked(regions[i]));
  regions.length = 0;
}

export function custos_init(ep: usize, el: u32): u64 {
  gc();
  event.decode(ep, <usize>el);
  output.reset();
  contract!.init(event, output);
  return finish(true);
}

export function custos_apply(sp: usize, sl: u32, ep: usize, el: u32): u64 {
  gc();
  event.decode(ep, <usize>el);
  stateIn.ptr = sp;
  stateIn.len = <i32>sl;
  output.reset();
  contract!.apply(stateIn, event, output);
  return finish(true);
}

export function custos_view(sp: usize, sl: u32): u64 {
  gc();
  stateIn.ptr = sp;
  stateIn.len = <i32>sl;
  output.reset();
  contract!.view(stateIn, output);
  return finish(false);
}

export function custos_migrate(sp: usize, sl: u32, ep: usize, el: u32): u64 {
  gc();
  event.decode(ep, <usize>el);
  stateIn.ptr = sp;
  stateIn.len = <i32>sl;
  output.reset();
  contract!.migrate(stateIn, event, output);
  return finish(true);
}

// ---- output encoding (ABI v1 §4) ----

let outBuf: usize = 0;
let outCap: usize = 0;
let outLen: usize = 0;

function reserve(n: usize): void {
  if (outLen + n <= outCap) return;
  let c = max<usize>(outCap * 2, 1024);
  while (c < outLen + n) c *= 2;
  const nb = heap.alloc(c);
  if (outBuf != 0) {
    memory.copy(nb, outBuf, outLen);
    heap.free(outBuf);
  }
  outBuf = nb;
  outCap = c;
}

function putU32(v: u32): void {
  reserve(4);
  store<u32>(outBuf + outLen, v);
  outLen += 4;
}

function putBytes(p: usize, n: usize): void {
  putU32(<u32>n);
  reserve(n);
  memory.copy(outBuf + outLen, p, n);
  outLen += n;
}

function putString(s: string): void {
  const n = <usize>String.UTF8.byteLength(s);
  putU32(<u32>n);
  reserve(n);
  String.UTF8.encodeUnsafe(changetype<usize>(s), s.length, outBuf + outLen);
  outLen += n;
}

function finish(withState: bool): u64 {
  const o = output;
  outLen = 0;
  putU32(1); // version 1 and three zero bytes
  if (withState && o.rejected.length == 0) putBytes(o.statePtr, <usize>o.stateLen);
  else putU32(0);
  putString(o.status);
  putString(o.view);
  putString(o.rejected);
  const na = o.alertSev.length;
  putU32(<u32>na);
  for (let i = 0; i < na; i++) {
    putU32(<u32>unchecked(o.alertSev[i]));
    putString(unchecked(o.alertCode[i]));
    putString(unchecked(o.alertMsg[i]));
  }
  const nt = o.timerOp.length;
  putU32(<u32>nt);
  for (let i = 0; i < nt; i++) {
    putU32(<u32>unchecked(o.timerOp[i]));
    reserve(8);
    store<i64>(outBuf + outLen, unchecked(o.timerAt[i]));
    outLen += 8;
    putString(unchecked(o.timerName[i]));
  }
  return (<u64>outBuf << 32) | <u64>outLen;
}

// ---- helpers for contracts ----

/** Go's strconv-free fixed formatting used by the reference contracts: v rounded to 3 decimals, no trailing zeros. */
export function fixed(v: f64): string {
  if (!(Math.abs(v) < 1e15)) return v.toString();
  let m = <i64>round(v * 1000);
  let s = "";
  if (m < 0) {
    s = "-";
    m = -m;
  }
  s += (m / 1000).toString();
  const frac = <i32>(m % 1000);
  if (frac == 0) return s;
  let d = "." + String.fromCharCode(48 + frac / 100) + String.fromCharCode(48 + (frac / 10) % 10) + String.fromCharCode(48 + frac % 10);
  while (d.charCodeAt(d.length - 1) == 48) d = d.substring(0, d.length - 1);
  return s + d;
}
export { jsonNumber, JSON_ABSENT, JSON_NUMBER, JSON_NOT_NUMBER, JSON_MALFORMED } from "./json";
