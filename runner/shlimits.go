package runner

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// shellLimits is how this machine's /bin/sh sets resource limits with its
// ulimit builtin: which flag is the process count (dash and busybox say
// -p, bash -u) and how many bytes a unit of -d and -f is. Setting the
// limits in the step's own shell, before its script, costs nothing; a
// prlimit command in between would cost an exec per step.
type shellLimits struct {
	proc               string // "-p" or "-u"
	dataUnit, fileUnit int64
}

// probeShell finds out by trying: it sets odd values with each candidate
// flag and reads back /proc/self/limits, soft and hard. ok is false when no
// candidate sets all three (a shell we do not know).
func probeShell() (sl shellLimits, ok bool) {
	const procs, data, file = 3001, 300007, 300011
	for _, flag := range []string{"-p", "-u"} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		script := fmt.Sprintf("ulimit %s %d && ulimit -d %d && ulimit -f %d && cat /proc/self/limits", flag, procs, data, file)
		cmd := exec.CommandContext(ctx, "/bin/sh", "-c", script)
		cmd.Env = []string{"PATH=/usr/bin:/bin"}
		out, err := cmd.Output()
		cancel()
		if err != nil {
			continue
		}
		lim := readLimits(string(out))
		if lim["Max processes"] != procs {
			continue
		}
		sl = shellLimits{proc: flag}
		for _, unit := range []int64{512, 1024} {
			if lim["Max data size"] == data*unit {
				sl.dataUnit = unit
			}
			if lim["Max file size"] == file*unit {
				sl.fileUnit = unit
			}
		}
		if sl.dataUnit != 0 && sl.fileUnit != 0 {
			return sl, true
		}
	}
	return shellLimits{}, false
}

// readLimits parses /proc/self/limits into the values set soft and hard
// alike; a limit whose soft and hard values differ reads as -1.
func readLimits(s string) map[string]int64 {
	out := map[string]int64{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		line := sc.Text()
		for _, name := range []string{"Max processes", "Max data size", "Max file size"} {
			if !strings.HasPrefix(line, name) {
				continue
			}
			f := strings.Fields(line[len(name):])
			if len(f) < 2 {
				continue
			}
			soft, err1 := strconv.ParseInt(f[0], 10, 64)
			hard, err2 := strconv.ParseInt(f[1], 10, 64)
			if err1 == nil && err2 == nil && soft == hard {
				out[name] = soft
			} else {
				out[name] = -1
			}
		}
	}
	return out
}

// prefix is the shell text that sets rl, soft and hard, before a step's
// script. It ends with "; " on the script's first line, so the line numbers
// the shell reports in errors stay the script's own.
func (sl shellLimits) prefix(rl []rlimit) string {
	var b strings.Builder
	for _, r := range rl {
		switch r.res {
		case syscall.RLIMIT_DATA:
			fmt.Fprintf(&b, "ulimit -d %d; ", r.max/uint64(sl.dataUnit))
		case syscall.RLIMIT_FSIZE:
			fmt.Fprintf(&b, "ulimit -f %d; ", r.max/uint64(sl.fileUnit))
		case rlimitNPROC:
			fmt.Fprintf(&b, "ulimit %s %d; ", sl.proc, r.max)
		}
	}
	return b.String()
}
