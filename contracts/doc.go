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
// demand. A call that fails (trap, timeout, memory cap, bad output) discards
// its instance; the next call gets a fresh one.
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
// # Deadlines
//
// wazero can only interrupt guest code when the runtime is built with
// WithCloseOnContextDone, and then it starts one goroutine per guest call
// whatever the context. The host does not add a context.WithTimeout (and
// its timer) per call: each instance owns a reusable context whose Done
// channel a single watchdog goroutine closes when the instance's deadline
// (Config.CallTimeout, or the caller's earlier ctx deadline) has passed.
// The watchdog ticks every CallTimeout/10 (1 ms to 50 ms), so a runaway call
// stops between CallTimeout and CallTimeout plus one tick. Instantiation
// (including a Go guest's _initialize) gets max(10×CallTimeout, 10 s).
//
// Hard deadlines are expensive. wazero starts a goroutine per guest call
// (BenchmarkGuestCall: ~1.3–3 µs with it, ~50–100 ns without, on 2 shared
// cores), and its termination checks call out of the guest at every loop
// iteration, which Go guests (whose functions are dispatch loops) pay
// dearly: the coldchain apply costs ~4× more
// (BenchmarkApplyColdchainGuestOnly). So:
//
//   - the host makes one guest call per event: the input region that
//     custos_alloc returned is reused for every call that fits in it (ABI
//     v1 allows this), and custos_reset/custos_alloc run only when it must
//     grow;
//   - modules registered with [Host.RegisterTrusted] (the built-in
//     policies, see [Host.RegisterBuiltins]) run in a second runtime without
//     termination checks; their deadline is soft: an overrun is reported as
//     a timeout when the call returns, but a call that never returns is not
//     stopped. Modules from [Host.Register] always get hard deadlines.
package contracts
