package epcis

import (
	"errors"
	"testing"
)

func TestParseKey(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		// GS1 EPC Tag Data Standard examples: the URN and the Digital Link
		// of one object give one key.
		{"urn:epc:id:sgtin:0614141.112345.400", "01/10614141123459/21/400"},
		{"https://id.gs1.org/01/10614141123459/21/400", "01/10614141123459/21/400"},
		{"https://example.com/dl/01/10614141123459/21/400?linkType=gs1:pip", "01/10614141123459/21/400"},
		{"urn:epc:id:sgtin:0614141.112345.A%2FB", "01/10614141123459/21/A/B"},
		{"https://id.gs1.org/01/10614141123459/21/A%2FB", "01/10614141123459/21/A/B"},
		{"urn:epc:id:sscc:0614141.1234567890", "00/106141412345678908"},
		{"https://id.gs1.org/00/106141412345678908", "00/106141412345678908"},
		{"urn:epc:id:grai:0614141.12345.400", "8003/00614141123452400"},
		{"https://id.gs1.org/8003/00614141123452400", "8003/00614141123452400"},
		{"https://id.gs1.org/01/614141123452/21/7", "01/00614141123452/21/7"}, // GTIN-12 padded
		{"urn:custos:twin:pallet-7", "twin/pallet-7"},
	} {
		k, err := ParseKey(tc.in)
		if err != nil || string(k) != tc.want {
			t.Errorf("ParseKey(%q) = %q, %v; want %q", tc.in, k, err, tc.want)
		}
	}
	for _, bad := range []string{
		"", "urn:epc:id:sgtin:0614141.12345.400", // 12 digits
		"urn:epc:id:sgln:0614141.12345.0",                       // locations name no twin
		"https://id.gs1.org/01/10614141123450/21/400",           // wrong check digit
		"https://id.gs1.org/01/10614141123459",                  // a class, not an instance
		"https://id.gs1.org/00/106141412345678907",              // wrong check digit
		"urn:epc:id:sgtin:0614141.112345.a b",                   // space in serial
		"urn:epc:id:sgtin:0614141.112345.123456789012345678901", // 21 chars
		"urn:custos:twin:bad id", "mailto:x@y", "https://example.com/nothing",
	} {
		if k, err := ParseKey(bad); err == nil || !errors.Is(err, ErrIdentifier) {
			t.Errorf("ParseKey(%q) = %q, %v; want ErrIdentifier", bad, k, err)
		}
	}
}

func FuzzParseKey(f *testing.F) {
	for _, s := range []string{"urn:epc:id:sgtin:0614141.112345.400", "https://id.gs1.org/00/106141412345678908",
		"urn:epc:id:grai:0614141.12345.400", "urn:custos:twin:x", "https://a/8003/00614141123452400"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseKey(s)
		if err != nil {
			return
		}
		// A key is its own Digital Link path: parsing it back gives itself.
		if id, ok := k.Twin(); ok {
			if k2, err := ParseKey(TwinURIPrefix + id); err != nil || k2 != k {
				t.Fatalf("twin key %q does not round-trip: %q %v", k, k2, err)
			}
			return
		}
		k2, err := ParseKey(k.DigitalLink())
		if err != nil || k2 != k {
			t.Fatalf("key %q of %q does not round-trip through a Digital Link: %q %v", k, s, k2, err)
		}
	})
}
