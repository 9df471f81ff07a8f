package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/custos-dev/custos/contracts"
	"github.com/custos-dev/custos/internal/httpapi"
	"github.com/custos-dev/custos/internal/modstore"
	"github.com/custos-dev/custos/twin"
)

// moduleHooks lets the HTTP API deploy modules, list them with their twin
// counts, and upgrade twins.
func (a *App) moduleHooks(c *httpapi.Config) {
	if a.Modules == nil {
		return
	}
	d := a.Modules
	c.Deploy = func(ctx context.Context, name, version string, wasm []byte) (any, error) {
		ref, err := d.Deploy(ctx, name, version, wasm)
		switch {
		case errors.Is(err, contracts.ErrInvalidModule):
			return nil, fmt.Errorf("%w: %v", httpapi.ErrInvalidModule, err)
		case errors.Is(err, contracts.ErrVersionExists):
			return nil, fmt.Errorf("%w: %v", httpapi.ErrConflict, err)
		}
		return ref, err
	}
	c.ListPolicies = func(ctx context.Context) (any, error) { return d.List(ctx) }
	c.Module = d.ModuleBytes
	c.Upgrade = func(ctx context.Context, id, policy, version string) (*twin.Command, error) {
		return modstore.UpgradeCommand(ctx, d, a.Store, id, policy, version)
	}
}
