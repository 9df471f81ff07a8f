package clustertest

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Pid returns the node's process id (0 when it is not running).
func (n *Node) Pid() int {
	if !n.Running() {
		return 0
	}
	return n.cmd.Process.Pid
}

// CPU returns the user+system CPU time the node's process has used, from
// /proc/<pid>/stat (Linux).
func (n *Node) CPU() (time.Duration, error) {
	pid := n.Pid()
	if pid == 0 {
		return 0, fmt.Errorf("node %s is not running", n.ID)
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: state is field 3, utime 14, stime 15 (clock ticks, 100 Hz).
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %q %q", pid, f[11], f[12])
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, nil
}

// Events returns the number of events the workload's messages carry when
// applied (creates and readings; the deliberately bad message none).
func (w *Workload) Events() int {
	n := 0
	for _, m := range w.Msgs {
		switch {
		case strings.HasPrefix(m.Subject, "custos.command."):
			n++
		case strings.Contains(string(m.Body), `"readings":[`):
			n += strings.Count(string(m.Body), `"ts":`)
		case strings.HasPrefix(string(m.Body), `{"ts":"`):
			n++
		}
	}
	return n
}
