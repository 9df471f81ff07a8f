package contracts

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// wasiModule is the only import module a contract may use.
const wasiModule = "wasi_snapshot_preview1"

// allowedImports are the WASI functions a Go (GOOS=wasip1) runtime imports.
// They are all served deterministically (see the package doc).
var allowedImports = map[string]bool{
	"args_get": true, "args_sizes_get": true, "environ_get": true, "environ_sizes_get": true,
	"clock_time_get": true, "random_get": true, "sched_yield": true, "poll_oneoff": true,
	"proc_exit": true, "fd_write": true, "fd_close": true, "fd_fdstat_get": true,
	"fd_fdstat_set_flags": true, "fd_prestat_get": true, "fd_prestat_dir_name": true,
}

// AllowedImports returns the sorted names of the wasi_snapshot_preview1
// functions a contract may import.
func AllowedImports() []string {
	names := make([]string, 0, len(allowedImports))
	for n := range allowedImports {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

type exportSig struct {
	name     string
	params   []api.ValueType
	results  []api.ValueType
	optional bool
}

const (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

var requiredExports = []exportSig{
	{name: "custos_abi_v1"},
	{name: "custos_alloc", params: []api.ValueType{i32}, results: []api.ValueType{i32}},
	{name: "custos_reset"},
	{name: "custos_init", params: []api.ValueType{i32, i32}, results: []api.ValueType{i64}},
	{name: "custos_apply", params: []api.ValueType{i32, i32, i32, i32}, results: []api.ValueType{i64}},
	{name: "custos_view", params: []api.ValueType{i32, i32}, results: []api.ValueType{i64}, optional: true},
	{name: "custos_migrate", optional: true, params: []api.ValueType{i32, i32, i32, i32}, results: []api.ValueType{i64}},
	{name: "custos_event_flags", optional: true},
	{name: "_initialize", optional: true},
}

// validateCompiled checks a compiled module's imports and exports against
// ABI v1. The error wraps ErrInvalidModule and names every problem.
func validateCompiled(cm wazero.CompiledModule, maxPages uint32) error {
	var problems []string
	for _, imp := range cm.ImportedFunctions() {
		mod, name, _ := imp.Import()
		if mod != wasiModule || !allowedImports[name] {
			problems = append(problems, fmt.Sprintf("forbidden import %s.%s", mod, name))
		}
	}
	if ms := cm.ImportedMemories(); len(ms) > 0 {
		problems = append(problems, "memory must be defined by the module, not imported")
	}
	mems := cm.ExportedMemories()
	if m, ok := mems["memory"]; !ok {
		problems = append(problems, `missing export "memory"`)
	} else if m.Min() > maxPages {
		problems = append(problems, fmt.Sprintf("memory minimum %d pages exceeds the cap of %d", m.Min(), maxPages))
	}
	fns := cm.ExportedFunctions()
	for _, want := range requiredExports {
		def, ok := fns[want.name]
		if !ok {
			if !want.optional {
				problems = append(problems, fmt.Sprintf("missing export %q", want.name))
			}
			continue
		}
		if !slices.Equal(def.ParamTypes(), want.params) || !slices.Equal(def.ResultTypes(), want.results) {
			problems = append(problems, fmt.Sprintf("export %q has signature %s, want %s",
				want.name, sig(def.ParamTypes(), def.ResultTypes()), sig(want.params, want.results)))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidModule, strings.Join(problems, "; "))
	}
	return nil
}

func sig(params, results []api.ValueType) string {
	names := func(ts []api.ValueType) string {
		s := make([]string, len(ts))
		for i, t := range ts {
			s[i] = api.ValueTypeName(t)
		}
		return strings.Join(s, ", ")
	}
	return "(" + names(params) + ") -> (" + names(results) + ")"
}
