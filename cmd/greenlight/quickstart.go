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
	"net/url"
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
			if !cmd.Flags().Changed("port") {
				port = 0 // the default: 8080, or the next free port
			}
			return quickstart(cmd.Context(), dir, port, getenv, stdout, stderr)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "greenlight-quickstart", "where the sample repository, configuration, data and deploys go")
	cmd.Flags().IntVar(&port, "port", defaultQuickstartPort, "the server's port, used as given (the sample's staging and production take free ports near it); without it, 8080 or the next free port")
	return cmd
}

// defaultQuickstartPort is where a quickstart's server goes when --port is
// not given (the next free port when it is taken).
const defaultQuickstartPort = 8080

// quickstart runs the sample. port 0 means the default; any other port is
// the user's and is used as given or not at all.
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
	cfg, err := quickstartConfigFile(file, repo, dir, port, getenv, stdout)
	if err != nil {
		return err
	}
	sites := sampleSites(cfg)
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
	if p := samplePipeline(cfg); p != nil && p.Source.Poll > 0 {
		fmt.Fprintf(stdout, "  To ship a change: commit it in %s (git -C %s commit -am '…'); Greenlight looks for new commits every %s (poll: in %s)\n",
			repo, repo, p.Source.Poll, file)
	}
	go followQuickstart(ctx, srv, cfg, sites, stdout)
	err = <-served
	fmt.Fprintln(stdout, "Greenlight stopped. Run the same command again to continue where you left off.")
	if stop := stopHint(cfg); stop != "" {
		fmt.Fprintf(stdout, "The sample apps it started keep running; to stop them:\n  %s\n", stop)
	}
	return err
}

// quickstartConfigFile loads the quickstart's configuration, writing it
// first when there is none. An existing file is the user's: it is never
// written again, and a --port that disagrees with it is an error rather than
// a silent change of either. A --port given is used as given.
func quickstartConfigFile(file, repo, dir string, port int, getenv env, stdout io.Writer) (*config.Server, error) {
	if _, err := os.Stat(file); err == nil {
		cfg, err := config.Load(file, getenv)
		if err != nil {
			return nil, err // each line names the file
		}
		if port != 0 {
			if _, p, _ := net.SplitHostPort(cfg.Listen); p != strconv.Itoa(port) {
				return nil, fmt.Errorf("%s listens on %s, not on --port %d: change server.listen (and public_url) there, or leave --port out", file, cfg.Listen, port)
			}
		}
		return cfg, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	var ports []int
	if port != 0 {
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			return nil, fmt.Errorf("--port %d: %w (choose another port, or leave --port out to take a free one)", port, err)
		}
		ln.Close()
		ports = append([]int{port}, freePorts(port+1, 2)...)
	} else {
		ports = freePorts(defaultQuickstartPort, 3)
		if ports[0] != defaultQuickstartPort {
			fmt.Fprintf(stdout, "Port %d is in use; the server takes %d (use --port to choose)\n", defaultQuickstartPort, ports[0])
		}
	}
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	var buf bytes.Buffer
	err := template.Must(template.New("cfg").Parse(quickstartConfig)).Execute(&buf, map[string]any{
		"Port": ports[0], "Staging": ports[1], "Production": ports[2], "Repo": repo, "Dir": dir,
		"Secret": hex.EncodeToString(secret)})
	if err != nil {
		return nil, err
	}
	// O_EXCL: a file that appeared meanwhile is kept, never replaced.
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return config.Load(file, getenv)
}

// samplePipeline is the quickstart's pipeline, or nil if the user renamed it.
func samplePipeline(cfg *config.Server) *config.Pipeline {
	for _, p := range cfg.Pipelines {
		if p.Name == "hello" {
			return p
		}
	}
	return nil
}

// sampleSites are the sample app's addresses by environment, taken from the
// health URLs of the configuration (which the user may have edited).
func sampleSites(cfg *config.Server) map[string]string {
	sites := map[string]string{}
	p := samplePipeline(cfg)
	if p == nil {
		return sites
	}
	for name, env := range p.Environments {
		u, err := url.Parse(env.Health.URL)
		if err != nil || u.Host == "" {
			continue
		}
		sites[name] = (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/"}).String()
	}
	return sites
}

// stopHint is the command that stops the sample apps the quickstart's
// deploys started: their start hook writes app.pid in the live release. The
// file is the release's (a commit's code wrote it), so only a plain process
// id above 1 is shown, never the file's text for a shell to expand
// ("-9 -1" would kill every process of the user's).
func stopHint(cfg *config.Server) string {
	p := samplePipeline(cfg)
	if p == nil {
		return ""
	}
	var pids []string
	for _, name := range []string{"staging", "production"} {
		env := p.Environments[name]
		if env == nil {
			continue
		}
		for _, t := range env.Targets {
			if t.Local == "" {
				continue
			}
			b, err := os.ReadFile(filepath.Join(t.Local, "current", "app.pid"))
			if err != nil || len(b) > 32 {
				continue
			}
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
				pids = append(pids, strconv.Itoa(pid))
			}
		}
	}
	if len(pids) == 0 {
		return ""
	}
	return "kill " + strings.Join(pids, " ")
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
func followQuickstart(ctx context.Context, srv *server, cfg *config.Server, sites map[string]string, stdout io.Writer) {
	run, err := firstRun(ctx, srv, cfg)
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
					fmt.Fprintf(stdout, "\nStaging is live:  %s\n", sites["staging"])
					fmt.Fprintf(stdout, "Approve it here:   %s\n", l)
					fmt.Fprintf(stdout, "(the approval mail is in the outbox: %s/outbox)\n\n", cfg.PublicURL)
					told = true
					break
				}
			}
		}
		if r.Status.Terminal() {
			if r.Status == greenlight.RunSucceeded {
				fmt.Fprintf(stdout, "Production is live: %s\n", sites["production"])
			} else {
				fmt.Fprintf(stdout, "Run #%d ended %s: %s\n", r.ID, r.Status, r.Error)
			}
			fmt.Fprintln(stdout, "Greenlight keeps running; press Ctrl-C to stop it.")
			return
		}
	}
}

// firstRun is the run the quickstart follows. The sample polls its
// repository, and the first poll of a pipeline that never ran builds the
// branch's head: that run is followed rather than a second one of the same
// commit started beside it. Otherwise (a later start, or polling turned off)
// a run is started.
func firstRun(ctx context.Context, srv *server, cfg *config.Server) (*greenlight.Run, error) {
	p := samplePipeline(cfg)
	if p == nil {
		return nil, greenlight.Errorf(greenlight.ENOTFOUND, "the configuration has no pipeline named hello")
	}
	if p.Source.Poll > 0 {
		runs, err := srv.store.Runs(ctx, greenlight.RunFilter{Pipeline: p.Name, Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(runs) == 0 {
			deadline := time.Now().Add(p.Source.Poll + 30*time.Second) // a git ls-remote or two
			for time.Now().Before(deadline) {
				select {
				case <-ctx.Done():
					return nil, ctx.Err()
				case <-time.After(200 * time.Millisecond):
				}
				if runs, err = srv.store.Runs(ctx, greenlight.RunFilter{Pipeline: p.Name, Limit: 1}); err == nil && len(runs) > 0 {
					return runs[0], nil
				}
			}
		}
	}
	return srv.engine.Trigger(ctx, p.Name, greenlight.TriggerRequest{Trigger: greenlight.TriggerQuickstart})
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
