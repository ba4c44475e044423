// Command greenlight is the Greenlight continuous-delivery server: serve,
// validate, quickstart and version (SPEC §8). It only wires packages together.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	// The zone database is built in: deploy windows and schedules name IANA
	// zones, and a minimal container image or machine without
	// /usr/share/zoneinfo must read greenlight.yml as every other machine
	// does (the system's database is still preferred when present). +450 KB.
	_ "time/tzdata"

	"github.com/spf13/cobra"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/runner"
	"github.com/greenlight-cd/greenlight/sandbox"
)

func main() {
	runner.RunExecutorIfRequested() // inside a build sandbox this process runs steps instead (see runner)
	// Nothing this process inherited reaches a build or a hook.
	if err := sandbox.CloseInherited(); err != nil {
		fmt.Fprintln(os.Stderr, "greenlight:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() { <-ctx.Done(); stop() }() // a second Ctrl-C ends the program at once
	err := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	stop()
	var exit exitError
	if errors.As(err, &exit) {
		os.Exit(int(exit))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "greenlight:", err)
		os.Exit(1)
	}
}

// exitError ends the program with a status after its output was printed.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// env looks variables up, so tests can run the program with their own.
type env func(string) (string, bool)

// run is the whole program: tests call it like main.
func run(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	root := &cobra.Command{
		Use:           "greenlight",
		Short:         "Greenlight takes a commit on a git branch to production, approved by email.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(serveCommand(getenv, stdout, stderr), validateCommand(getenv, stdout),
		quickstartCommand(getenv, stdout, stderr), backupCommand(getenv, stdout), restoreCommand(getenv, stdout),
		gcCommand(getenv, stdout),
		versionCommand(stdout))
	return root.ExecuteContext(ctx)
}

func versionCommand(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(stdout, "greenlight %s\n", greenlight.Version)
			return nil
		},
	}
}
