package contracts

import (
	"context"

	"github.com/custos-dev/custos/twin"
	"github.com/custos-dev/custos/wasm-policies/builtin"
)

// RegisterBuiltins registers the policies embedded in the binary
// (wasm-policies/builtin: coldchain) with RegisterTrusted, or, for those
// only retained for older twins, RegisterTrustedLazy, and returns their
// references.
func (h *Host) RegisterBuiltins(ctx context.Context) ([]twin.ContractRef, error) {
	var refs []twin.ContractRef
	for _, p := range builtin.Policies() {
		register := h.RegisterTrusted
		if p.Retained {
			register = h.RegisterTrustedLazy
		}
		ref, err := register(ctx, p.Name, p.Version, p.Wasm)
		if err != nil {
			return refs, err
		}
		refs = append(refs, ref)
	}
	return refs, nil
}
