package docker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"gantry.dev/gantry"
)

// Labels put on every container, so that a run's containers can be found
// again (Cleanup) and a person running `docker ps` sees whose they are.
const (
	LabelRun  = "dev.gantry.run"
	LabelStep = "dev.gantry.step"
)

// WorkspaceDir is where the task's workspace is mounted; the script runs
// in the task's Dir below it.
const WorkspaceDir = "/workspace"

// Defaults for the zero values of Options and Task.
const (
	DefaultPidsLimit       = 4096
	DefaultPullIdleTimeout = 30 * time.Second
	DefaultGrace           = 10 * time.Second
)

// Options configure an Executor. The zero value is usable.
type Options struct {
	// Host is the engine's address, such as unix:///var/run/docker.sock or
	// tcp://host:2376. Empty means the environment decides (DOCKER_HOST,
	// DOCKER_TLS_VERIFY, DOCKER_CERT_PATH, DOCKER_API_VERSION), and then the
	// default socket.
	Host string

	// User is the uid:gid the scripts run as. Empty means the uid:gid of
	// this process, so that files a step writes in the workspace belong to
	// whoever started Gantry; with a rootless engine it means 0:0, which the
	// engine maps to that same user.
	User string

	// Network is the Docker network of tasks that ask for network. Empty
	// means "bridge" when the engine has a bridge network, and "host" when it
	// has none (a daemon started with --bridge=none). Tasks that do not ask
	// for network always get "none".
	Network string

	// PidsLimit caps the processes and threads of one container; zero means
	// DefaultPidsLimit.
	PidsLimit int64

	// PullIdleTimeout bounds how long pulling a missing image may go without
	// any progress; zero means DefaultPullIdleTimeout.
	PullIdleTimeout time.Duration

	// Logger receives warnings about cleanup that did not work; nil
	// discards them.
	Logger *slog.Logger
}

// Executor runs tasks in Docker containers. It is safe for concurrent use.
type Executor struct {
	cli    *client.Client
	host   string
	engine string // "docker <version> (API <version>)", for Exit.Meta
	user   string

	network         string // the network mode of tasks that ask for network
	pidsLimit       int64
	pullIdleTimeout time.Duration
	log             *slog.Logger
}

var _ gantry.Executor = (*Executor)(nil)

// New connects to the Docker engine and checks that it answers. An engine
// that cannot be reached is an error of kind gantry.EUnavailable.
func New(ctx context.Context, opts Options) (*Executor, error) {
	clientOpt := client.FromEnv
	if opts.Host != "" {
		clientOpt = client.WithHost(opts.Host)
	}
	cli, err := client.New(clientOpt)
	if err != nil {
		return nil, gantry.Errorf(gantry.EInvalid, "configure docker client: %w", err)
	}
	e := &Executor{
		cli:             cli,
		host:            cli.DaemonHost(),
		user:            opts.User,
		network:         opts.Network,
		pidsLimit:       opts.PidsLimit,
		pullIdleTimeout: opts.PullIdleTimeout,
		log:             opts.Logger,
	}
	if e.pidsLimit == 0 {
		e.pidsLimit = DefaultPidsLimit
	}
	if e.pullIdleTimeout == 0 {
		e.pullIdleTimeout = DefaultPullIdleTimeout
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if err := e.connect(ctx); err != nil {
		_ = cli.Close()
		return nil, err
	}
	return e, nil
}

// connect pings the engine, settles the API version, and fills in the
// defaults that depend on the engine.
func (e *Executor) connect(ctx context.Context) error {
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ping, err := e.cli.Ping(pingCtx, client.PingOptions{NegotiateAPIVersion: true})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if cerrdefs.IsInvalidArgument(err) { // an engine older than the client supports
			return gantry.Errorf(gantry.EUnavailable, "docker engine at %s is too old: %w", e.host, err)
		}
		return gantry.Errorf(gantry.EUnavailable, "docker engine not reachable at %s: %w — is dockerd running?", e.host, err)
	}
	if ping.OSType != "" && ping.OSType != "linux" {
		return gantry.Errorf(gantry.EUnavailable, "docker engine at %s runs %s containers; gantry needs linux containers", e.host, ping.OSType)
	}

	info, err := e.cli.Info(pingCtx, client.InfoOptions{})
	if err != nil {
		return gantry.Errorf(gantry.EUnavailable, "ask docker engine at %s about itself: %w", e.host, err)
	}
	e.engine = fmt.Sprintf("docker %s (API %s)", info.Info.ServerVersion, e.cli.ClientVersion())

	if e.user == "" {
		e.user = fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid())
		for _, o := range info.Info.SecurityOptions {
			// Rootless engines map the container's root to the user who runs
			// them: running as root there keeps workspace files theirs.
			if strings.Contains(o, "name=rootless") {
				e.user = "0:0"
			}
		}
	}

	if e.network == "" {
		e.network = "host"
		_, err := e.cli.NetworkInspect(pingCtx, "bridge", client.NetworkInspectOptions{})
		switch {
		case err == nil:
			e.network = "bridge"
		case cerrdefs.IsNotFound(err):
			e.log.Warn("docker: the engine has no bridge network; steps that ask for network will share the host's", "engine", e.host)
		default:
			return gantry.Errorf(gantry.EUnavailable, "look for the bridge network of docker engine at %s: %w", e.host, err)
		}
	}
	return nil
}

// Name returns "docker".
func (e *Executor) Name() string { return "docker" }

// Close releases the connection to the engine. Containers that are running
// are not affected.
func (e *Executor) Close() error { return e.cli.Close() }

// Cleanup removes every container of the run that is left over, running or
// not: after a crash of the process that started them, say.
func (e *Executor) Cleanup(ctx context.Context, run gantry.RunID) error {
	list, err := e.cli.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", LabelRun+"="+string(run)),
	})
	if err != nil {
		return fmt.Errorf("list containers of run %s: %w", run, err)
	}
	var errs []error
	for _, c := range list.Items {
		if err := e.remove(ctx, c.ID); err != nil {
			errs = append(errs, fmt.Errorf("remove container %.12s of run %s: %w", c.ID, run, err))
		}
	}
	return errors.Join(errs...)
}

// remove removes a container, killing it if it runs. A container that is
// gone already, or that the engine is removing already, is not an error.
func (e *Executor) remove(ctx context.Context, id string) error {
	_, err := e.cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if err == nil || cerrdefs.IsNotFound(err) {
		return nil
	}
	if cerrdefs.IsConflict(err) && strings.Contains(err.Error(), "already in progress") {
		return nil
	}
	return err
}

// sandbox describes in words how a task is isolated.
func (e *Executor) sandbox(network string) string {
	return "docker container, network " + network + ", all capabilities dropped, no-new-privileges, pids limit " +
		strconv.FormatInt(e.pidsLimit, 10) + ", user " + e.user
}
