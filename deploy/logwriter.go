package deploy

import (
	"bytes"
	"fmt"
	"io"
	"sync"
)

// stageLog is the stage log shared by every target of a deploy. Targets run
// in parallel, so each writes whole lines, prefixed with its name, under one
// lock: the log reads as interleaved lines, never interleaved characters.
type stageLog struct {
	mu sync.Mutex
	w  io.Writer
}

func newStageLog(w io.Writer) *stageLog {
	if w == nil {
		w = io.Discard
	}
	return &stageLog{w: w}
}

// target returns the writer for one target's lines.
func (s *stageLog) target(name string) *lineWriter {
	return &lineWriter{log: s, prefix: "[" + name + "] "}
}

// lineWriter prefixes each line written to it. Use one per goroutine.
type lineWriter struct {
	log     *stageLog
	prefix  string
	partial []byte
}

// Printf writes one line of the deploy's own narration.
func (l *lineWriter) Printf(format string, args ...any) {
	l.Write([]byte(fmt.Sprintf(format, args...) + "\n"))
}

func (l *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	var out bytes.Buffer
	for {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			break
		}
		out.WriteString(l.prefix)
		out.Write(l.partial)
		out.Write(p[:i+1])
		l.partial = l.partial[:0]
		p = p[i+1:]
	}
	l.partial = append(l.partial, p...)
	if out.Len() > 0 {
		l.log.mu.Lock()
		defer l.log.mu.Unlock()
		if _, err := l.log.w.Write(out.Bytes()); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// Flush ends a last line that had no newline.
func (l *lineWriter) Flush() {
	if len(l.partial) > 0 {
		l.Write([]byte("\n"))
	}
}
