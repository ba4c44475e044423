package config

import (
	"strconv"
	"strings"
)

// Limits bound a build stage; zero fields take the runner's defaults
// (runner.DefaultLimits). Sizes are bytes.
type Limits struct {
	Processes int   // processes and threads at once
	Memory    int64 // data per process
	Disk      int64 // workspace and cache together
	Log       int64 // step output kept in the stage log
	Tmp       int64 // /tmp and /dev/shm, in memory
}

// Build stage network and cache values.
const (
	NetworkHost = "host" // the default
	NetworkNone = "none"

	CacheBranch = "branch" // the default: one cache per branch (and per tag)
	CacheShared = "shared" // one cache for every branch of the pipeline
	CacheNone   = "none"   // a fresh cache each run
)

// buildStage reads the build stage's sandbox keys: network, cache, limits.
func (d *decoder) buildStage(o *object, path string, st *Stage) {
	st.Network = o.str("network", NetworkHost)
	if o.valid("network") && st.Network != NetworkHost && st.Network != NetworkNone {
		d.errorf(o.at("network"), "%s.network: unknown value %q: use host or none", path, st.Network)
	}
	st.Cache = o.str("cache", CacheBranch)
	if o.valid("cache") && st.Cache != CacheBranch && st.Cache != CacheShared && st.Cache != CacheNone {
		d.errorf(o.at("cache"), "%s.cache: unknown value %q: use branch, shared or none", path, st.Cache)
	}
	l := o.child("limits", "processes", "memory", "disk", "log", "tmp")
	lp := join(path, "limits")
	st.Limits.Processes = l.integer("processes", 0)
	if l.has("processes") && l.valid("processes") && (st.Limits.Processes < 16 || st.Limits.Processes > 1<<20) {
		d.errorf(l.at("processes"), "%s.processes: must be between 16 and 1048576, got %d", lp, st.Limits.Processes)
	}
	for _, f := range []struct {
		key string
		min int64
		to  *int64
	}{
		{"memory", 64 << 20, &st.Limits.Memory},
		{"disk", 1 << 20, &st.Limits.Disk},
		{"log", 64 << 10, &st.Limits.Log},
		{"tmp", 1 << 20, &st.Limits.Tmp},
	} {
		if !l.has(f.key) || !l.valid(f.key) {
			continue
		}
		s := l.str(f.key, "")
		n, ok := parseSize(s)
		switch {
		case !ok:
			d.errorf(l.at(f.key), "%s.%s: invalid size %q: write a number of bytes with a unit, like 512MiB or 4GiB", lp, f.key, s)
		case n < f.min:
			d.errorf(l.at(f.key), "%s.%s: %s is too small (at least %s)", lp, f.key, s, formatSize(f.min))
		default:
			*f.to = n
		}
	}
}

// parseSize reads "4GiB", "512MiB", "64KiB", "1TiB" or a plain number of
// bytes; "G", "M", "K" and "GB", "MB", "KB" are read as binary units too.
func parseSize(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	i := len(s)
	for i > 0 && (s[i-1] < '0' || s[i-1] > '9') {
		i--
	}
	num, unit := s[:i], strings.ToLower(strings.TrimSpace(s[i:]))
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	shift := map[string]uint{"": 0, "b": 0, "k": 10, "kb": 10, "kib": 10, "m": 20, "mb": 20, "mib": 20,
		"g": 30, "gb": 30, "gib": 30, "t": 40, "tb": 40, "tib": 40}
	sh, ok := shift[unit]
	if !ok || n > (1<<62)>>sh {
		return 0, false
	}
	return n << sh, true
}

func formatSize(n int64) string {
	switch {
	case n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "GiB"
	case n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "MiB"
	case n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "KiB"
	}
	return strconv.FormatInt(n, 10)
}
