package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/greenlight-cd/greenlight/config"
)

func validateCommand(getenv env, stdout io.Writer) *cobra.Command {
	var file, build string
	cmd := &cobra.Command{
		Use:   "validate [--config greenlight.yml | --build .greenlight.yml]",
		Short: "Check a server configuration or a build file; print ok or every problem as FILE:LINE:COL: message",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if build != "" {
				_, err = config.LoadBuild(build)
			} else {
				_, err = config.Load(file, getenv)
			}
			if err == nil {
				fmt.Fprintln(stdout, "ok")
				return nil
			}
			fmt.Fprintln(stdout, err) // config.Errors print one FILE:LINE:COL: message a line
			return exitError(1)
		},
	}
	cmd.Flags().StringVar(&file, "config", "greenlight.yml", "the server configuration")
	cmd.Flags().StringVar(&build, "build", "", "a repository's build file to check instead")
	return cmd
}
