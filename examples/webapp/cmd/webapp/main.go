// Command webapp serves the inventory API.
//
// Usage:
//
//	webapp [-addr host:port] [-db path]
//
// Flags default to the environment variables WEBAPP_ADDR and WEBAPP_DB. The
// first user is created from WEBAPP_ADMIN_USER and WEBAPP_ADMIN_PASSWORD
// when both are set and that user does not exist yet; there is no API for
// creating users. Logs are JSON lines on standard output.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"example.com/webapp"
	"example.com/webapp/auth"
	"example.com/webapp/server"
	"example.com/webapp/sqlite"
)

var _ server.Store = (*sqlite.DB)(nil)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, environment{
		args:   os.Args[1:],
		getenv: os.Getenv,
		stdout: os.Stdout,
		stderr: os.Stderr,
		listen: net.Listen,
	})
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "webapp:", err)
		os.Exit(1)
	}
}

// environment is what the process takes from outside, so tests can fake it.
type environment struct {
	args   []string
	getenv func(string) string
	stdout io.Writer // logs
	stderr io.Writer // usage
	listen func(network, address string) (net.Listener, error)
}

type config struct {
	addr          string
	dbPath        string
	adminUser     string
	adminPassword string
	hasher        auth.Hasher
}

func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	cfg := config{
		adminUser:     getenv("WEBAPP_ADMIN_USER"),
		adminPassword: getenv("WEBAPP_ADMIN_PASSWORD"),
	}
	fs := flag.NewFlagSet("webapp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.addr, "addr", envOr(getenv, "WEBAPP_ADDR", "127.0.0.1:8080"), "listen `address` (env WEBAPP_ADDR)")
	fs.StringVar(&cfg.dbPath, "db", envOr(getenv, "WEBAPP_DB", "webapp.db"), "SQLite database `file` (env WEBAPP_DB)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if (cfg.adminUser == "") != (cfg.adminPassword == "") {
		return config{}, errors.New("set both WEBAPP_ADMIN_USER and WEBAPP_ADMIN_PASSWORD, or neither")
	}
	return cfg, nil
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

// run starts the service and blocks until ctx is done or serving fails.
func run(ctx context.Context, env environment) error {
	cfg, err := parseConfig(env.args, env.getenv, env.stderr)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(env.stdout, nil))

	db, err := sqlite.Open(ctx, cfg.dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	if cfg.adminUser != "" {
		if err := seedAdmin(ctx, db, cfg, time.Now()); err != nil {
			return err
		}
	}
	srv, err := server.New(db, server.Config{Logger: logger, Hasher: cfg.hasher})
	if err != nil {
		return err
	}
	ln, err := env.listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	return serve(ctx, ln, srv, logger)
}

// userCreator is the part of the store seedAdmin needs.
type userCreator interface {
	CreateUser(ctx context.Context, u webapp.User) (webapp.User, error)
}

// seedAdmin creates the configured first user. An existing user of that name
// is left as it is, so restarts do not reset a changed password.
func seedAdmin(ctx context.Context, store userCreator, cfg config, now time.Time) error {
	if err := webapp.ValidateUsername(cfg.adminUser); err != nil {
		return fmt.Errorf("WEBAPP_ADMIN_USER: %w", err)
	}
	if err := webapp.ValidatePassword(cfg.adminPassword); err != nil {
		return fmt.Errorf("WEBAPP_ADMIN_PASSWORD: %w", err)
	}
	hash, err := cfg.hasher.Hash(cfg.adminPassword)
	if err != nil {
		return fmt.Errorf("seed admin: %w", err)
	}
	_, err = store.CreateUser(ctx, webapp.User{Username: cfg.adminUser, PasswordHash: hash, CreatedAt: now})
	if err != nil && !errors.Is(err, webapp.ErrConflict) {
		return fmt.Errorf("seed admin: %w", err)
	}
	return nil
}

// serve serves h on ln until ctx is done, then shuts down gracefully,
// letting requests in flight finish for up to 10 seconds.
func serve(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger) error {
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	logger.Info("listening", "addr", ln.Addr().String())

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	logger.Info("stopped")
	return nil
}
