// Package contracts is the contract host of custos: it runs WebAssembly
// contract modules (ABI v1, specified in wasm-policies/ABI.md) with wazero
// and implements [twin.ContractHost] and [twin.Contract].
//
// # Modules
//
// [Host.Register] validates a module (size, exports and their signatures,
// import allowlist), compiles it, instantiates it once to check that it
// initialises, and files it under name and version. Modules are content
// addressed: the sha256 of the bytes is what a twin's digest chain commits
// to, and registering a new version never changes what earlier events were
// evaluated with. [Host.Resolve] with an empty version returns the newest
// version of a name: the highest semantic version (vMAJOR.MINOR.PATCH, "v"
// optional, pre-releases before releases) among those that parse as one,
// else the most recently registered.
//
// # Instances
//
// State lives in the host, so any instance of a module serves any twin.
// Each module has a pool of at most [Config.PoolSize] instances, created on
// demand. A call that fails (trap, fuel, memory cap) discards its
// instance; the next call gets a fresh one.
//
// # Determinism
//
// The guest sees only what the call gives it: the WASI wall clock reads the
// event time, the monotonic clock restarts at the event time on every call
// and advances 1 ns per read, random_get returns a ChaCha8 stream seeded
// from sha256("custos/rand/v1" ‖ u32le(len(twin)) ‖ twin ‖ u64le(seq)), there
// is no file system, no arguments or environment, sleeping returns at once,
// and stdout is discarded (stderr is kept in a small per-call buffer that
// is quoted in trap errors).
//
// # Fuel
//
// No wall clock decides a call. Each module is instrumented once, at
// registration (decoded and re-encoded with github.com/tetratelabs/wabin):
// a mutable i64 global exported as custos_fuel, and at every function
// entry and loop head a charge of the instructions that function's or
// loop's own body holds, trapping when the counter goes below zero. The
// host sets the counter to the budget ([Config.Fuel], or the module's
// custos.fuel section, see [WithFuel]) before each call, and a trap that
// leaves it negative is Kind "fuel". Fuel bounds the instructions a call
// runs (control only flows backwards to a loop head, which charges) and is
// the same on every machine, so the verdict is too. Memory (a page cap in
// the instance allocator) and output (a byte cap) are limits of the same
// nature. wasm-policies/ABI.md §5–7 is the specification.
//
// Without a deadline, the runtime has no termination checks
// (WithCloseOnContextDone off), which cost a goroutine per call and a call
// out of the guest at every loop iteration (BenchmarkApplyColdchainGuestOnly:
// ~4× for the Go coldchain). A charge is a few inline instructions at
// function entries and loop heads; BenchmarkApplyColdchainMetering
// compares each coldchain build metered and unmetered.
//
// # Watchdog
//
// A single goroutine ticks every min(Config.Watchdog/10, 1 s) and
// quarantines the module of any call that has run longer than
// Config.Watchdog: later calls fail with Kind "quarantined" (not a
// deterministic verdict: the runtime dead-letters the event and records
// nothing). The running call is not interrupted and ends with its own
// verdict. [Host.Quarantined] reports it; Config.OnQuarantine is told.
//
// The host makes one guest call per event: the input region that
// custos_alloc returned is reused for every call that fits in it (ABI v1
// allows this), and custos_reset/custos_alloc run only when it must grow
// (they are not charged to the call: whether they run depends on the
// instance's history). Modules registered with [Host.RegisterTrusted] (the
// built-in policies, see [Host.RegisterBuiltins]) are metered like the
// others; only their views are not re-validated as JSON.
package contracts
