package runner

import (
	"bytes"
	"io"
	"sort"
)

// MinMaskLen is the shortest secret value that is masked in logs: shorter
// values ("1", "yes") would turn ordinary output into asterisks everywhere
// and hide nothing worth hiding.
const MinMaskLen = 4

// masker replaces every occurrence of a secret value in what is written
// through it with "***". A secret split across two writes (a chunk boundary
// in the middle of a line) is still found: the tail of a write that could be
// the start of a secret is held back until the next write, or Flush, decides.
// Not safe for concurrent use (the runner writes from one goroutine).
type masker struct {
	w       io.Writer
	secrets [][]byte // longest first, so the longest match wins
	first   [256]bool
	pending []byte
	out     []byte
}

// newMasker returns w itself when no value is long enough to mask.
func newMasker(w io.Writer, values []string) (io.Writer, func() error) {
	m := &masker{w: w}
	seen := map[string]bool{}
	for _, v := range values {
		if len(v) >= MinMaskLen && !seen[v] {
			seen[v] = true
			m.secrets = append(m.secrets, []byte(v))
			m.first[v[0]] = true
		}
	}
	if len(m.secrets) == 0 {
		return w, func() error { return nil }
	}
	sort.Slice(m.secrets, func(i, j int) bool { return len(m.secrets[i]) > len(m.secrets[j]) })
	return m, m.Flush
}

var mask = []byte("***")

// Write masks p and passes on all of it but a possible secret's beginning.
func (m *masker) Write(p []byte) (int, error) {
	m.pending = append(m.pending, p...)
	return len(p), m.process(false)
}

// Flush masks and writes what was held back: the output has ended.
func (m *masker) Flush() error {
	if len(m.pending) == 0 {
		return nil
	}
	return m.process(true)
}

// process writes out pending, masked; unless final, it keeps the tail that
// may still become a secret.
func (m *masker) process(final bool) error {
	m.out = m.out[:0]
	data := m.pending
	i, plain := 0, 0
	for i < len(data) {
		if !m.first[data[i]] {
			i++
			continue
		}
		matched, partial := m.matchAt(data[i:], final)
		switch {
		case matched > 0:
			m.out = append(m.out, data[plain:i]...)
			m.out = append(m.out, mask...)
			i += matched
			plain = i
		case partial:
			// data[i:] may be a secret's beginning: keep it for the next write.
			m.out = append(m.out, data[plain:i]...)
			rest := copy(m.pending, data[i:])
			m.pending = m.pending[:rest]
			return m.emit()
		default:
			i++
		}
	}
	m.out = append(m.out, data[plain:]...)
	m.pending = m.pending[:0]
	return m.emit()
}

// matchAt returns the length of the longest secret at the start of b, or
// reports that b is too short to tell: it is the beginning of a secret
// longer than any that matches (unless final: no more output will come).
func (m *masker) matchAt(b []byte, final bool) (int, bool) {
	for _, s := range m.secrets { // longest first
		if len(b) >= len(s) {
			if bytes.Equal(b[:len(s)], s) {
				return len(s), false
			}
		} else if !final && bytes.HasPrefix(s, b) {
			return 0, true
		}
	}
	return 0, false
}

func (m *masker) emit() error {
	if len(m.out) == 0 {
		return nil
	}
	_, err := m.w.Write(m.out)
	return err
}
