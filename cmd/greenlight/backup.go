package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/backup"
	"github.com/greenlight-cd/greenlight/config"
	"github.com/greenlight-cd/greenlight/datadir"
	"github.com/greenlight-cd/greenlight/retention"
	"github.com/greenlight-cd/greenlight/store"
)

func backupCommand(getenv env, stdout io.Writer) *cobra.Command {
	var file, out string
	cmd := &cobra.Command{
		Use:   "backup --config greenlight.yml --out FILE",
		Short: "Write a consistent backup (database and the artifacts a restored server needs) while the server runs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return fmt.Errorf("--out: say where the backup goes")
			}
			cfg, err := config.Load(file, getenv)
			if err != nil {
				return err
			}
			return writeBackup(cmd.Context(), cfg, out, stdout)
		},
	}
	cmd.Flags().StringVar(&file, "config", "greenlight.yml", "the server configuration")
	cmd.Flags().StringVar(&out, "out", "", "the backup file to write (not overwritten if it exists)")
	return cmd
}

func restoreCommand(getenv env, stdout io.Writer) *cobra.Command {
	var file, in string
	cmd := &cobra.Command{
		Use:   "restore --in FILE --config greenlight.yml",
		Short: "Bring a backup back into the configuration's empty data directory",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if in == "" {
				return fmt.Errorf("--in: say which backup to restore")
			}
			cfg, err := config.Load(file, getenv)
			if err != nil {
				return err
			}
			return restoreBackup(cmd.Context(), cfg, in, stdout)
		},
	}
	cmd.Flags().StringVar(&file, "config", "greenlight.yml", "the server configuration")
	cmd.Flags().StringVar(&in, "in", "", "the backup file to restore")
	return cmd
}

// writeBackup takes no data-directory lock: it runs beside the server,
// reading one snapshot of the database and artifacts that are never changed
// once written (they are named by their digest).
func writeBackup(ctx context.Context, cfg *config.Server, out string, stdout io.Writer) error {
	tmp, err := os.MkdirTemp(filepath.Dir(out), ".greenlight-backup-") // 0700: the copy holds everything
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer os.RemoveAll(tmp)
	kind, dbFile := store.SQLite, ""
	var st *store.DB
	if cfg.Database == "" {
		dbFile = filepath.Join(tmp, "greenlight.db")
		if err := store.SnapshotSQLite(ctx, cfg.DataDir, dbFile); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		st, err = store.Open(ctx, "", tmp, nil) // the copy, not the server's database
	} else {
		kind = store.Postgres
		st, err = store.Open(ctx, cfg.Database, "", nil)
	}
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	kept, err := retention.Needed(ctx, st, environments(cfg))
	st.Close()
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	needed := kept.SortedArtifacts()
	token, err := os.ReadFile(filepath.Join(cfg.DataDir, "admin-token"))
	if os.IsNotExist(err) {
		token, err = nil, nil
	}
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	part := filepath.Join(tmp, "backup")
	f, err := os.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	err = backup.Write(f, backup.Contents{
		Manifest:     backup.Manifest{Version: greenlight.Version, CreatedAt: time.Now().UTC(), Database: kind, Artifacts: needed},
		DatabaseFile: dbFile, ArtifactDir: filepath.Join(cfg.DataDir, "artifacts"), AdminToken: token})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	// A link, not a rename: an existing file is never replaced.
	if err := os.Link(part, out); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	fmt.Fprintf(stdout, "backup written to %s: %s database, %d artifacts\n", out, map[bool]string{true: "the SQLite", false: "no"}[dbFile != ""], len(needed))
	if kind == store.Postgres {
		fmt.Fprintln(stdout, "The PostgreSQL database is not in it: dump it with pg_dump --format=custom at the same time, and restore that dump with pg_restore before `greenlight restore`.")
	}
	return nil
}

func restoreBackup(ctx context.Context, cfg *config.Server, in string, stdout io.Writer) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return err
	}
	// No server may start on the directory while it is being filled.
	lock, err := datadir.Acquire(cfg.DataDir)
	if err != nil {
		return err
	}
	defer lock.Close()
	kind := store.SQLite
	if cfg.Database != "" {
		kind = store.Postgres
	}
	m, err := backup.Restore(f, cfg.DataDir, kind, datadir.LockFile)
	if err != nil {
		return fmt.Errorf("restore %s: %s", in, greenlight.ErrorMessage(err))
	}
	if kind == store.SQLite {
		st, err := store.Open(ctx, "", cfg.DataDir, nil) // checks it and brings its schema up to date
		if err != nil {
			return fmt.Errorf("restore: the restored database: %w", err)
		}
		st.Close()
	}
	fmt.Fprintf(stdout, "restored %s (written %s by greenlight %s): %d artifacts into %s\n",
		in, m.CreatedAt.Format(time.RFC3339), m.Version, len(m.Artifacts), cfg.DataDir)
	return nil
}
