;; misbehave.wat — a contract that passes the deploy dry run (readings of
;; value 5) and misbehaves on chosen reading values, to compare the runtime
;; with `custos policy test` on every failure kind:
;;   1001 loops forever (fuel), 1002 grows memory until the cap (memory),
;;   1003 traps, 1004 returns 2 MB of output (output_too_large),
;;   2000 + k loops k × 1000 times, then counts (the fuel used depends on the event);
;; any other reading counts: the state is minimal.wat's with count + 1.
;; Built with: wat2wasm misbehave.wat -o misbehave.wasm (see gen.sh)
(module
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 65536))
  ;; view output at 2048: version 1, empty state, no status, view {"n":1}, no reject/alerts/timers
  (data (i32.const 2048) "\01\00\00\00" "\00\00\00\00" "\00\00\00\00" "\07\00\00\00" "{\"n\":1}" "\00\00\00\00\00\00\00\00\00\00\00\00")
  (func (export "custos_abi_v1"))
  (func (export "custos_reset") (global.set $heap (i32.const 65536)))
  (func (export "custos_alloc") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.and (i32.add (i32.add (local.get $p) (local.get $n)) (i32.const 7)) (i32.const -8)))
    (block $ok
      (br_if $ok (i32.le_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536))))
      (drop (memory.grow (i32.add (i32.shr_u (i32.sub (global.get $heap) (i32.mul (memory.size) (i32.const 65536))) (i32.const 16)) (i32.const 1)))))
    (local.get $p))
  (func $fill (param $count i64) (result i64)
    (i32.store (i32.const 1024) (i32.const 1))
    (i32.store (i32.const 1028) (i32.const 40))
    (drop (call $clock (i32.const 0) (i64.const 1) (i32.const 1032)))
    (drop (call $clock (i32.const 1) (i64.const 1) (i32.const 1040)))
    (drop (call $random (i32.const 1048) (i32.const 16)))
    (i64.store (i32.const 1064) (local.get $count))
    (i64.store (i32.const 1072) (i64.const 0))
    (i64.store (i32.const 1080) (i64.const 0))
    (i32.store (i32.const 1088) (i32.const 0))
    (i64.or (i64.shl (i64.const 1024) (i64.const 32)) (i64.const 68)))
  (func (export "custos_init") (param $ep i32) (param $el i32) (result i64)
    (call $fill (i64.const 0)))
  (func (export "custos_view") (param $sp i32) (param $sl i32) (result i64)
    (i64.or (i64.shl (i64.const 2048) (i64.const 32)) (i64.const 35)))
  (func (export "custos_apply") (param $sp i32) (param $sl i32) (param $ep i32) (param $el i32) (result i64)
    (local $v i32) (local $n i32) (local $count i64)
    (local.set $v (i32.trunc_sat_f64_s (f64.load offset=24 (local.get $ep))))
    (if (i32.eq (local.get $v) (i32.const 1001))
      (then (loop $l (br $l))))
    (if (i32.eq (local.get $v) (i32.const 1002))
      (then
        (loop $g (br_if $g (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
        (unreachable)))
    (if (i32.eq (local.get $v) (i32.const 1003))
      (then (unreachable)))
    (if (i32.eq (local.get $v) (i32.const 1004))
      (then (return (i64.or (i64.shl (i64.const 1024) (i64.const 32)) (i64.const 2000000)))))
    (if (i32.and (i32.ge_s (local.get $v) (i32.const 2000)) (i32.lt_s (local.get $v) (i32.const 3000)))
      (then
        (local.set $n (i32.mul (i32.sub (local.get $v) (i32.const 2000)) (i32.const 1000)))
        (loop $w
          (local.set $n (i32.sub (local.get $n) (i32.const 1)))
          (br_if $w (i32.gt_s (local.get $n) (i32.const 0))))))
    (if (i32.eq (local.get $sl) (i32.const 40))
      (then (local.set $count (i64.load offset=32 (local.get $sp)))))
    (call $fill (i64.add (local.get $count) (i64.const 1))))
)
