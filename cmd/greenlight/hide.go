package main

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/greenlight-cd/greenlight/config"
)

// hiddenFromBuilds lists what build steps must not read (runner.Config.Hide):
// the data dir (database, admin token, mirrors), the server user's home
// directory, the config file's directory
// (tokens, SMTP password, keys kept beside it) and every key and known_hosts
// file the config names, wherever it lives. Builds run untrusted code, pull
// requests from forks included.
//
// The config's directory is hidden only when it is Greenlight's own: one
// that is / or a top-level directory (/etc, /opt…) or the server user's home
// would take the build's tools and system files with it, so there only the
// file itself is hidden.
func hiddenFromBuilds(cfg *config.Server) []string {
	hide := []string{cfg.DataDir}
	if cfg.File != "" {
		file, err := filepath.Abs(cfg.File)
		if err == nil {
			dir := filepath.Dir(file)
			if broadDir(dir) {
				hide = append(hide, file)
			} else {
				hide = append(hide, dir)
			}
		}
	}
	add := func(paths ...string) {
		for _, p := range paths {
			if p != "" {
				hide = append(hide, p)
			}
		}
	}
	for _, p := range cfg.Pipelines {
		add(p.Source.SSHKey, p.Source.SSHKnownHosts)
		for _, env := range p.Environments {
			for _, t := range env.Targets {
				if t.SSH != nil {
					add(t.SSH.Key, t.SSH.KnownHosts)
				}
			}
		}
	}
	// The server user's home holds its own keys and credentials (~/.ssh,
	// ~/.netrc, cloud and registry logins). When the server is root, steps
	// run as another uid that could not read root's home anyway.
	if home, err := os.UserHomeDir(); err == nil && filepath.IsAbs(home) && filepath.Clean(home) != "/" {
		add(home)
	}
	// The SSH agent holds the deploy keys of targets without a key file; its
	// socket would let a build use them.
	if sock := os.Getenv("SSH_AUTH_SOCK"); filepath.IsAbs(sock) {
		add(sock)
	}
	return dedupe(hide)
}

// broadDir reports whether hiding dir would hide more than Greenlight's
// files: the root, a top-level directory, or the home directory.
func broadDir(dir string) bool {
	dir = filepath.Clean(dir)
	if dir == "/" || strings.Count(dir, "/") == 1 {
		return true
	}
	home, err := os.UserHomeDir()
	return err == nil && filepath.Clean(home) == dir
}

func dedupe(paths []string) []string {
	seen := map[string]bool{}
	out := paths[:0]
	for _, p := range paths {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}
