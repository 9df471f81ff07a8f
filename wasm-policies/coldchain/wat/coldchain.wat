;; coldchain.wat — the cold-chain reference contract written directly in
;; WebAssembly text, with no SDK and no runtime library: everything it
;; does follows wasm-policies/ABI.md. It is the same contract as
;; wasm-policies/coldchain/policy (the specification) and gives the same
;; states, statuses, alerts and views on the same events (tested by
;; wasm-policies/conformance). It imports nothing.
;;
;; Build: wat2wasm coldchain.wat -o coldchain.wasm (Debian package wabt);
;; wasm-policies/coldchain/wat/build.sh.
;;
;; Differences from the Go build, outside of what any real input produces:
;; params numbers must have at most 15 significant digits and a decimal
;; exponent within ±22 (others are rejected, where Go would round them);
;; numbers of magnitude ≥ 1e15 in messages and the view are not formatted
;; like Go's strconv; reject messages for malformed params are worded
;; differently.
;;
;; Memory map: 256 alert table (≤ 4 × 20 bytes), 448 timer table (≤ 3 × 20),
;; 512 digit scratch, 1024 state being built (104 bytes, layout as in
;; coldchain/policy), 2048 output (8 KiB), 12288 text (messages, view),
;; 16384 constant strings, 65536+ inputs (custos_alloc, bump allocator).
(module
  (memory (export "memory") 2)

  (global $heap (mut i32) (i32.const 65536))
  (global $op (mut i32) (i32.const 2048))   ;; output cursor
  (global $tp (mut i32) (i32.const 12288))  ;; text cursor
  (global $nalerts (mut i32) (i32.const 0))
  (global $ntimers (mut i32) (i32.const 0))
  (global $status_p (mut i32) (i32.const 0))
  (global $status_l (mut i32) (i32.const 0))
  (global $reject_p (mut i32) (i32.const 0))
  (global $reject_l (mut i32) (i32.const 0))
  (global $view_p (mut i32) (i32.const 0))
  (global $view_l (mut i32) (i32.const 0))
  (global $exp2 (mut i32) (i32.const 0))    ;; second result of $frexp
  (global $num (mut f64) (f64.const 0))     ;; result of $parse_number
  (global $pp (mut i32) (i32.const 0))      ;; params cursor
  (global $pe (mut i32) (i32.const 0))      ;; params end
  (global $fp (mut i32) (i32.const 0))      ;; result of $field: pointer
  (global $fl (mut i32) (i32.const 0))      ;; result of $field: length

  ;; string table (offset, length, text):
  ;; temperature  16384 +12 'temperature '
  ;; outside      16396 +14 ' °C outside ['
  ;; comma        16410 +2 ', '
  ;; close_band   16412 +5 '] °C'
  ;; back         16417 +24 ' °C back in band after '
  ;; s            16441 +2 ' s'
  ;; oob          16443 +17 'time out of band '
  ;; reached      16460 +25 ' s reached the budget of '
  ;; c_started    16485 +17 'excursion_started'
  ;; c_ended      16502 +15 'excursion_ended'
  ;; c_budget     16517 +15 'budget_exceeded'
  ;; compromised  16532 +11 'compromised'
  ;; budget       16543 +6 'budget'
  ;; closed       16549 +6 'closed'
  ;; null         16555 +4 'null'
  ;; true         16559 +4 'true'
  ;; false        16563 +5 'false'
  ;; k_min        16568 +5 'min_c'
  ;; k_max        16573 +5 'max_c'
  ;; k_budget     16578 +18 'excursion_budget_s'
  ;; r_nan        16596 +45 'coldchain: temperature is not a finite number'
  ;; r_json       16641 +73 'coldchain: invalid params: malformed JSON or a value that is not a number'
  ;; r_long       16714 +115 'coldchain: invalid params: a number with more than 15 digits or an exponent beyond 22 (not supported by this build)'
  ;; r_budget     16829 +65 'coldchain: invalid params: excursion_budget_s must be in [0, 1e9]'
  ;; r_band       16894 +52 'coldchain: invalid params: need finite min_c < max_c'
  ;; v1           16946 +17 '{"temperature_c":'
  ;; v2           16963 +22 ',"time_out_of_band_s":'
  ;; v3           16985 +9 ',"mkt_c":'
  ;; v4           16994 +12 ',"readings":'
  ;; v5           17006 +18 ',"other_readings":'
  ;; v6           17024 +17 ',"late_readings":'
  ;; v7           17041 +16 ',"in_excursion":'
  ;; v8           17057 +15 ',"compromised":'
  ;; v9           17072 +22 ',"excursion_budget_s":'
  ;; v10          17094 +17 ',"band":{"min_c":'
  ;; v11          17111 +9 ',"max_c":'
  ;; v12          17120 +2 '}}'
  ;; k_nodata     17122 +9 'no_data_s'
  ;; c_nodata     17131 +7 'no_data'
  ;; late         17138 +5 'late '
  ;; late_sfx     17143 +51 ', before the last reading: not in the budget or MKT'
  ;; no_reading   17194 +15 'no reading for '
  ;; server_sfx   17209 +24 ' s by the server's clock'
  ;; r_nodata     17233 +56 'coldchain: invalid params: no_data_s must be in [0, 1e6]'
  ;; c_late       17289 +14 'late_excursion'
  (data (i32.const 16384) "temperature  \c2\b0C outside [, ] \c2\b0C \c2\b0C back in band after  stime out of band  s reached the budget of excursion_startedexcursion_endedbudget_exceededcompromisedbudgetclosednulltruefalsemin_cmax_cexcursion_budget_scoldchain: temperature is not a finite numbercoldchain: invalid params: malformed JSON or a value that is not a numbercoldchain: invalid params: a number with more than 15 digits or an exponent beyond 22 (not supported by this build)coldchain: invalid params: excursion_budget_s must be in [0, 1e9]coldchain: invalid params: need finite min_c < max_c{\22temperature_c\22:,\22time_out_of_band_s\22:,\22mkt_c\22:,\22readings\22:,\22other_readings\22:,\22late_readings\22:,\22in_excursion\22:,\22compromised\22:,\22excursion_budget_s\22:,\22band\22:{\22min_c\22:,\22max_c\22:}}no_data_sno_datalate , before the last reading: not in the budget or MKTno reading for  s by the server's clockcoldchain: invalid params: no_data_s must be in [0, 1e6]late_excursion")

  ;; ---- ABI v1 plumbing (§1, §2) ----

  (func (export "custos_abi_v1"))

  (func (export "custos_reset") (global.set $heap (i32.const 65536)))

  (func (export "custos_alloc") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.and (i32.add (i32.add (local.get $p) (local.get $n)) (i32.const 15)) (i32.const -16)))
    (if (i32.gt_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536)))
      (then
        (if (i32.lt_s (memory.grow (i32.add (i32.shr_u (i32.sub (global.get $heap) (i32.mul (memory.size) (i32.const 65536))) (i32.const 16)) (i32.const 1))) (i32.const 0))
          (then unreachable))))
    (local.get $p))

  ;; begin resets the per-call output collectors.
  (func $begin
    (global.set $tp (i32.const 12288))
    (global.set $nalerts (i32.const 0))
    (global.set $ntimers (i32.const 0))
    (global.set $status_l (i32.const 0))
    (global.set $reject_l (i32.const 0))
    (global.set $view_l (i32.const 0)))

  ;; field sets $fp/$fl to field i of the event at $ep (§3), or length 0.
  (func $field (param $ep i32) (param $i i32)
    (local $p i32) (local $n i32) (local $k i32)
    (local.set $n (i32.load offset=4 (local.get $ep)))
    (global.set $fl (i32.const 0))
    (if (i32.ge_u (local.get $i) (local.get $n)) (then (return)))
    (local.set $p (i32.add (local.get $ep) (i32.const 40)))
    (block $done
      (loop $next
        (br_if $done (i32.eq (local.get $k) (local.get $i)))
        (local.set $p (i32.add (local.get $p) (i32.add (i32.const 4) (i32.load (local.get $p)))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $next)))
    (global.set $fl (i32.load (local.get $p)))
    (global.set $fp (i32.add (local.get $p) (i32.const 4))))

  ;; eq compares [a, a+al) with [b, b+bl).
  (func $eq (param $a i32) (param $al i32) (param $b i32) (param $bl i32) (result i32)
    (local $i i32)
    (if (i32.ne (local.get $al) (local.get $bl)) (then (return (i32.const 0))))
    (block $diff
      (loop $cmp
        (if (i32.eq (local.get $i) (local.get $al)) (then (return (i32.const 1))))
        (br_if $diff (i32.ne (i32.load8_u (i32.add (local.get $a) (local.get $i))) (i32.load8_u (i32.add (local.get $b) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $cmp)))
    (i32.const 0))

  ;; ---- output (§4) ----

  (func $o32 (param $v i32)
    (i32.store (global.get $op) (local.get $v))
    (global.set $op (i32.add (global.get $op) (i32.const 4))))

  (func $obytes (param $p i32) (param $l i32)
    (call $o32 (local.get $l))
    (memory.copy (global.get $op) (local.get $p) (local.get $l))
    (global.set $op (i32.add (global.get $op) (local.get $l))))

  (func $alert (param $sev i32) (param $cp i32) (param $cl i32) (param $mp i32) (param $ml i32)
    (local $a i32)
    (local.set $a (i32.add (i32.const 256) (i32.mul (global.get $nalerts) (i32.const 20))))
    (i32.store (local.get $a) (local.get $sev))
    (i32.store offset=4 (local.get $a) (local.get $cp))
    (i32.store offset=8 (local.get $a) (local.get $cl))
    (i32.store offset=12 (local.get $a) (local.get $mp))
    (i32.store offset=16 (local.get $a) (local.get $ml))
    (global.set $nalerts (i32.add (global.get $nalerts) (i32.const 1))))

  ;; timer: op 1 sets the event-time timer named [$np, +$nl) at $at, op 2
  ;; cancels it, op 3 sets it on the server's clock $at ns from now.
  (func $timer (param $op i32) (param $at i64) (param $np i32) (param $nl i32)
    (local $a i32)
    (local.set $a (i32.add (i32.const 448) (i32.mul (global.get $ntimers) (i32.const 20))))
    (i32.store (local.get $a) (local.get $op))
    (i64.store offset=4 (local.get $a) (local.get $at))
    (i32.store offset=12 (local.get $a) (local.get $np))
    (i32.store offset=16 (local.get $a) (local.get $nl))
    (global.set $ntimers (i32.add (global.get $ntimers) (i32.const 1))))

  (func $status (param $p i32) (param $l i32)
    (global.set $status_p (local.get $p))
    (global.set $status_l (local.get $l)))

  (func $reject (param $p i32) (param $l i32)
    (global.set $reject_p (local.get $p))
    (global.set $reject_l (local.get $l)))

  ;; finish encodes the output; with $state, the 104 state bytes at 1024.
  (func $finish (param $state i32) (result i64)
    (local $i i32) (local $a i32)
    (global.set $op (i32.const 2048))
    (call $o32 (i32.const 1))
    (if (i32.and (local.get $state) (i32.eqz (global.get $reject_l)))
      (then (call $obytes (i32.const 1024) (i32.const 104)))
      (else (call $o32 (i32.const 0))))
    (call $obytes (global.get $status_p) (global.get $status_l))
    (call $obytes (global.get $view_p) (global.get $view_l))
    (call $obytes (global.get $reject_p) (global.get $reject_l))
    (call $o32 (global.get $nalerts))
    (local.set $i (i32.const 0))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $i) (global.get $nalerts)))
        (local.set $a (i32.add (i32.const 256) (i32.mul (local.get $i) (i32.const 20))))
        (call $o32 (i32.load (local.get $a)))
        (call $obytes (i32.load offset=4 (local.get $a)) (i32.load offset=8 (local.get $a)))
        (call $obytes (i32.load offset=12 (local.get $a)) (i32.load offset=16 (local.get $a)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $each)))
    (call $o32 (global.get $ntimers))
    (local.set $i (i32.const 0))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $i) (global.get $ntimers)))
        (local.set $a (i32.add (i32.const 448) (i32.mul (local.get $i) (i32.const 20))))
        (call $o32 (i32.load (local.get $a)))
        (i64.store (global.get $op) (i64.load offset=4 (local.get $a)))
        (global.set $op (i32.add (global.get $op) (i32.const 8)))
        (call $obytes (i32.load offset=12 (local.get $a)) (i32.load offset=16 (local.get $a)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $each)))
    (i64.or (i64.shl (i64.const 2048) (i64.const 32)) (i64.extend_i32_u (i32.sub (global.get $op) (i32.const 2048)))))

  ;; ---- text ----

  (func $t_str (param $p i32) (param $l i32)
    (memory.copy (global.get $tp) (local.get $p) (local.get $l))
    (global.set $tp (i32.add (global.get $tp) (local.get $l))))

  (func $t_byte (param $c i32)
    (i32.store8 (global.get $tp) (local.get $c))
    (global.set $tp (i32.add (global.get $tp) (i32.const 1))))

  ;; t_u64 appends n in decimal.
  (func $t_u64 (param $n i64)
    (local $p i32)
    (local.set $p (i32.const 600))
    (loop $digit
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p) (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $n) (i64.const 10)))))
      (local.set $n (i64.div_u (local.get $n) (i64.const 10)))
      (br_if $digit (i64.ne (local.get $n) (i64.const 0))))
    (call $t_str (local.get $p) (i32.sub (i32.const 600) (local.get $p))))

  (func $t_bool (param $b i32)
    (if (local.get $b) (then (call $t_str (i32.const 16559) (i32.const 4) (; true ;))) (else (call $t_str (i32.const 16563) (i32.const 5) (; false ;)))))

  ;; t_fixed appends v rounded to 3 decimals without trailing zeros, as
  ;; coldchain/policy's appendFixed does.
  (func $t_fixed (param $v f64)
    (local $m i64) (local $frac i32)
    (local.set $m (i64.trunc_sat_f64_s (call $round (f64.mul (local.get $v) (f64.const 1000)))))
    (if (i64.lt_s (local.get $m) (i64.const 0))
      (then
        (call $t_byte (i32.const 45))
        (local.set $m (i64.sub (i64.const 0) (local.get $m)))))
    (call $t_u64 (i64.div_u (local.get $m) (i64.const 1000)))
    (local.set $frac (i32.wrap_i64 (i64.rem_u (local.get $m) (i64.const 1000))))
    (if (i32.eqz (local.get $frac)) (then (return)))
    (call $t_byte (i32.const 46))
    (call $t_byte (i32.add (i32.const 48) (i32.div_u (local.get $frac) (i32.const 100))))
    (if (i32.rem_u (local.get $frac) (i32.const 100))
      (then (call $t_byte (i32.add (i32.const 48) (i32.rem_u (i32.div_u (local.get $frac) (i32.const 10)) (i32.const 10))))))
    (if (i32.rem_u (local.get $frac) (i32.const 10))
      (then (call $t_byte (i32.add (i32.const 48) (i32.rem_u (local.get $frac) (i32.const 10)))))))

  ;; ---- Go's math, bit for bit (math.Round, Exp, Log, Ldexp, Frexp) ----

  (func $round (param $x f64) (result f64)
    (local $bits i64) (local $e i64)
    (local.set $bits (i64.reinterpret_f64 (local.get $x)))
    (local.set $e (i64.and (i64.shr_u (local.get $bits) (i64.const 52)) (i64.const 0x7ff)))
    (if (i64.lt_u (local.get $e) (i64.const 1023))
      (then
        (local.set $bits (i64.and (local.get $bits) (i64.const 0x8000000000000000)))
        (if (i64.eq (local.get $e) (i64.const 1022))
          (then (local.set $bits (i64.or (local.get $bits) (i64.const 0x3FF0000000000000))))))
      (else
        (if (i64.lt_u (local.get $e) (i64.const 1075))
          (then
            (local.set $e (i64.sub (local.get $e) (i64.const 1023)))
            (local.set $bits (i64.add (local.get $bits) (i64.shr_u (i64.const 0x8000000000000) (local.get $e))))
            (local.set $bits (i64.and (local.get $bits) (i64.xor (i64.shr_u (i64.const 0xFFFFFFFFFFFFF) (local.get $e)) (i64.const -1))))))))
    (f64.reinterpret_i64 (local.get $bits)))

  (func $ldexp (param $frac f64) (param $exp i32) (result f64)
    (local $x i64) (local $m f64)
    (if (f64.eq (local.get $frac) (f64.const 0)) (then (return (local.get $frac))))
    (if (i32.eqz (f64.lt (f64.abs (local.get $frac)) (f64.const inf))) (then (return (local.get $frac))))
    (if (f64.lt (f64.abs (local.get $frac)) (f64.const 2.2250738585072014e-308))
      (then
        (local.set $frac (f64.mul (local.get $frac) (f64.const 4503599627370496)))
        (local.set $exp (i32.sub (local.get $exp) (i32.const 52)))))
    (local.set $x (i64.reinterpret_f64 (local.get $frac)))
    (local.set $exp (i32.add (local.get $exp) (i32.sub (i32.wrap_i64 (i64.and (i64.shr_u (local.get $x) (i64.const 52)) (i64.const 0x7ff))) (i32.const 1023))))
    (if (i32.lt_s (local.get $exp) (i32.const -1075)) (then (return (f64.copysign (f64.const 0) (local.get $frac)))))
    (if (i32.gt_s (local.get $exp) (i32.const 1023))
      (then (return (f64.copysign (f64.const inf) (local.get $frac)))))
    (local.set $m (f64.const 1))
    (if (i32.lt_s (local.get $exp) (i32.const -1022))
      (then
        (local.set $exp (i32.add (local.get $exp) (i32.const 53)))
        (local.set $m (f64.const 0x1p-53))))
    (local.set $x (i64.and (local.get $x) (i64.const 0x800FFFFFFFFFFFFF)))
    (local.set $x (i64.or (local.get $x) (i64.shl (i64.extend_i32_s (i32.add (local.get $exp) (i32.const 1023))) (i64.const 52))))
    (f64.mul (local.get $m) (f64.reinterpret_i64 (local.get $x))))

  ;; frexp returns the fraction in [1/2, 1) and sets $exp2.
  (func $frexp (param $f f64) (result f64)
    (local $x i64) (local $e i32)
    (global.set $exp2 (i32.const 0))
    (if (f64.eq (local.get $f) (f64.const 0)) (then (return (local.get $f))))
    (if (i32.eqz (f64.lt (f64.abs (local.get $f)) (f64.const inf))) (then (return (local.get $f))))
    (if (f64.lt (f64.abs (local.get $f)) (f64.const 2.2250738585072014e-308))
      (then
        (local.set $f (f64.mul (local.get $f) (f64.const 4503599627370496)))
        (local.set $e (i32.const -52))))
    (local.set $x (i64.reinterpret_f64 (local.get $f)))
    (global.set $exp2 (i32.add (local.get $e) (i32.sub (i32.wrap_i64 (i64.and (i64.shr_u (local.get $x) (i64.const 52)) (i64.const 0x7ff))) (i32.const 1022))))
    (local.set $x (i64.and (local.get $x) (i64.const 0x800FFFFFFFFFFFFF)))
    (local.set $x (i64.or (local.get $x) (i64.const 0x3FE0000000000000)))
    (f64.reinterpret_i64 (local.get $x)))

  (func $exp (param $x f64) (result f64)
    (local $k i32) (local $hi f64) (local $lo f64) (local $r f64) (local $t f64) (local $c f64)
    (if (f64.ne (local.get $x) (local.get $x)) (then (return (local.get $x))))
    (if (f64.eq (local.get $x) (f64.const inf)) (then (return (local.get $x))))
    (if (f64.eq (local.get $x) (f64.const -inf)) (then (return (f64.const 0))))
    (if (f64.gt (local.get $x) (f64.const 7.09782712893383973096e+02)) (then (return (f64.const inf))))
    (if (f64.lt (local.get $x) (f64.const -7.45133219101941108420e+02)) (then (return (f64.const 0))))
    (if (i32.and (f64.gt (local.get $x) (f64.const -0x1p-28)) (f64.lt (local.get $x) (f64.const 0x1p-28)))
      (then (return (f64.add (f64.const 1) (local.get $x)))))
    (if (f64.lt (local.get $x) (f64.const 0))
      (then (local.set $k (i32.trunc_f64_s (f64.sub (f64.mul (f64.const 1.44269504088896338700e+00) (local.get $x)) (f64.const 0.5)))))
      (else (if (f64.gt (local.get $x) (f64.const 0))
        (then (local.set $k (i32.trunc_f64_s (f64.add (f64.mul (f64.const 1.44269504088896338700e+00) (local.get $x)) (f64.const 0.5))))))))
    (local.set $hi (f64.sub (local.get $x) (f64.mul (f64.convert_i32_s (local.get $k)) (f64.const 6.93147180369123816490e-01))))
    (local.set $lo (f64.mul (f64.convert_i32_s (local.get $k)) (f64.const 1.90821492927058770002e-10)))
    (local.set $r (f64.sub (local.get $hi) (local.get $lo)))
    (local.set $t (f64.mul (local.get $r) (local.get $r)))
    (local.set $c (f64.sub (local.get $r) (f64.mul (local.get $t)
      (f64.add (f64.const 1.66666666666666657415e-01) (f64.mul (local.get $t)
      (f64.add (f64.const -2.77777777770155933842e-03) (f64.mul (local.get $t)
      (f64.add (f64.const 6.61375632143793436117e-05) (f64.mul (local.get $t)
      (f64.add (f64.const -1.65339022054652515390e-06) (f64.mul (local.get $t) (f64.const 4.13813679705723846039e-08))))))))))))
    (call $ldexp
      (f64.sub (f64.const 1) (f64.sub (f64.sub (local.get $lo) (f64.div (f64.mul (local.get $r) (local.get $c)) (f64.sub (f64.const 2) (local.get $c)))) (local.get $hi)))
      (local.get $k)))

  (func $log (param $x f64) (result f64)
    (local $f1 f64) (local $ki i32) (local $f f64) (local $k f64) (local $s f64) (local $s2 f64) (local $s4 f64)
    (local $t1 f64) (local $t2 f64) (local $R f64) (local $hfsq f64)
    (if (f64.ne (local.get $x) (local.get $x)) (then (return (local.get $x))))
    (if (f64.eq (local.get $x) (f64.const inf)) (then (return (local.get $x))))
    (if (f64.lt (local.get $x) (f64.const 0)) (then (return (f64.const nan))))
    (if (f64.eq (local.get $x) (f64.const 0)) (then (return (f64.const -inf))))
    (local.set $f1 (call $frexp (local.get $x)))
    (local.set $ki (global.get $exp2))
    (if (f64.lt (local.get $f1) (f64.const 0.7071067811865476))
      (then
        (local.set $f1 (f64.mul (local.get $f1) (f64.const 2)))
        (local.set $ki (i32.sub (local.get $ki) (i32.const 1)))))
    (local.set $f (f64.sub (local.get $f1) (f64.const 1)))
    (local.set $k (f64.convert_i32_s (local.get $ki)))
    (local.set $s (f64.div (local.get $f) (f64.add (f64.const 2) (local.get $f))))
    (local.set $s2 (f64.mul (local.get $s) (local.get $s)))
    (local.set $s4 (f64.mul (local.get $s2) (local.get $s2)))
    (local.set $t1 (f64.mul (local.get $s2) (f64.add (f64.const 6.666666666666735130e-01) (f64.mul (local.get $s4)
      (f64.add (f64.const 2.857142874366239149e-01) (f64.mul (local.get $s4)
      (f64.add (f64.const 1.818357216161805012e-01) (f64.mul (local.get $s4) (f64.const 1.479819860511658591e-01)))))))))
    (local.set $t2 (f64.mul (local.get $s4) (f64.add (f64.const 3.999999999940941908e-01) (f64.mul (local.get $s4)
      (f64.add (f64.const 2.222219843214978396e-01) (f64.mul (local.get $s4) (f64.const 1.531383769920937332e-01)))))))
    (local.set $R (f64.add (local.get $t1) (local.get $t2)))
    (local.set $hfsq (f64.mul (f64.mul (f64.const 0.5) (local.get $f)) (local.get $f)))
    (f64.sub (f64.mul (local.get $k) (f64.const 6.93147180369123816490e-01))
      (f64.sub (f64.sub (local.get $hfsq) (f64.add (f64.mul (local.get $s) (f64.add (local.get $hfsq) (local.get $R))) (f64.mul (local.get $k) (f64.const 1.90821492927058770002e-10)))) (local.get $f))))

  ;; ---- params: the top level of a JSON object ----

  (func $ws
    (local $c i32)
    (block $done
      (loop $skip
        (br_if $done (i32.ge_u (global.get $pp) (global.get $pe)))
        (local.set $c (i32.load8_u (global.get $pp)))
        (br_if $done (i32.eqz (i32.or (i32.or (i32.eq (local.get $c) (i32.const 32)) (i32.eq (local.get $c) (i32.const 9)))
                                      (i32.or (i32.eq (local.get $c) (i32.const 10)) (i32.eq (local.get $c) (i32.const 13))))))
        (global.set $pp (i32.add (global.get $pp) (i32.const 1)))
        (br $skip))))

  ;; skip_string: $pp is at a quote; 0 if the string does not end.
  (func $skip_string (result i32)
    (local $c i32)
    (global.set $pp (i32.add (global.get $pp) (i32.const 1)))
    (loop $chars
      (if (i32.ge_u (global.get $pp) (global.get $pe)) (then (return (i32.const 0))))
      (local.set $c (i32.load8_u (global.get $pp)))
      (global.set $pp (i32.add (global.get $pp) (i32.const 1)))
      (if (i32.eq (local.get $c) (i32.const 92)) (then (global.set $pp (i32.add (global.get $pp) (i32.const 1))) (br $chars)))
      (br_if $chars (i32.ne (local.get $c) (i32.const 34))))
    (i32.const 1))

  (func $skip_value (result i32)
    (local $c i32) (local $depth i32)
    (call $ws)
    (if (i32.ge_u (global.get $pp) (global.get $pe)) (then (return (i32.const 0))))
    (local.set $c (i32.load8_u (global.get $pp)))
    (if (i32.eq (local.get $c) (i32.const 34)) (then (return (call $skip_string))))
    (if (i32.or (i32.eq (local.get $c) (i32.const 123)) (i32.eq (local.get $c) (i32.const 91)))
      (then
        (loop $nested
          (if (i32.ge_u (global.get $pp) (global.get $pe)) (then (return (i32.const 0))))
          (local.set $c (i32.load8_u (global.get $pp)))
          (if (i32.eq (local.get $c) (i32.const 34))
            (then
              (if (i32.eqz (call $skip_string)) (then (return (i32.const 0))))
              (br $nested)))
          (if (i32.or (i32.eq (local.get $c) (i32.const 123)) (i32.eq (local.get $c) (i32.const 91)))
            (then (local.set $depth (i32.add (local.get $depth) (i32.const 1)))))
          (if (i32.or (i32.eq (local.get $c) (i32.const 125)) (i32.eq (local.get $c) (i32.const 93)))
            (then
              (local.set $depth (i32.sub (local.get $depth) (i32.const 1)))
              (if (i32.eqz (local.get $depth))
                (then (global.set $pp (i32.add (global.get $pp) (i32.const 1))) (return (i32.const 1))))))
          (global.set $pp (i32.add (global.get $pp) (i32.const 1)))
          (br $nested))))
    (block $end
      (loop $scalar
        (br_if $end (i32.ge_u (global.get $pp) (global.get $pe)))
        (local.set $c (i32.load8_u (global.get $pp)))
        (br_if $end (i32.or (i32.or (i32.eq (local.get $c) (i32.const 44)) (i32.eq (local.get $c) (i32.const 125)))
                            (i32.or (i32.eq (local.get $c) (i32.const 93)) (i32.le_u (local.get $c) (i32.const 32)))))
        (global.set $pp (i32.add (global.get $pp) (i32.const 1)))
        (br $scalar)))
    (i32.const 1))

  ;; key_is compares a key with a lower-case name, folding ASCII case as
  ;; Go's encoding/json does.
  (func $key_is (param $kp i32) (param $kl i32) (param $np i32) (param $nl i32) (result i32)
    (local $i i32) (local $c i32)
    (if (i32.ne (local.get $kl) (local.get $nl)) (then (return (i32.const 0))))
    (block $diff
      (loop $cmp
        (if (i32.eq (local.get $i) (local.get $kl)) (then (return (i32.const 1))))
        (local.set $c (i32.load8_u (i32.add (local.get $kp) (local.get $i))))
        (if (i32.and (i32.ge_u (local.get $c) (i32.const 65)) (i32.le_u (local.get $c) (i32.const 90)))
          (then (local.set $c (i32.add (local.get $c) (i32.const 32)))))
        (br_if $diff (i32.ne (local.get $c) (i32.load8_u (i32.add (local.get $np) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $cmp)))
    (i32.const 0))

  ;; parse_number parses the JSON number in [$s, $e) into $num: 1 ok, 0
  ;; malformed, 2 beyond the exact fast path (over 15 digits or |exp| > 22).
  (func $parse_number (param $s i32) (param $e i32) (result i32)
    (local $neg i32) (local $mant i64) (local $digits i32) (local $exp i32) (local $any i32) (local $c i32)
    (local $eneg i32) (local $ev i32) (local $edig i32) (local $v f64) (local $pow f64) (local $i i32)
    (if (i32.and (i32.lt_u (local.get $s) (local.get $e)) (i32.eq (i32.load8_u (local.get $s)) (i32.const 45)))
      (then (local.set $neg (i32.const 1)) (local.set $s (i32.add (local.get $s) (i32.const 1)))))
    (block $end
      (loop $int
        (br_if $end (i32.ge_u (local.get $s) (local.get $e)))
        (local.set $c (i32.sub (i32.load8_u (local.get $s)) (i32.const 48)))
        (br_if $end (i32.gt_u (local.get $c) (i32.const 9)))
        (if (i32.lt_u (local.get $digits) (i32.const 19))
          (then
            (local.set $mant (i64.add (i64.mul (local.get $mant) (i64.const 10)) (i64.extend_i32_u (local.get $c))))
            (if (i64.ne (local.get $mant) (i64.const 0)) (then (local.set $digits (i32.add (local.get $digits) (i32.const 1))))))
          (else (local.set $exp (i32.add (local.get $exp) (i32.const 1)))))
        (local.set $any (i32.const 1))
        (local.set $s (i32.add (local.get $s) (i32.const 1)))
        (br $int)))
    (if (i32.and (i32.lt_u (local.get $s) (local.get $e)) (i32.eq (i32.load8_u (local.get $s)) (i32.const 46)))
      (then
        (local.set $s (i32.add (local.get $s) (i32.const 1)))
        (block $end
          (loop $frac
            (br_if $end (i32.ge_u (local.get $s) (local.get $e)))
            (local.set $c (i32.sub (i32.load8_u (local.get $s)) (i32.const 48)))
            (br_if $end (i32.gt_u (local.get $c) (i32.const 9)))
            (if (i32.lt_u (local.get $digits) (i32.const 19))
              (then
                (local.set $mant (i64.add (i64.mul (local.get $mant) (i64.const 10)) (i64.extend_i32_u (local.get $c))))
                (if (i64.ne (local.get $mant) (i64.const 0)) (then (local.set $digits (i32.add (local.get $digits) (i32.const 1)))))
                (local.set $exp (i32.sub (local.get $exp) (i32.const 1)))))
            (local.set $any (i32.const 1))
            (local.set $s (i32.add (local.get $s) (i32.const 1)))
            (br $frac)))))
    (if (i32.eqz (local.get $any)) (then (return (i32.const 0))))
    (if (i32.and (i32.lt_u (local.get $s) (local.get $e)) (i32.eq (i32.or (i32.load8_u (local.get $s)) (i32.const 32)) (i32.const 101)))
      (then
        (local.set $s (i32.add (local.get $s) (i32.const 1)))
        (if (i32.lt_u (local.get $s) (local.get $e))
          (then
            (local.set $c (i32.load8_u (local.get $s)))
            (if (i32.or (i32.eq (local.get $c) (i32.const 45)) (i32.eq (local.get $c) (i32.const 43)))
              (then
                (local.set $eneg (i32.eq (local.get $c) (i32.const 45)))
                (local.set $s (i32.add (local.get $s) (i32.const 1)))))))
        (block $end
          (loop $edigits
            (br_if $end (i32.ge_u (local.get $s) (local.get $e)))
            (local.set $c (i32.sub (i32.load8_u (local.get $s)) (i32.const 48)))
            (br_if $end (i32.gt_u (local.get $c) (i32.const 9)))
            (if (i32.lt_u (local.get $ev) (i32.const 100000))
              (then (local.set $ev (i32.add (i32.mul (local.get $ev) (i32.const 10)) (local.get $c)))))
            (local.set $edig (i32.const 1))
            (local.set $s (i32.add (local.get $s) (i32.const 1)))
            (br $edigits)))
        (if (i32.eqz (local.get $edig)) (then (return (i32.const 0))))
        (if (local.get $eneg)
          (then (local.set $exp (i32.sub (local.get $exp) (local.get $ev))))
          (else (local.set $exp (i32.add (local.get $exp) (local.get $ev)))))))
    (if (i32.ne (local.get $s) (local.get $e)) (then (return (i32.const 0))))
    (if (i64.eqz (local.get $mant))
      (then (local.set $v (f64.const 0)))
      (else
        (if (i32.or (i32.gt_u (local.get $digits) (i32.const 15))
                    (i32.or (i32.lt_s (local.get $exp) (i32.const -22)) (i32.gt_s (local.get $exp) (i32.const 22))))
          (then (return (i32.const 2))))
        ;; Clinger's fast path: both the mantissa and 10^|exp| are exact
        ;; doubles, so one multiplication or division rounds correctly.
        (local.set $pow (f64.const 1))
        (local.set $i (select (i32.sub (i32.const 0) (local.get $exp)) (local.get $exp) (i32.lt_s (local.get $exp) (i32.const 0))))
        (block $done
          (loop $p10
            (br_if $done (i32.eqz (local.get $i)))
            (local.set $pow (f64.mul (local.get $pow) (f64.const 10)))
            (local.set $i (i32.sub (local.get $i) (i32.const 1)))
            (br $p10)))
        (local.set $v (f64.convert_i64_u (local.get $mant)))
        (if (i32.lt_s (local.get $exp) (i32.const 0))
          (then (local.set $v (f64.div (local.get $v) (local.get $pow))))
          (else (local.set $v (f64.mul (local.get $v) (local.get $pow)))))))
    (global.set $num (select (f64.neg (local.get $v)) (local.get $v) (local.get $neg)))
    (i32.const 1))

  ;; params reads min_c, max_c and excursion_budget_s from the params
  ;; object at [$p, $p+$l) into the state being built (1024) and returns 0,
  ;; or rejects and returns 1.
  (func $params (param $p i32) (param $l i32) (result i32)
    (local $ks i32) (local $kl i32) (local $vs i32) (local $c i32) (local $which i32) (local $r i32)
    (global.set $pp (local.get $p))
    (global.set $pe (i32.add (local.get $p) (local.get $l)))
    (call $ws)
    (block $bad
      (br_if $bad (i32.ge_u (global.get $pp) (global.get $pe)))
      (br_if $bad (i32.ne (i32.load8_u (global.get $pp)) (i32.const 123)))
      (global.set $pp (i32.add (global.get $pp) (i32.const 1)))
      (call $ws)
      (if (i32.and (i32.lt_u (global.get $pp) (global.get $pe)) (i32.eq (i32.load8_u (global.get $pp)) (i32.const 125)))
        (then (return (i32.const 0))))
      (loop $member
        (call $ws)
        (br_if $bad (i32.ge_u (global.get $pp) (global.get $pe)))
        (br_if $bad (i32.ne (i32.load8_u (global.get $pp)) (i32.const 34)))
        (local.set $ks (i32.add (global.get $pp) (i32.const 1)))
        (br_if $bad (i32.eqz (call $skip_string)))
        (local.set $kl (i32.sub (i32.sub (global.get $pp) (i32.const 1)) (local.get $ks)))
        (call $ws)
        (br_if $bad (i32.ge_u (global.get $pp) (global.get $pe)))
        (br_if $bad (i32.ne (i32.load8_u (global.get $pp)) (i32.const 58)))
        (global.set $pp (i32.add (global.get $pp) (i32.const 1)))
        (call $ws)
        (local.set $vs (global.get $pp))
        (br_if $bad (i32.eqz (call $skip_value)))
        (local.set $which (i32.const 0))
        (if (call $key_is (local.get $ks) (local.get $kl) (i32.const 16568) (i32.const 5) (; min_c ;)) (then (local.set $which (i32.const 8))))
        (if (call $key_is (local.get $ks) (local.get $kl) (i32.const 16573) (i32.const 5) (; max_c ;)) (then (local.set $which (i32.const 16))))
        (if (call $key_is (local.get $ks) (local.get $kl) (i32.const 16578) (i32.const 18) (; excursion_budget_s ;)) (then (local.set $which (i32.const 24))))
        (if (call $key_is (local.get $ks) (local.get $kl) (i32.const 17122) (i32.const 9) (; no_data_s ;)) (then (local.set $which (i32.const 4))))
        (if (local.get $which)
          (then
            (local.set $c (i32.load8_u (local.get $vs)))
            (if (i32.ne (local.get $c) (i32.const 110)) ;; null keeps the default
              (then
                (br_if $bad (i32.eqz (i32.or (i32.eq (local.get $c) (i32.const 45)) (i32.lt_u (i32.sub (local.get $c) (i32.const 48)) (i32.const 10)))))
                (local.set $r (call $parse_number (local.get $vs) (global.get $pp)))
                (br_if $bad (i32.eqz (local.get $r)))
                (if (i32.eq (local.get $r) (i32.const 2))
                  (then (call $reject (i32.const 16714) (i32.const 115) (; coldchain: invalid params: a number with more than 15 digits or an exponent beyond 22 (not supported by this build) ;)) (return (i32.const 1))))
                (if (i32.eq (local.get $which) (i32.const 24))
                  (then
                    (if (i32.or (i32.or (f64.lt (global.get $num) (f64.const 0)) (f64.gt (global.get $num) (f64.const 1e9)))
                                (f64.ne (global.get $num) (global.get $num)))
                      (then (call $reject (i32.const 16829) (i32.const 65) (; coldchain: invalid params: excursion_budget_s must be in [0, 1e9] ;)) (return (i32.const 1))))
                    (i64.store (i32.const 1048) (i64.trunc_f64_s (f64.mul (global.get $num) (f64.const 1e9)))))
                  (else
                    (if (i32.eq (local.get $which) (i32.const 4))
                      (then
                        (if (i32.eqz (i32.and (f64.ge (global.get $num) (f64.const 0)) (f64.le (global.get $num) (f64.const 1e6))))
                          (then (call $reject (i32.const 17233) (i32.const 56) (; coldchain: invalid params: no_data_s must be in [0, 1e6] ;)) (return (i32.const 1))))
                        (i32.store (i32.const 1028) (i32.trunc_f64_u (global.get $num))))
                      (else (f64.store (i32.add (i32.const 1024) (local.get $which)) (global.get $num))))))))))
        (call $ws)
        (br_if $bad (i32.ge_u (global.get $pp) (global.get $pe)))
        (local.set $c (i32.load8_u (global.get $pp)))
        (global.set $pp (i32.add (global.get $pp) (i32.const 1)))
        (if (i32.eq (local.get $c) (i32.const 125)) (then (return (i32.const 0))))
        (br_if $member (i32.eq (local.get $c) (i32.const 44)))))
    (call $reject (i32.const 16641) (i32.const 73) (; coldchain: invalid params: malformed JSON or a value that is not a number ;))
    (i32.const 1))

  ;; ---- the policy (coldchain/policy) ----
  ;; State at 1024: version u8 @0, flags u8 @1 (1 excursion, 2 compromised,
  ;; 4 has reading), no_data_s u32 @4 (0 = off), min_c f64 @8, max_c @16, budget_ns i64 @24, last_time
  ;; @32, last_temp f64 @40, out_ns i64 @48, excursion_start @56, mkt_num
  ;; f64 @64, mkt_den @72, readings u64 @80, other @88, late @96.

  (func $flags (result i32) (i32.load8_u (i32.const 1025)))
  (func $set_flags (param $f i32) (i32.store8 (i32.const 1025) (local.get $f)))

  (func $load_state (param $sp i32) (param $sl i32)
    (if (i32.or (i32.ne (local.get $sl) (i32.const 104)) (i32.ne (i32.load8_u (local.get $sp)) (i32.const 1)))
      (then unreachable)) ;; corrupt state
    (memory.copy (i32.const 1024) (local.get $sp) (i32.const 104)))

  ;; accrue adds [last_time, t) at last_temp.
  (func $accrue (param $t i64)
    (local $dt i64) (local $temp f64) (local $sec f64)
    (local.set $dt (i64.sub (local.get $t) (i64.load (i32.const 1056))))
    (if (i64.le_s (local.get $dt) (i64.const 0)) (then (return)))
    (local.set $temp (f64.load (i32.const 1064)))
    (if (i32.or (f64.lt (local.get $temp) (f64.load (i32.const 1032))) (f64.gt (local.get $temp) (f64.load (i32.const 1040))))
      (then (i64.store (i32.const 1072) (i64.add (i64.load (i32.const 1072)) (local.get $dt)))))
    (local.set $sec (f64.div (f64.convert_i64_s (local.get $dt)) (f64.const 1e9)))
    (f64.store (i32.const 1088) (f64.add (f64.load (i32.const 1088))
      (f64.mul (local.get $sec) (call $exp (f64.div (f64.const -10000) (f64.add (local.get $temp) (f64.const 273.15)))))))
    (f64.store (i32.const 1096) (f64.add (f64.load (i32.const 1096)) (local.get $sec))))

  ;; arm_no_data (re)sets the processing-time timer "no_data" when no_data_s > 0.
  (func $arm_no_data
    (if (i32.load (i32.const 1028))
      (then (call $timer (i32.const 3) (i64.mul (i64.extend_i32_u (i32.load (i32.const 1028))) (i64.const 1000000000))
        (i32.const 17131) (i32.const 7) (; no_data ;)))))

  ;; t_outside appends 'temperature V °C outside [MIN, MAX] °C'.
  (func $t_outside (param $v f64)
    (call $t_str (i32.const 16384) (i32.const 12) (; temperature  ;))
    (call $t_fixed (local.get $v))
    (call $t_str (i32.const 16396) (i32.const 14) (;  °C outside [ ;))
    (call $t_fixed (f64.load (i32.const 1032)))
    (call $t_str (i32.const 16410) (i32.const 2) (; ,  ;))
    (call $t_fixed (f64.load (i32.const 1040)))
    (call $t_str (i32.const 16412) (i32.const 5) (; ] °C ;)))

  (func $check_budget
    (local $out i64) (local $mp i32)
    (local.set $out (i64.load (i32.const 1072)))
    (if (i32.and (call $flags) (i32.const 2)) (then (return)))
    (if (i64.eqz (local.get $out)) (then (return)))
    (if (i64.lt_s (local.get $out) (i64.load (i32.const 1048))) (then (return)))
    (call $set_flags (i32.or (call $flags) (i32.const 2)))
    (local.set $mp (global.get $tp))
    (call $t_str (i32.const 16443) (i32.const 17) (; time out of band  ;))
    (call $t_fixed (f64.div (f64.convert_i64_s (local.get $out)) (f64.const 1e9)))
    (call $t_str (i32.const 16460) (i32.const 25) (;  s reached the budget of  ;))
    (call $t_fixed (f64.div (f64.convert_i64_s (i64.load (i32.const 1048))) (f64.const 1e9)))
    (call $t_str (i32.const 16441) (i32.const 2) (;  s ;))
    (call $alert (i32.const 3) (i32.const 16517) (i32.const 15) (; budget_exceeded ;) (local.get $mp) (i32.sub (global.get $tp) (local.get $mp)))
    (call $status (i32.const 16532) (i32.const 11) (; compromised ;))
    (call $timer (i32.const 2) (i64.const 0) (i32.const 16543) (i32.const 6) (; budget ;)))

  (func $view
    (local $vp i32) (local $num f64) (local $den f64)
    (local.set $vp (global.get $tp))
    (call $t_str (i32.const 16946) (i32.const 17) (; {"temperature_c": ;))
    (if (i32.and (call $flags) (i32.const 4))
      (then (call $t_fixed (f64.load (i32.const 1064))))
      (else (call $t_str (i32.const 16555) (i32.const 4) (; null ;))))
    (call $t_str (i32.const 16963) (i32.const 22) (; ,"time_out_of_band_s": ;))
    (call $t_fixed (f64.div (f64.convert_i64_s (i64.load (i32.const 1072))) (f64.const 1e9)))
    (call $t_str (i32.const 16985) (i32.const 9) (; ,"mkt_c": ;))
    (local.set $num (f64.load (i32.const 1088)))
    (local.set $den (f64.load (i32.const 1096)))
    (if (i32.or (f64.le (local.get $den) (f64.const 0)) (f64.le (local.get $num) (f64.const 0)))
      (then (call $t_str (i32.const 16555) (i32.const 4) (; null ;)))
      (else (call $t_fixed (f64.sub (f64.div (f64.const 10000) (f64.neg (call $log (f64.div (local.get $num) (local.get $den))))) (f64.const 273.15)))))
    (call $t_str (i32.const 16994) (i32.const 12) (; ,"readings": ;))
    (call $t_u64 (i64.load (i32.const 1104)))
    (call $t_str (i32.const 17006) (i32.const 18) (; ,"other_readings": ;))
    (call $t_u64 (i64.load (i32.const 1112)))
    (call $t_str (i32.const 17024) (i32.const 17) (; ,"late_readings": ;))
    (call $t_u64 (i64.load (i32.const 1120)))
    (call $t_str (i32.const 17041) (i32.const 16) (; ,"in_excursion": ;))
    (call $t_bool (i32.and (call $flags) (i32.const 1)))
    (call $t_str (i32.const 17057) (i32.const 15) (; ,"compromised": ;))
    (call $t_bool (i32.and (call $flags) (i32.const 2)))
    (call $t_str (i32.const 17072) (i32.const 22) (; ,"excursion_budget_s": ;))
    (call $t_fixed (f64.div (f64.convert_i64_s (i64.load (i32.const 1048))) (f64.const 1e9)))
    (call $t_str (i32.const 17094) (i32.const 17) (; ,"band":{"min_c": ;))
    (call $t_fixed (f64.load (i32.const 1032)))
    (call $t_str (i32.const 17111) (i32.const 9) (; ,"max_c": ;))
    (call $t_fixed (f64.load (i32.const 1040)))
    (call $t_str (i32.const 17120) (i32.const 2) (; }} ;))
    (global.set $view_p (local.get $vp))
    (global.set $view_l (i32.sub (global.get $tp) (local.get $vp))))

  (func (export "custos_init") (param $ep i32) (param $el i32) (result i64)
    (call $begin)
    (memory.fill (i32.const 1024) (i32.const 0) (i32.const 104))
    (i32.store8 (i32.const 1024) (i32.const 1))
    (f64.store (i32.const 1032) (f64.const 2))
    (f64.store (i32.const 1040) (f64.const 8))
    (i64.store (i32.const 1048) (i64.const 1800000000000))
    (i64.store (i32.const 1056) (i64.load offset=8 (local.get $ep)))
    (call $field (local.get $ep) (i32.const 1))
    (if (i32.and (i32.ne (global.get $fl) (i32.const 0))
                 (i32.eqz (call $eq (global.get $fp) (global.get $fl) (i32.const 16555) (i32.const 4) (; null ;))))
      (then
        (if (call $params (global.get $fp) (global.get $fl))
          (then (return (call $finish (i32.const 0)))))))
    (if (i32.or (i32.eqz (f64.lt (f64.load (i32.const 1032)) (f64.load (i32.const 1040))))
                (i32.or (f64.eq (f64.abs (f64.load (i32.const 1032))) (f64.const inf)) (f64.eq (f64.abs (f64.load (i32.const 1040))) (f64.const inf))))
      (then
        (call $reject (i32.const 16894) (i32.const 52) (; coldchain: invalid params: need finite min_c < max_c ;))
        (return (call $finish (i32.const 0)))))
    (call $arm_no_data)
    (call $view)
    (call $finish (i32.const 1)))

  (func (export "custos_apply") (param $sp i32) (param $sl i32) (param $ep i32) (param $el i32) (result i64)
    (local $kind i32) (local $t i64) (local $v f64) (local $out_of_band i32) (local $mp i32)
    (call $begin)
    (call $load_state (local.get $sp) (local.get $sl))
    (local.set $kind (i32.load8_u (local.get $ep)))
    (local.set $t (i64.load offset=8 (local.get $ep)))
    (block $done
      (if (i32.eq (local.get $kind) (i32.const 1)) ;; reading
        (then
          (call $arm_no_data)
          (if (i32.ne (i32.load8_u offset=1 (local.get $ep)) (i32.const 1)) ;; not temperature
            (then
              (i64.store (i32.const 1112) (i64.add (i64.load (i32.const 1112)) (i64.const 1)))
              (br $done)))
          (local.set $v (f64.load offset=24 (local.get $ep)))
          (if (i32.eqz (f64.lt (f64.abs (local.get $v)) (f64.const inf)))
            (then
              (call $reject (i32.const 16596) (i32.const 45) (; coldchain: temperature is not a finite number ;))
              (return (call $finish (i32.const 0)))))
          (if (i32.and (i32.ne (i32.and (call $flags) (i32.const 4)) (i32.const 0)) (i64.lt_s (local.get $t) (i64.load (i32.const 1056))))
            (then
              (i64.store (i32.const 1120) (i64.add (i64.load (i32.const 1120)) (i64.const 1)))
              (if (i32.or (f64.lt (local.get $v) (f64.load (i32.const 1032))) (f64.gt (local.get $v) (f64.load (i32.const 1040))))
                (then
                  (local.set $mp (global.get $tp))
                  (call $t_str (i32.const 17138) (i32.const 5) (; late  ;))
                  (call $t_outside (local.get $v))
                  (call $t_str (i32.const 17143) (i32.const 51) (; , before the last reading: not in the budget or MKT ;))
                  (call $alert (i32.const 2) (i32.const 17289) (i32.const 14) (; late_excursion ;) (local.get $mp) (i32.sub (global.get $tp) (local.get $mp)))))
              (br $done)))
          (if (i32.and (call $flags) (i32.const 4)) (then (call $accrue (local.get $t))))
          (call $set_flags (i32.or (call $flags) (i32.const 4)))
          (i64.store (i32.const 1056) (local.get $t))
          (f64.store (i32.const 1064) (local.get $v))
          (i64.store (i32.const 1104) (i64.add (i64.load (i32.const 1104)) (i64.const 1)))
          (call $check_budget)
          (local.set $out_of_band (i32.or (f64.lt (local.get $v) (f64.load (i32.const 1032))) (f64.gt (local.get $v) (f64.load (i32.const 1040)))))
          (if (i32.and (local.get $out_of_band) (i32.eqz (i32.and (call $flags) (i32.const 1))))
            (then
              (call $set_flags (i32.or (call $flags) (i32.const 1)))
              (i64.store (i32.const 1080) (local.get $t))
              (local.set $mp (global.get $tp))
              (call $t_outside (local.get $v))
              (call $alert (i32.const 2) (i32.const 16485) (i32.const 17) (; excursion_started ;) (local.get $mp) (i32.sub (global.get $tp) (local.get $mp)))
              (if (i32.eqz (i32.and (call $flags) (i32.const 2)))
                (then (call $timer (i32.const 1)
                  (i64.add (local.get $t) (i64.sub (i64.load (i32.const 1048)) (i64.load (i32.const 1072))))
                  (i32.const 16543) (i32.const 6) (; budget ;))))
              (br $done)))
          (if (i32.and (i32.eqz (local.get $out_of_band)) (i32.ne (i32.and (call $flags) (i32.const 1)) (i32.const 0)))
            (then
              (call $set_flags (i32.and (call $flags) (i32.const -2)))
              (local.set $mp (global.get $tp))
              (call $t_str (i32.const 16384) (i32.const 12) (; temperature  ;))
              (call $t_fixed (local.get $v))
              (call $t_str (i32.const 16417) (i32.const 24) (;  °C back in band after  ;))
              (call $t_fixed (f64.div (f64.convert_i64_s (i64.sub (local.get $t) (i64.load (i32.const 1080)))) (f64.const 1e9)))
              (call $t_str (i32.const 16441) (i32.const 2) (;  s ;))
              (call $alert (i32.const 1) (i32.const 16502) (i32.const 15) (; excursion_ended ;) (local.get $mp) (i32.sub (global.get $tp) (local.get $mp)))
              (call $timer (i32.const 2) (i64.const 0) (i32.const 16543) (i32.const 6) (; budget ;))))
          (br $done)))
      (if (i32.eq (local.get $kind) (i32.const 2)) ;; timer
        (then
          (call $field (local.get $ep) (i32.const 0))
          (if (call $eq (global.get $fp) (global.get $fl) (i32.const 17131) (i32.const 7) (; no_data ;))
            (then
              (if (i32.load (i32.const 1028))
                (then
                  (local.set $mp (global.get $tp))
                  (call $t_str (i32.const 17194) (i32.const 15) (; no reading for  ;))
                  (call $t_u64 (i64.extend_i32_u (i32.load (i32.const 1028))))
                  (call $t_str (i32.const 17209) (i32.const 24) (;  s by the server's clock ;))
                  (call $alert (i32.const 2) (i32.const 17131) (i32.const 7) (; no_data ;) (local.get $mp) (i32.sub (global.get $tp) (local.get $mp)))))
              (br $done)))
          (br_if $done (i32.eqz (call $eq (global.get $fp) (global.get $fl) (i32.const 16543) (i32.const 6) (; budget ;))))
          (br_if $done (i32.eqz (i32.and (call $flags) (i32.const 4))))
          (br_if $done (i64.lt_s (local.get $t) (i64.load (i32.const 1056))))
          (call $accrue (local.get $t))
          (i64.store (i32.const 1056) (local.get $t))
          (call $check_budget)
          (br $done)))
      (if (i32.eq (local.get $kind) (i32.const 5)) ;; status
        (then
          (call $field (local.get $ep) (i32.const 0))
          (if (i32.and (i32.ne (i32.and (call $flags) (i32.const 2)) (i32.const 0))
                       (i32.eqz (call $eq (global.get $fp) (global.get $fl) (i32.const 16549) (i32.const 6) (; closed ;))))
            (then (call $status (i32.const 16532) (i32.const 11) (; compromised ;)))))))
    (call $finish (i32.const 1)))

  (func (export "custos_view") (param $sp i32) (param $sl i32) (result i64)
    (call $begin)
    (call $load_state (local.get $sp) (local.get $sl))
    (call $view)
    (call $finish (i32.const 0)))
)
