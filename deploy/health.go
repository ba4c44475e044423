package deploy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// Health is how a deploy decides a target is healthy: GET URL every Interval
// until Passes consecutive 2xx answers, or fail after Timeout.
// URL may use {host} (127.0.0.1 for a local target) and {env.NAME} (the
// target's env). An empty URL skips the check.
type Health struct {
	URL      string
	Timeout  time.Duration // default 30s
	Passes   int           // default 1
	Interval time.Duration // default 1s
}

// requestTimeout bounds one health request, so a server that accepts and
// never answers costs one attempt, not the whole check.
const requestTimeout = 5 * time.Second

func (h Health) withDefaults() Health {
	if h.Timeout <= 0 {
		h.Timeout = 30 * time.Second
	}
	if h.Passes <= 0 {
		h.Passes = 1
	}
	if h.Interval <= 0 {
		h.Interval = time.Second
	}
	return h
}

var placeholder = regexp.MustCompile(`\{[^{}]*\}`)

// healthURL fills in {host} and {env.NAME}. A placeholder it does not know or
// an env name the target lacks is an error: a typo must not check the wrong
// port.
func healthURL(tmpl, host string, env map[string]string) (string, error) {
	var errs []string
	out := placeholder.ReplaceAllStringFunc(tmpl, func(p string) string {
		name := p[1 : len(p)-1]
		if name == "host" {
			return host
		}
		if k, ok := strings.CutPrefix(name, "env."); ok {
			if v, ok := env[k]; ok {
				return v
			}
			errs = append(errs, fmt.Sprintf("%s is not in the target's env", p))
			return p
		}
		errs = append(errs, fmt.Sprintf("unknown placeholder %s", p))
		return p
	})
	if len(errs) > 0 {
		return "", greenlight.Errorf(greenlight.EINVALID, "health url %s: %s", tmpl, strings.Join(errs, "; "))
	}
	u, err := url.Parse(out)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", greenlight.Errorf(greenlight.EINVALID, "health url %s: not an http(s) URL", out)
	}
	return out, nil
}

// checkHealth polls url until h.Passes consecutive 2xx answers, h.Timeout, or
// ctx ends. Its error says what the last answer was.
func checkHealth(ctx context.Context, target string, h Health, log *lineWriter) error {
	client := &http.Client{
		// A fresh transport without keep-alives: each answer comes from
		// whatever listens now, not from a connection to the app we stopped.
		Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Host != via[0].URL.Host {
				return http.ErrUseLastResponse
			}
			if len(via) >= 10 {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
	defer client.CloseIdleConnections()

	deadline := time.Now().Add(h.Timeout)
	cctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	tick := time.NewTicker(h.Interval)
	defer tick.Stop()

	passes := 0
	last := "no answer"
	for {
		code, err := probe(cctx, client, target)
		switch {
		case err != nil:
			passes = 0
			// A probe cut off by the deadline tells nothing new.
			if cctx.Err() == nil || last == "no answer" {
				last = err.Error()
			}
		case code >= 200 && code < 300:
			passes++
			last = fmt.Sprint(code)
			log.Printf("health check %s: %d (%d/%d)", target, code, passes, h.Passes)
			if passes >= h.Passes {
				return nil
			}
		default:
			passes = 0
			last = fmt.Sprint(code)
			log.Printf("health check %s: %d", target, code)
		}
		select {
		case <-cctx.Done():
			if ctx.Err() != nil {
				return fmt.Errorf("health check %s cancelled: %w", target, ctx.Err())
			}
			return fmt.Errorf("health check %s did not pass within %s: last answer %s", target, h.Timeout, last)
		case <-tick.C:
		}
	}
}

// probe makes one GET and returns its status code.
func probe(ctx context.Context, client *http.Client, target string) (int, error) {
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, target, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("User-Agent", "greenlight-health/"+greenlight.Version)
	resp, err := client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			return 0, uerr.Err // "dial tcp …: connection refused" without the URL twice
		}
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
