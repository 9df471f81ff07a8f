package contracts

import (
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/custos-dev/custos/twin"
)

func TestDeployRefusesWithClearMessage(t *testing.T) {
	h := newTestHost(t, Config{MaxModuleBytes: 4096})
	ctx := context.Background()
	tests := []struct {
		name string
		wasm []byte
		want string
	}{
		{"trap", testdata(t, "trap"), "dry run: custos_apply on reading event (seq 2) failed: trap"},
		{"badout", testdata(t, "badout"), "dry run: custos_apply on reading event (seq 2) failed: invalid_output"},
		{"envimport", testdata(t, "envimport"), "forbidden import env.abort"},
		{"noapply", testdata(t, "noapply"), `missing export "custos_apply"`},
		{"oversize", make([]byte, 5000), "over the cap of 4096"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.Deploy(ctx, tt.name, "1.0.0", tt.wasm)
			if !errors.Is(err, ErrInvalidModule) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrInvalidModule containing %q", err, tt.want)
			}
			if _, err := h.Resolve(ctx, tt.name, ""); !errors.Is(err, twin.ErrUnknownPolicy) {
				t.Fatalf("refused module is resolvable: %v", err)
			}
		})
	}
	// Register (no dry run) accepts the module that traps on apply, Deploy
	// of the same bytes under another name still refuses it.
	if _, err := h.Register(ctx, "trap-registered", "1.0.0", testdata(t, "trap")); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Deploy(ctx, "trap-again", "1.0.0", testdata(t, "trap")); !errors.Is(err, ErrInvalidModule) {
		t.Fatalf("deploy of a compiled trapping module: %v", err)
	}
	if _, err := h.Contract(ctx, mustRef(t, h, "trap-registered").SHA256); err != nil {
		t.Fatalf("refused deploy closed a registered module: %v", err)
	}
	if _, err := h.Deploy(ctx, "minimal", "1.0.0", testdata(t, "minimal")); err != nil {
		t.Fatalf("deploy minimal: %v", err)
	}
}

func mustRef(t *testing.T, h *Host, name string) twin.ContractRef {
	t.Helper()
	ref, err := h.Resolve(context.Background(), name, "")
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func TestMigrator(t *testing.T) {
	h := newTestHost(t, Config{})
	ctx := context.Background()
	plain := mustContract(t, h, "minimal")
	if _, ok := plain.(twin.Migrator); ok {
		t.Fatal("a module without custos_migrate is a twin.Migrator")
	}
	mig := mustContract(t, h, "migrate")
	m, ok := mig.(twin.Migrator)
	if !ok {
		t.Fatal("a module with custos_migrate is not a twin.Migrator")
	}
	ev := twin.Event{Kind: twin.KindUpgrade, Time: time.Unix(1_780_000_000, 0), Seq: 9, Fields: []string{"ab", "1.0.0", "2.0.0"}}
	out, err := m.Migrate(ctx, twin.Call{Twin: "x", Seq: 9, Time: ev.Time}, make([]byte, 40), encodeEvent(t, ev))
	if err != nil {
		t.Fatal(err)
	}
	if len(out.State) != 8 || binary.LittleEndian.Uint32(out.State) != 40 || binary.LittleEndian.Uint32(out.State[4:]) != uint32(twin.KindUpgrade) {
		t.Fatalf("migrated state %x", out.State)
	}
	// The migrating handle is still a full contract.
	if _, err := mig.Apply(ctx, twin.Call{Twin: "x", Seq: 10, Time: ev.Time}, out.State, encodeEvent(t, reading(10, ev.Time, 5))); err != nil {
		t.Fatal(err)
	}
}
