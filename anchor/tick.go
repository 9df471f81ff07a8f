package anchor

import "time"

const pollFast = 100 * time.Millisecond

func newTicker(d time.Duration) *time.Ticker { return time.NewTicker(d) }
