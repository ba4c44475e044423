package runner

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
)

func TestMasker(t *testing.T) {
	tests := []struct {
		secrets []string
		in      string
		want    string
	}{
		{[]string{"hunter22"}, "password is hunter22\n", "password is ***\n"},
		{[]string{"hunter22"}, "hunter22hunter22 hunter2", "****** hunter2"},
		{[]string{"abc"}, "abc is too short to mask", "abc is too short to mask"},
		{[]string{"abcd", "abcdef"}, "abcdefg abcdx", "***g ***x"}, // longest match wins
		{[]string{"s3cr3t"}, "no secrets here", "no secrets here"},
		{[]string{"line1\nline2"}, "a line1\nline2 b", "a *** b"},
		{[]string{"tail"}, "ends with ta", "ends with ta"}, // a held-back prefix is flushed
		{[]string{"ааа-секрет"}, "x ааа-секрет y", "x *** y"},
	}
	for _, tt := range tests {
		// Every way of cutting the input in two, and byte by byte.
		for cut := 0; cut <= len(tt.in); cut++ {
			var got bytes.Buffer
			w, flush := newMasker(&got, tt.secrets)
			w.Write([]byte(tt.in[:cut]))
			w.Write([]byte(tt.in[cut:]))
			flush()
			if got.String() != tt.want {
				t.Errorf("%q cut at %d: got %q, want %q", tt.in, cut, got.String(), tt.want)
				break
			}
		}
		var got bytes.Buffer
		w, flush := newMasker(&got, tt.secrets)
		for i := range len(tt.in) {
			w.Write([]byte{tt.in[i]})
		}
		flush()
		if got.String() != tt.want {
			t.Errorf("%q byte by byte: got %q, want %q", tt.in, got.String(), tt.want)
		}
	}
}

func TestMaskerPassesThroughWithoutSecrets(t *testing.T) {
	var got bytes.Buffer
	w, _ := newMasker(&got, []string{"abc", ""})
	if w != &got {
		t.Errorf("got a %T, want the writer itself when no value is long enough", w)
	}
}

func TestRunSecrets(t *testing.T) {
	r := newRunner(t, SandboxNone)
	var log bytes.Buffer
	ws := t.TempDir()
	err := r.Run(context.Background(), Job{Workspace: ws, Log: &log,
		Secrets: map[string]string{"API_TOKEN": "tok-123456", "PIN": "12"},
		Steps:   []Step{{Name: "use", Run: `echo "token=$API_TOKEN pin=$PIN"; printf '%s' "$API_TOKEN" | cut -c1-4; printf 'tok-'; printf '123456\n'`}}})
	if err != nil {
		t.Fatal(err)
	}
	out := log.String()
	if strings.Contains(out, "tok-123456") {
		t.Errorf("the secret is in the log:\n%s", out)
	}
	for _, want := range []string{"token=*** pin=12", "tok-\n", "***\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

// BenchmarkMasker measures the log throughput of a step with two secrets,
// in the runner's 256 KiB reads.
func BenchmarkMasker(b *testing.B) {
	line := []byte("2026-01-02T03:04:05Z compiling package github.com/acme/hello/internal/thing ok 0.123s\n")
	chunk := bytes.Repeat(line, (256<<10)/len(line))
	w, flush := newMasker(io.Discard, []string{"ghp_0123456789abcdefghijklmnopqrstuvwxyz", "s3cr3t-pa55word"})
	b.SetBytes(int64(len(chunk)))
	for b.Loop() {
		w.Write(chunk)
	}
	flush()
}
