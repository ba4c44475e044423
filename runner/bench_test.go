package runner

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// Baseline: what os/exec alone costs for one `sh -e -c true`.
func BenchmarkBareShell(b *testing.B) {
	for b.Loop() {
		if err := exec.Command("/bin/sh", "-e", "-c", "true").Run(); err != nil {
			b.Fatal(err)
		}
	}
}

func benchSteps(b *testing.B, sandbox string, n int, script string) {
	r := newRunner(b, sandbox)
	ws := b.TempDir()
	f := logFile(b)
	steps := make([]Step, n)
	for i := range steps {
		steps[i] = Step{Name: "s", Run: script}
	}
	for b.Loop() {
		if err := r.Run(context.Background(), Job{Workspace: ws, Steps: steps, Log: f}); err != nil {
			b.Fatal(err)
		}
	}
}

// One step of `true` through the runner; minus BenchmarkBareShell, the
// runner's overhead per step.
func BenchmarkStepTrue(b *testing.B)      { benchSteps(b, SandboxNone, 1, "true") }
func BenchmarkStepTrueBwrap(b *testing.B) { benchSteps(b, SandboxBwrap, 1, "true") }

// A job of 20 `true` steps (target: 50 ms).
func Benchmark20Steps(b *testing.B)      { benchSteps(b, SandboxNone, 20, "true") }
func Benchmark20StepsBwrap(b *testing.B) { benchSteps(b, SandboxBwrap, 20, "true") }

const flood = "head -c 200000000 /dev/zero | base64"

// Baseline: the flood with its output to /dev/null, straight from os/exec.
func BenchmarkFloodDiscard(b *testing.B) {
	defer reportCPU(b, cpuTime())
	for b.Loop() {
		if err := exec.Command("/bin/sh", "-e", "-c", flood+" > /dev/null").Run(); err != nil {
			b.Fatal(err)
		}
	}
}

// Floor: the flood written by the shell straight into a real file, no runner.
func BenchmarkFloodFile(b *testing.B) {
	dir := b.TempDir()
	defer reportCPU(b, cpuTime())
	for i := 0; i < b.N; i++ {
		f := freshLog(b, dir, i)
		cmd := exec.Command("/bin/sh", "-e", "-c", flood)
		cmd.Stdout = f
		if err := cmd.Run(); err != nil {
			b.Fatal(err)
		}
		dropLog(b, f)
	}
}

// freshLog creates a new log file per iteration, as a stage does: truncating
// the previous iteration's 270 MB would be timed too and dwarf the runner.
func freshLog(b *testing.B, dir string, i int) *os.File {
	f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("stage-%d.log", i)), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	return f
}

// dropLog closes and removes an iteration's log outside the timed part and
// returns its size.
func dropLog(b *testing.B, f *os.File) int64 {
	b.StopTimer()
	defer b.StartTimer()
	fi, err := f.Stat()
	if err != nil {
		b.Fatal(err)
	}
	f.Close()
	if err := os.Remove(f.Name()); err != nil {
		b.Fatal(err)
	}
	return fi.Size()
}

// The flood through the runner into a real log file (target: 1.5× the
// baseline). heap-growth-B is how much the live heap grew over the run.
func BenchmarkFlood200MB(b *testing.B) { benchFlood(b, SandboxNone) }

func BenchmarkFlood200MBBwrap(b *testing.B) { benchFlood(b, SandboxBwrap) }

func benchFlood(b *testing.B, sandbox string) {
	r := newRunner(b, sandbox)
	ws := b.TempDir()
	dir := b.TempDir()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var size int64
	b.ReportAllocs()
	defer reportCPU(b, cpuTime())
	for i := 0; i < b.N; i++ {
		f := freshLog(b, dir, i)
		if err := r.Run(context.Background(), Job{Workspace: ws, Log: f, Limits: Limits{Log: 1 << 30}, Steps: []Step{{Name: "flood", Run: flood}}}); err != nil {
			b.Fatal(err)
		}
		size = dropLog(b, f)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if size < 270_000_000 {
		b.Fatalf("log has %d bytes, want the whole output (> 270 MB)", size)
	}
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)), "heap-growth-B")
	b.SetBytes(size)
}

// cpuTime is the CPU time used so far by this process and its reaped
// children: a figure that load on the machine disturbs less than wall time.
func cpuTime() time.Duration {
	var self, kids syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
	tv := func(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
	return tv(self.Utime) + tv(self.Stime) + tv(kids.Utime) + tv(kids.Stime)
}

// reportCPU adds CPU milliseconds per op to a benchmark's figures.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}
