package twin

// Head is the head of a twin's digest chain after a commit: what an anchor
// epoch commits to as a Merkle leaf (twin, seq, digest).
type Head struct {
	Twin   string
	Seq    uint64
	Digest Hash
}

// Anchorer receives the digest heads of the twins each durable batch
// changed. anchor.Service implements it; Observe must not block.
type Anchorer interface {
	Observe(heads []Head)
}

// Heads returns the digest heads of the twins changed in the outcome.
func (o *Outcome) Heads() []Head {
	hs := make([]Head, len(o.States))
	for i, s := range o.States {
		hs[i] = Head{Twin: s.Twin, Seq: s.Seq, Digest: s.Digest}
	}
	return hs
}
