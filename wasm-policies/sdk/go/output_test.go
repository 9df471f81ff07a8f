package sdk

import (
	"bytes"
	"testing"
)

// TestOutputEncodingExample pins the example of ABI.md §4.
func TestOutputEncodingExample(t *testing.T) {
	var o Output
	o.SetStatus("compromised")
	o.Alert(Warning, "x", "hi")
	got := o.AppendBinary(nil, []byte{1, 2})
	want := []byte("\x01\x00\x00\x00" + "\x02\x00\x00\x00\x01\x02" + "\x0b\x00\x00\x00compromised" + "\x00\x00\x00\x00" + "\x00\x00\x00\x00" +
		"\x01\x00\x00\x00" + "\x02\x00\x00\x00" + "\x01\x00\x00\x00x" + "\x02\x00\x00\x00hi" + "\x00\x00\x00\x00")
	if !bytes.Equal(got, want) {
		t.Fatalf("got  %x\nwant %x", got, want)
	}
	o.Reset()
	if len(o.AppendBinary(nil, nil)) != 4+4*6 {
		t.Fatal("reset output is not empty")
	}
}
