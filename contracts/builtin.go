package contracts

import (
	"context"

	"github.com/custos-dev/custos/twin"
	"github.com/custos-dev/custos/wasm-policies/builtin"
)

// RegisterBuiltins registers the policies embedded in the binary
// (wasm-policies/builtin: coldchain) with RegisterTrusted and returns their
// references.
func (h *Host) RegisterBuiltins(ctx context.Context) ([]twin.ContractRef, error) {
	var refs []twin.ContractRef
	for _, p := range builtin.Policies() {
		ref, err := h.RegisterTrusted(ctx, p.Name, p.Version, p.Wasm)
		if err != nil {
			return refs, err
		}
		refs = append(refs, ref)
	}
	return refs, nil
}
