package pg

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// proxy forwards TCP connections to PostgreSQL and can hang them (stop
// forwarding, as a partitioned network does) or cut them.
type proxy struct {
	ln     net.Listener
	target string
	frozen atomic.Bool
	refuse atomic.Bool // close new connections at once
	mu     sync.Mutex
	conns  []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.cut() })
	return p
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.refuse.Load() {
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		go p.pipe(c, s)
		go p.pipe(s, c)
	}
}

func (p *proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		for p.frozen.Load() {
			time.Sleep(5 * time.Millisecond)
		}
		if n > 0 {
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				dst.Close()
			}
			return
		}
	}
}

// cut closes every forwarded connection.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// viaProxy returns the test database URL with its host replaced by the
// proxy's address.
func viaProxy(t *testing.T) (*proxy, string) {
	u, err := url.Parse(testURL(t))
	if err != nil {
		t.Fatal(err)
	}
	p := newProxy(t, u.Host)
	u.Host = p.ln.Addr().String()
	return p, u.String()
}

// TestNetworkFailures breaks the path to PostgreSQL in several ways without
// touching the server. Commit gives up when ctx is done or when no new
// connection can be made, writes nothing then, and works again afterwards on
// the same DB; a connection that breaks under it is replaced at once.
func TestNetworkFailures(t *testing.T) {
	p, u := viaProxy(t)
	schema := newSchema(t)
	db, err := Open(ctxT(t), u, WithSchema(schema), WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mustCommit(t, db, batchOf("base", 50, 4, 0)) // 200 records
	heal := func() { p.frozen.Store(false); p.refuse.Store(false) }
	tests := []struct {
		name   string
		copy   bool
		break_ func()
		fails  bool
	}{
		{"hang/copy", true, func() { p.frozen.Store(true) }, true},
		{"hang/upsert", false, func() { p.frozen.Store(true) }, true},
		{"unreachable/copy", true, func() { p.refuse.Store(true); p.cut() }, true},
		{"unreachable/upsert", false, func() { p.refuse.Store(true); p.cut() }, true},
		{"idle connections cut/copy", true, p.cut, false},
		{"idle connections cut/upsert", false, p.cut, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := batchOf(fmt.Sprint("c", i), 50, 4, 0)
			if !tt.copy {
				b = batchOf(fmt.Sprint("c", i), 5, 2, 0)
			}
			tt.break_()
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			start := time.Now()
			err := db.Commit(ctx, b)
			took := time.Since(start)
			cancel()
			heal()
			switch {
			case tt.fails && err == nil:
				t.Fatal("Commit succeeded through a broken network")
			case !tt.fails && err != nil:
				t.Fatalf("Commit: %v", err)
			case took > 2*time.Second:
				t.Errorf("Commit took %v (ctx deadline 300ms)", took)
			}
			t.Logf("took %v: %v", took.Round(time.Millisecond), err)
			want := 200
			if !tt.fails {
				want += len(b.Records)
			}
			if n := count(t, db, "history"); n != want {
				t.Fatalf("history has %d rows, want %d", n, want)
			}
			// The same DB works again once the network does.
			if err := db.Ping(ctxT(t)); err != nil {
				t.Fatalf("Ping after the network came back: %v", err)
			}
			mustCommit(t, db, b)
			if n := count(t, db, "history"); n != 200+len(b.Records) {
				t.Fatalf("history has %d rows, want %d", n, 200+len(b.Records))
			}
			if _, err := db.pool.Exec(ctxT(t), "DELETE FROM history WHERE twin NOT LIKE 'base-%'"); err != nil {
				t.Fatal(err)
			}
		})
	}

	t.Run("cut mid-commit", func(t *testing.T) {
		b := batchOf("mid", 50, 4, 0)
		p.frozen.Store(true)
		errc := make(chan error, 1)
		go func() { errc <- db.Commit(ctxT(t), b) }()
		time.Sleep(100 * time.Millisecond) // the commit is stuck in the proxy
		p.cut()
		p.frozen.Store(false)
		if err := <-errc; err != nil {
			t.Fatalf("Commit with its connection cut under it: %v", err)
		}
		if n := count(t, db, "history"); n != 400 {
			t.Fatalf("history has %d rows, want 400", n)
		}
	})

	t.Run("ping", func(t *testing.T) {
		pctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		p.frozen.Store(true)
		defer p.frozen.Store(false)
		if err := db.Ping(pctx); err == nil {
			t.Error("Ping succeeded through a hung network")
		}
	})
}
