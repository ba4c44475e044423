package web

import (
	"fmt"
	"strings"
	"testing"
)

func TestAPITriggerParamsAndBranch(t *testing.T) {
	e := newEnv(t)
	many := map[string]string{}
	for i := range 51 {
		many[fmt.Sprintf("P%d", i)] = "x"
	}
	var manyJSON []string
	for k, v := range many {
		manyJSON = append(manyJSON, fmt.Sprintf("%q:%q", k, v))
	}
	tests := []struct {
		name, body string
		want       int
		wantErr    string
	}{
		{"branch and params", `{"branch":"release/1.2","params":{"TARGET":"eu","_X1":"y"}}`, 201, ""},
		{"value of 4 KiB", `{"params":{"BIG":"` + strings.Repeat("a", 4096) + `"}}`, 201, ""},
		{"value over 4 KiB", `{"params":{"BIG":"` + strings.Repeat("a", 4097) + `"}}`, 400, "4 KiB"},
		{"lower-case name", `{"params":{"target":"eu"}}`, 400, "param name"},
		{"digit first", `{"params":{"1X":"eu"}}`, 400, "param name"},
		{"NUL in value", `{"params":{"X":"a\u0000b"}}`, 400, "NUL"},
		{"51 params", `{"params":{` + strings.Join(manyJSON, ",") + `}}`, 400, "at most 50 params"},
		{"option-like branch", `{"branch":"--upload-pack=x"}`, 400, "not a valid branch"},
		{"branch with dots", `{"branch":"a..b"}`, 400, "not a valid branch"},
		{"branch with space", `{"branch":"a b"}`, 400, "not a valid branch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.api("POST", "/api/v1/pipelines/hello/runs", tt.body)
			if resp.StatusCode != tt.want {
				t.Fatalf("status = %d, want %d (%s)", resp.StatusCode, tt.want, body)
			}
			if tt.want == 201 {
				if by := decode[map[string]any](t, body)["triggered_by"]; by != "admin" {
					t.Errorf("triggered_by = %v, want admin", by)
				}
			}
			if tt.wantErr != "" {
				if msg := decode[map[string]string](t, body)["error"]; !strings.Contains(msg, tt.wantErr) {
					t.Errorf("error = %q, want it to mention %q", msg, tt.wantErr)
				}
			}
		})
	}
}
