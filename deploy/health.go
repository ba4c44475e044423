package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// Health is how a deploy decides a target is healthy: every Interval, GET
// URL (a 2xx answer whose body matches Body) and run Command on the target
// (exit 0), until Passes consecutive attempts pass, or fail after Timeout.
// URL may use {host} (127.0.0.1 for a local target) and {env.NAME} (the
// target's env). An empty URL and an empty Command skip the check. During a
// canary's or linear deploy's bake the same check keeps running, one attempt
// per Interval; one failed attempt there rolls the deploy back.
type Health struct {
	URL      string
	Body     string        // a regular expression the answer's body must match; "" for any
	Command  string        // run with /bin/sh -e -c in the release directory on the target
	Timeout  time.Duration // default 30s
	Passes   int           // default 1
	Interval time.Duration // default 1s
	// RequestTimeout bounds one request or one run of Command, so a server
	// that accepts and never answers costs one attempt, not the whole check.
	// Default 5s, and never more than Timeout.
	RequestTimeout time.Duration

	body *regexp.Regexp // Body, compiled by check
}

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
	if h.RequestTimeout <= 0 {
		h.RequestTimeout = 5 * time.Second
	}
	h.RequestTimeout = min(h.RequestTimeout, h.Timeout)
	return h
}

// check fills the defaults and compiles Body; a bad pattern is EINVALID.
func (h Health) check() (Health, error) {
	h = h.withDefaults()
	if h.Body != "" {
		re, err := regexp.Compile(h.Body)
		if err != nil {
			return h, greenlight.Errorf(greenlight.EINVALID, "health body %q: %v", h.Body, err)
		}
		h.body = re
	}
	return h, nil
}

// enabled reports whether there is anything to check.
func (h Health) enabled() bool { return h.URL != "" || h.Command != "" }

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

// checker is one target's health check: its resolved URL and, for Command,
// a way to run it on the target.
type checker struct {
	h   Health
	url string // resolved; "" for none
	// run runs Command on the target; nil when there is no Command.
	run func(ctx context.Context, command string, timeout time.Duration, log io.Writer) error
}

// checkHealth polls url until h.Passes consecutive 2xx answers, h.Timeout, or
// ctx ends. Its error says what the last answer was.
func checkHealth(ctx context.Context, target string, h Health, log *lineWriter) error {
	h, err := h.check()
	if err != nil {
		return err
	}
	return (&checker{h: h, url: target}).wait(ctx, log)
}

// name is what the check is called in the stage log and in errors.
func (c *checker) name() string {
	switch {
	case c.url != "" && c.h.Command != "":
		return c.url + " and " + c.h.Command
	case c.url != "":
		return c.url
	}
	return c.h.Command
}

// wait runs attempts every Interval until Passes consecutive ones pass,
// Timeout passes, or ctx ends.
func (c *checker) wait(ctx context.Context, log *lineWriter) error {
	cctx, cancel := context.WithTimeout(ctx, c.h.Timeout)
	defer cancel()
	tick := time.NewTicker(c.h.Interval)
	defer tick.Stop()

	passes := 0
	last := "no answer"
	for {
		answer, err := c.attempt(cctx, log)
		switch {
		case err != nil:
			passes = 0
			// An attempt cut off by the deadline tells nothing new.
			if cctx.Err() == nil || last == "no answer" {
				last = err.Error()
			}
			if answer != "" {
				log.Printf("health check %s: %s", c.name(), answer)
			}
		default:
			passes++
			last = answer
			log.Printf("health check %s: %s (%d/%d)", c.name(), answer, passes, c.h.Passes)
			if passes >= c.h.Passes {
				return nil
			}
		}
		select {
		case <-cctx.Done():
			if ctx.Err() != nil {
				return fmt.Errorf("health check %s cancelled: %w", c.name(), ctx.Err())
			}
			return fmt.Errorf("health check %s did not pass within %s: last answer %s", c.name(), c.h.Timeout, last)
		case <-tick.C:
		}
	}
}

// attempt makes one request and one run of the command, whichever are
// configured. answer is what to log; err is set when the attempt failed.
func (c *checker) attempt(ctx context.Context, log *lineWriter) (answer string, err error) {
	if c.url != "" {
		answer, err = c.get(ctx)
		if err != nil {
			return answer, err
		}
	}
	if c.h.Command != "" && c.run != nil {
		rctx, cancel := context.WithTimeout(ctx, c.h.RequestTimeout)
		defer cancel()
		if err := c.run(rctx, c.h.Command, c.h.RequestTimeout, log); err != nil {
			return "", fmt.Errorf("command: %w", err)
		}
		answer = strings.TrimSpace(answer + " command ok")
	}
	return answer, nil
}

// bodyLimit caps how much of a health answer is read for Body.
const bodyLimit = 1 << 20

// get makes one GET. A 2xx whose body matches is a pass.
func (c *checker) get(ctx context.Context) (string, error) {
	client := &http.Client{
		// A fresh transport without keep-alives: each answer comes from
		// whatever listens now, not from a connection to the app we stopped.
		Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Host != via[0].URL.Host || len(via) >= 10 {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
	defer client.CloseIdleConnections()
	rctx, cancel := context.WithTimeout(ctx, c.h.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, c.url, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("User-Agent", "greenlight-health/"+greenlight.Version)
	resp, err := client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			return "", uerr.Err // "dial tcp …: connection refused" without the URL twice
		}
		return "", err
	}
	defer resp.Body.Close()
	code := fmt.Sprint(resp.StatusCode)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return code, errors.New(code)
	}
	if c.h.body == nil {
		return code, nil
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, bodyLimit))
	if err != nil {
		return code, fmt.Errorf("%s, reading the body: %w", code, err)
	}
	if !c.h.body.Match(b) {
		return code + ", body does not match " + c.h.Body, fmt.Errorf("%s, body does not match %s", code, c.h.Body)
	}
	return code, nil
}
