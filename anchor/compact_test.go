package anchor

import (
	"bytes"
	"testing"
	"time"

	"github.com/custos-dev/custos/twin"
)

func withEvent(b *Bundle) *Bundle {
	e := twin.Event{Kind: twin.KindReading, Type: twin.TypeTemperature, Time: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC),
		Seq: b.Seq, Value: 5.1, Fields: []string{"t1", "CEL"}}
	b.Event, _ = e.MarshalBinary()
	b.Links[0].EventHash = twin.Keccak256(b.Event)
	return b
}

func TestCompactRoundTrip(t *testing.T) {
	b := offlineBundle(t, 1000, 3)
	c, err := b.MarshalCompact()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadCompact(c)
	if err != nil {
		t.Fatal(err)
	}
	if r := VerifyOffline(got); !r.OK() {
		t.Fatalf("compact bundle does not verify:\n%s", r)
	}
	if got.Root != b.Root || got.Signer != b.Signer || got.Digest != b.Digest || got.LeafHash != b.LeafHash ||
		len(got.Links) != len(b.Links) || got.Links[2] != b.Links[2] || got.Operator != b.Operator || got.Tx != b.Tx || got.Block != b.Block {
		t.Fatalf("derived fields differ:\n%+v\n%+v", got, b)
	}
}

// TestCompactTamper flips every byte of a compact bundle in turn: each
// change is refused when read, fails the offline checks, or changes what
// the chain is asked to confirm (root, signer, epoch, chain, contract,
// operator, transaction, block), which a real chain then does not.
func TestCompactTamper(t *testing.T) {
	b := offlineBundle(t, 64, 2)
	c, _ := b.MarshalCompact()
	for i := range c {
		bad := bytes.Clone(c)
		bad[i] ^= 0x01
		got, err := ReadCompact(bad)
		if err != nil || !VerifyOffline(got).OK() {
			continue
		}
		if got.Root == b.Root && got.Signer == b.Signer && got.Epoch == b.Epoch && got.ChainID == b.ChainID &&
			got.Contract == b.Contract && got.Operator == b.Operator && got.Tx == b.Tx && got.Block == b.Block && got.Digest == b.Digest {
			t.Fatalf("byte %d changed, yet the bundle claims the same anchor and digest", i)
		}
	}
}

func FuzzReadCompact(f *testing.F) {
	b := offlineBundle(f, 8, 1)
	c, _ := b.MarshalCompact()
	f.Add(c)
	f.Add([]byte("CPB2"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ReadCompact(data)
		if err != nil {
			return
		}
		VerifyOffline(got)
		again, err := got.MarshalCompact()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("re-encoding differs (%v)", err)
		}
	})
}
