// coldchain, in AssemblyScript: the cold-chain reference contract
// (wasm-policies/coldchain/policy is the specification), written with the
// AssemblyScript SDK. Same state encoding, same alerts, same view: on the
// same events it produces the same states (and so the same state hashes)
// as the Go build. It also exports custos_migrate, so twins on the Go
// build can be upgraded to it. Build: wasm-policies/sdk/assemblyscript/build.sh.

import {
  Bytes, Contract, Event, Output, register, exp, log, fixed, jsonNumber,
  JSON_NUMBER, JSON_ABSENT, JSON_MALFORMED,
  KIND_READING, KIND_TIMER, KIND_STATUS, TYPE_TEMPERATURE, FIELD_PARAMS, FIELD_TIMER_NAME, FIELD_STATUS,
  INFO, WARNING, CRITICAL,
} from "../../sdk/assemblyscript/assembly/index";

const STATE_LEN = 104;
const FLAG_EXCURSION: u8 = 1;
const FLAG_COMPROMISED: u8 = 2;
const FLAG_HAS_READING: u8 = 4;
const ENERGY_OVER_R = 10000.0;

const LATE_SUFFIX = ", before the last reading: not in the budget or MKT";
const NO_DATA_SUFFIX = " s by the server's clock";

class State {
  flags: u8 = 0;
  noDataS: u32 = 0;
  minC: f64 = 2;
  maxC: f64 = 8;
  budgetNs: i64 = 0;
  lastTime: i64 = 0;
  lastTemp: f64 = 0;
  outNs: i64 = 0;
  excursionStart: i64 = 0;
  mktNum: f64 = 0;
  mktDen: f64 = 0;
  readings: u64 = 0;
  other: u64 = 0;
  late: u64 = 0;

  decode(b: Bytes): void {
    if (b.len != STATE_LEN || b.u8(0) != 1) unreachable(); // corrupt state
    this.flags = b.u8(1);
    this.noDataS = load<u32>(b.ptr, 4);
    this.minC = b.f64(8);
    this.maxC = b.f64(16);
    this.budgetNs = b.i64(24);
    this.lastTime = b.i64(32);
    this.lastTemp = b.f64(40);
    this.outNs = b.i64(48);
    this.excursionStart = b.i64(56);
    this.mktNum = b.f64(64);
    this.mktDen = b.f64(72);
    this.readings = b.u64(80);
    this.other = b.u64(88);
    this.late = b.u64(96);
  }

  encode(out: Output): void {
    const p = out.stateBuffer(STATE_LEN);
    store<u8>(p, 1);
    store<u8>(p, this.flags, 1);
    store<u16>(p, 0, 2);
    store<u32>(p, this.noDataS, 4);
    store<f64>(p, this.minC, 8);
    store<f64>(p, this.maxC, 16);
    store<i64>(p, this.budgetNs, 24);
    store<i64>(p, this.lastTime, 32);
    store<f64>(p, this.lastTemp, 40);
    store<i64>(p, this.outNs, 48);
    store<i64>(p, this.excursionStart, 56);
    store<f64>(p, this.mktNum, 64);
    store<f64>(p, this.mktDen, 72);
    store<u64>(p, this.readings, 80);
    store<u64>(p, this.other, 88);
    store<u64>(p, this.late, 96);
  }

  get inExcursion(): bool { return (this.flags & FLAG_EXCURSION) != 0; }
  get compromised(): bool { return (this.flags & FLAG_COMPROMISED) != 0; }

  accrue(t: i64): void {
    const dt = t - this.lastTime;
    if (dt <= 0) return;
    if (this.lastTemp < this.minC || this.lastTemp > this.maxC) this.outNs += dt;
    const sec = <f64>dt / 1e9;
    this.mktNum += sec * exp(-ENERGY_OVER_R / (this.lastTemp + 273.15));
    this.mktDen += sec;
  }

  armNoData(out: Output): void {
    if (this.noDataS > 0) out.setProcessingTimer("no_data", <i64>this.noDataS * 1000000000);
  }

  outsideMsg(v: f64): string {
    return "temperature " + fixed(v) + " °C outside [" + fixed(this.minC) + ", " + fixed(this.maxC) + "] °C";
  }

  checkBudget(out: Output): void {
    if (this.compromised || this.outNs == 0 || this.outNs < this.budgetNs) return;
    this.flags |= FLAG_COMPROMISED;
    out.alert(CRITICAL, "budget_exceeded", "time out of band " + fixed(<f64>this.outNs / 1e9) +
      " s reached the budget of " + fixed(<f64>this.budgetNs / 1e9) + " s");
    out.setStatus("compromised");
    out.cancelTimer("budget");
  }

  view(): string {
    let mkt = "null";
    if (this.mktDen > 0 && this.mktNum > 0) mkt = fixed(ENERGY_OVER_R / -log(this.mktNum / this.mktDen) - 273.15);
    return '{"temperature_c":' + ((this.flags & FLAG_HAS_READING) != 0 ? fixed(this.lastTemp) : "null") +
      ',"time_out_of_band_s":' + fixed(<f64>this.outNs / 1e9) +
      ',"mkt_c":' + mkt +
      ',"readings":' + this.readings.toString() +
      ',"other_readings":' + this.other.toString() +
      ',"late_readings":' + this.late.toString() +
      ',"in_excursion":' + (this.inExcursion ? "true" : "false") +
      ',"compromised":' + (this.compromised ? "true" : "false") +
      ',"excursion_budget_s":' + fixed(<f64>this.budgetNs / 1e9) +
      ',"band":{"min_c":' + fixed(this.minC) + ',"max_c":' + fixed(this.maxC) + "}}";
  }
}

const num: f64[] = [0];

class Coldchain extends Contract {
  st: State = new State();

  init(ev: Event, out: Output): void {
    const st = this.st;
    st.flags = 0;
    st.noDataS = 0;
    st.minC = 2;
    st.maxC = 8;
    st.budgetNs = <i64>(1800.0 * 1e9);
    st.lastTime = ev.time;
    st.lastTemp = 0;
    st.outNs = 0;
    st.excursionStart = 0;
    st.mktNum = 0;
    st.mktDen = 0;
    st.readings = 0;
    st.other = 0;
    st.late = 0;
    const raw = ev.field(FIELD_PARAMS);
    if (raw.len > 0 && !raw.equals("null")) {
      const keys = ["min_c", "max_c", "excursion_budget_s", "no_data_s"];
      for (let i = 0; i < 4; i++) {
        const r = jsonNumber(raw, keys[i], num);
        if (r == JSON_ABSENT) continue;
        if (r != JSON_NUMBER) {
          out.reject("coldchain: invalid params: " + (r == JSON_MALFORMED ? "malformed JSON" : keys[i] + " is not a number"));
          return;
        }
        const v = num[0];
        if (i == 0) st.minC = v;
        else if (i == 1) st.maxC = v;
        else if (i == 3) {
          if (!(v >= 0 && v <= 1e6)) {
            out.reject("coldchain: invalid params: no_data_s must be in [0, 1e6]");
            return;
          }
          st.noDataS = <u32>v;
        } else {
          if (v < 0 || v > 1e9 || isNaN(v)) {
            out.reject("coldchain: invalid params: excursion_budget_s must be in [0, 1e9]");
            return;
          }
          st.budgetNs = <i64>(v * 1e9);
        }
      }
    }
    if (!(st.minC < st.maxC) || !isFinite(st.minC) || !isFinite(st.maxC)) {
      out.reject("coldchain: invalid params: need finite min_c < max_c");
      return;
    }
    st.armNoData(out);
    out.setView(st.view());
    st.encode(out);
  }

  apply(state: Bytes, ev: Event, out: Output): void {
    const st = this.st;
    st.decode(state);
    if (ev.kind == KIND_READING) {
      st.armNoData(out);
      if (ev.type != TYPE_TEMPERATURE) {
        st.other++;
      } else {
        const v = ev.value;
        if (!isFinite(v)) {
          out.reject("coldchain: temperature is not a finite number");
          return;
        }
        if ((st.flags & FLAG_HAS_READING) != 0 && ev.time < st.lastTime) {
          st.late++;
          if (v < st.minC || v > st.maxC) out.alert(WARNING, "late_excursion", "late " + st.outsideMsg(v) + LATE_SUFFIX);
        } else {
          if ((st.flags & FLAG_HAS_READING) != 0) st.accrue(ev.time);
          st.flags |= FLAG_HAS_READING;
          st.lastTime = ev.time;
          st.lastTemp = v;
          st.readings++;
          st.checkBudget(out);
          const outOfBand = v < st.minC || v > st.maxC;
          if (outOfBand && !st.inExcursion) {
            st.flags |= FLAG_EXCURSION;
            st.excursionStart = ev.time;
            out.alert(WARNING, "excursion_started", st.outsideMsg(v));
            if (!st.compromised) out.setTimer("budget", ev.time + (st.budgetNs - st.outNs));
          } else if (!outOfBand && st.inExcursion) {
            st.flags &= ~FLAG_EXCURSION;
            out.alert(INFO, "excursion_ended", "temperature " + fixed(v) + " °C back in band after " + fixed(<f64>(ev.time - st.excursionStart) / 1e9) + " s");
            out.cancelTimer("budget");
          }
        }
      }
    } else if (ev.kind == KIND_TIMER) {
      if (ev.field(FIELD_TIMER_NAME).equals("no_data")) {
        if (st.noDataS > 0) out.alert(WARNING, "no_data", "no reading for " + st.noDataS.toString() + NO_DATA_SUFFIX);
      } else if (ev.field(FIELD_TIMER_NAME).equals("budget") && (st.flags & FLAG_HAS_READING) != 0 && ev.time >= st.lastTime) {
        st.accrue(ev.time);
        st.lastTime = ev.time;
        st.checkBudget(out);
      }
    } else if (ev.kind == KIND_STATUS) {
      if (st.compromised && !ev.field(FIELD_STATUS).equals("closed")) out.setStatus("compromised");
    }
    st.encode(out);
  }

  view(state: Bytes, out: Output): void {
    this.st.decode(state);
    out.setView(this.st.view());
  }

  // migrate takes a twin over from any coldchain build (Go or
  // AssemblyScript, state version 1): the state is kept as it is.
  migrate(state: Bytes, ev: Event, out: Output): void {
    if (state.len != STATE_LEN || state.u8(0) != 1) {
      out.reject("coldchain: cannot migrate a state of " + state.len.toString() + " bytes (not coldchain state version 1)");
      return;
    }
    this.st.decode(state);
    out.setView(this.st.view());
    this.st.encode(out);
  }
}

register(new Coldchain());

export {
  custos_abi_v1, custos_event_flags, custos_alloc, custos_reset, custos_init, custos_apply, custos_view, custos_migrate,
} from "../../sdk/assemblyscript/assembly/index";
