package embedded

import (
	"context"
	"errors"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/custos-dev/custos/twin"
)

// fullFS fails every write with ENOSPC while full is set.
type fullFS struct {
	vfs.FS
	full *atomic.Bool
}

type fullFile struct {
	vfs.File
	full *atomic.Bool
}

func (f fullFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	if f.full.Load() {
		return nil, &pathError{name}
	}
	file, err := f.FS.Create(name, c)
	return fullFile{file, f.full}, err
}

func (f fullFS) ReuseForWrite(old, name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	file, err := f.FS.ReuseForWrite(old, name, c)
	return fullFile{file, f.full}, err
}

func (f fullFile) Write(p []byte) (int, error) {
	if f.full.Load() {
		return 0, syscall.ENOSPC
	}
	return f.File.Write(p)
}

func (f fullFile) WriteAt(p []byte, off int64) (int, error) {
	if f.full.Load() {
		return 0, syscall.ENOSPC
	}
	return f.File.WriteAt(p, off)
}

type pathError struct{ name string }

func (e *pathError) Error() string { return "create " + e.name + ": no space left on device" }
func (e *pathError) Unwrap() error { return syscall.ENOSPC }

// A WAL write that hits ENOSPC does not panic (pebble's "fatal commit
// error"): the commit waits until space returns and then completes, while
// Ping reports the full disk.
func TestENOSPCWaitsForSpace(t *testing.T) {
	old := spacePoll
	spacePoll = 10 * time.Millisecond
	defer func() { spacePoll = old }()
	var full atomic.Bool
	var free atomic.Uint64
	var stale atomic.Int32 // measures that still see the space of before
	free.Store(1 << 40)
	db, err := Open(t.TempDir(), quiet, WithFS(fullFS{vfs.Default, &full}),
		WithFreeSpace(func(string) (uint64, error) {
			if stale.Add(-1) >= 0 {
				return 1 << 40, nil
			}
			return free.Load(), nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	commit := func(n int) error {
		return db.Commit(ctx, &twin.Batch{Twins: []*twin.Twin{{ID: "T-1", Seq: uint64(n), Status: twin.StatusCreated}}})
	}
	if err := commit(1); err != nil {
		t.Fatal(err)
	}
	// The disk fills up between the reserve check and the write.
	full.Store(true)
	free.Store(1 << 20)
	stale.Store(1) // the commit's reserve check passes; the WAL write fails
	done := make(chan error, 1)
	go func() { done <- commit(2) }()
	select {
	case err := <-done:
		t.Fatalf("commit on a full disk returned %v; want it to wait", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := db.Ping(ctx); !errors.Is(err, ErrDiskFull) {
		t.Errorf("ping on a full disk: %v", err)
	}
	full.Store(false)
	free.Store(1 << 40)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("commit after space returned: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("commit still waiting after space returned")
	}
	tw, err := db.Twin(ctx, "T-1")
	if err != nil || tw.Seq != 2 {
		t.Fatalf("T-1: %v %v", tw, err)
	}
	if err := commit(3); err != nil {
		t.Fatal(err)
	}
}
