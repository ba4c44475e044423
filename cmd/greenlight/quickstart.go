package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/spf13/cobra"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/config"
	"github.com/greenlight-cd/greenlight/datadir"
	"github.com/greenlight-cd/greenlight/mail"
	"github.com/greenlight-cd/greenlight/sandbox"
)

func quickstartCommand(getenv env, stdout, stderr io.Writer) *cobra.Command {
	var dir string
	var port int
	cmd := &cobra.Command{
		Use:   "quickstart [--dir DIR]",
		Short: "Make a sample app and run it through the whole flow on this machine",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return quickstart(cmd.Context(), dir, port, getenv, stdout, stderr)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "greenlight-quickstart", "where the sample repository, configuration, data and deploys go")
	cmd.Flags().IntVar(&port, "port", 8080, "the server's port (the sample's staging and production take free ports near it)")
	return cmd
}

func quickstart(ctx context.Context, dir string, port int, getenv env, stdout, stderr io.Writer) error {
	if err := sandbox.NoDump(); err != nil { // as serve does
		return err
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	// One quickstart per directory: take its data directory (the template's
	// data_dir) before writing anything, the configuration included, so a
	// second one can still read where the first one is.
	if err := os.MkdirAll(dir, 0o755); err != nil { // as the sample's directories: hooks must pass through it
		return err
	}
	file := filepath.Join(dir, "greenlight.yml")
	lock, err := datadir.Acquire(filepath.Join(dir, "data"))
	if err != nil {
		return alreadyRunning(err, file, getenv)
	}
	defer lock.Close()
	repo := filepath.Join(dir, "app")
	if err := makeSampleRepo(ctx, repo); err != nil {
		return fmt.Errorf("sample repository: %w", err)
	}
	if _, err := exec.LookPath("bwrap"); err != nil && sandbox.Root() {
		// Without the sandbox, the sample's hooks run as unprivileged uids
		// on the host's paths, which must let them reach the deploy
		// directories: say so now, not at the first deploy. (In the
		// sandbox, directories they cannot pass are covered.)
		if err := sandbox.Reachable(filepath.Join(dir, "staging"), sandbox.Derived("quickstart")); err != nil {
			return fmt.Errorf("quickstart as root: deploy hooks run as an unprivileged uid, and %w", err)
		}
	}
	ports := freePorts(port, 3)
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	var buf bytes.Buffer
	err = template.Must(template.New("cfg").Parse(quickstartConfig)).Execute(&buf, map[string]any{
		"Port": ports[0], "Staging": ports[1], "Production": ports[2], "Repo": repo, "Dir": dir,
		"Secret": hex.EncodeToString(secret)})
	if err != nil {
		return err
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o600); err != nil {
		return err
	}
	cfg, err := config.Load(file, getenv)
	if err != nil {
		return err // each line names the file
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := open(ctx, cfg, log, stdout)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		srv.close()
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.serveOn(ctx, ln, 10*time.Second) }()
	fmt.Fprintf(stdout, "Greenlight is running at %s (configuration: %s)\n", cfg.PublicURL, file)
	fmt.Fprintf(stdout, "  Log in to the UI with the admin token kept in %s\n", filepath.Join(cfg.DataDir, "admin-token"))
	go followQuickstart(ctx, srv, cfg, ports, stdout)
	err = <-served
	fmt.Fprintln(stdout, "Greenlight stopped. Run the same command again to continue where you left off.")
	return err
}

// alreadyRunning turns a quickstart directory found in use into where to
// find the running one; other errors are returned as they are.
func alreadyRunning(err error, file string, getenv env) error {
	var inUse *datadir.InUseError
	if !errors.As(err, &inUse) {
		return err
	}
	where := ""
	if cfg, err := config.Load(file, getenv); err == nil && cfg.DataDir == inUse.Dir {
		where = fmt.Sprintf(" at %s", cfg.PublicURL)
	}
	return fmt.Errorf("a quickstart in %s is already running%s (%s; configuration: %s): open it there, or stop it first (Ctrl-C where it runs) to start it again",
		filepath.Dir(file), where, inUse.Holder, file)
}

// followQuickstart starts a run and tells the user what to open as it goes.
func followQuickstart(ctx context.Context, srv *server, cfg *config.Server, ports []int, stdout io.Writer) {
	run, err := srv.engine.Trigger(ctx, "hello", greenlight.TriggerRequest{Trigger: greenlight.TriggerQuickstart})
	if err != nil {
		fmt.Fprintf(stdout, "Could not start a run: %s\n", greenlight.ErrorMessage(err))
		return
	}
	fmt.Fprintf(stdout, "Run #%d: building %s (%s)…  %s/runs/%d\n", run.ID, run.Commit.Short(), run.Commit.Branch, cfg.PublicURL, run.ID)
	told := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
		r, err := srv.store.Run(ctx, run.ID)
		if err != nil {
			continue
		}
		if r.Status == greenlight.RunWaiting && !told {
			mails, err := srv.store.Mails(ctx, 20)
			if err != nil {
				continue
			}
			for _, m := range mails {
				// Only this run's mail: an earlier quickstart's links are dead.
				if !strings.Contains(m.Subject, fmt.Sprintf("#%d:", run.ID)) {
					continue
				}
				if l := approveLink(m.Text); l != "" {
					fmt.Fprintf(stdout, "\nStaging is live:  http://127.0.0.1:%d/\n", ports[1])
					fmt.Fprintf(stdout, "Approve it here:   %s\n", l)
					fmt.Fprintf(stdout, "(the approval mail is in the outbox: %s/outbox)\n\n", cfg.PublicURL)
					told = true
					break
				}
			}
		}
		if r.Status.Terminal() {
			if r.Status == greenlight.RunSucceeded {
				fmt.Fprintf(stdout, "Production is live: http://127.0.0.1:%d/\n", ports[2])
			} else {
				fmt.Fprintf(stdout, "Run #%d ended %s: %s\n", r.ID, r.Status, r.Error)
			}
			fmt.Fprintln(stdout, "Greenlight keeps running; press Ctrl-C to stop it.")
			return
		}
	}
}

// makeSampleRepo creates the sample app's git repository, once.
func makeSampleRepo(ctx context.Context, repo string) error {
	if _, err := os.Stat(filepath.Join(repo, ".git")); err == nil {
		return nil
	}
	for name, body := range sampleFiles {
		path := filepath.Join(repo, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if filepath.Ext(name) == ".sh" {
			mode = 0o755
		}
		if err := os.WriteFile(path, []byte(body), mode); err != nil {
			return err
		}
	}
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"add", "-A"},
		{"-c", "user.name=Greenlight Quickstart", "-c", "user.email=quickstart@example.com", "commit", "-q", "-m", "Sample app: hello from Greenlight"},
	} {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir = repo
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("git %s: %w: %s", args[0], err, out)
		}
	}
	return nil
}

// freePorts returns n ports free now, starting the search at from.
func freePorts(from, n int) []int {
	var ports []int
	for p := from; len(ports) < n && p < from+1000; p++ {
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		ln.Close()
		ports = append(ports, p)
	}
	for len(ports) < n { // everything near `from` taken: let the kernel choose
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			break
		}
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
		ln.Close()
	}
	return ports
}

// approveLink is the Approve link of an approval mail's text; none until the
// mail was "sent", which puts the token in place of the placeholder.
func approveLink(text string) string {
	for _, l := range mail.Links(text) {
		if strings.Contains(l, "/approvals/") && strings.HasSuffix(l, "?decision=approve") &&
			!strings.Contains(l, greenlight.TokenPlaceholder) {
			return l
		}
	}
	return ""
}
