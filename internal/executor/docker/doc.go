// Package docker runs each task of a run in a container of its own, through
// the Docker Engine API (github.com/moby/moby/client, which negotiates the
// API version down to the engine's, as low as 1.40).
//
// A task's container:
//
//   - runs `sh -e -c <script>` in /workspace, the task's workspace
//     bind-mounted read-write (the directory must exist; it is not created);
//   - sees the task's environment over the image's own (an image's PATH is
//     what finds its tools) and nothing of the host's: the engine adds only
//     HOSTNAME, and HOME and PATH where the image does not set them;
//   - runs as the uid:gid of the process that started Gantry, so that what
//     a step writes in the workspace belongs to that user (0:0 on a rootless
//     engine, whose root is that user);
//   - has network mode none, unless the task asks for network: then the
//     engine's bridge network, or the host's network on an engine without a
//     bridge (dockerd --bridge=none), where the step also reaches services
//     listening on the host's loopback. Exit.Sandbox says which;
//   - drops all capabilities, sets no-new-privileges, limits pids, and runs
//     docker-init as PID 1, so that SIGTERM reaches the script and orphans
//     are reaped;
//   - is created from the image's ID, so that the digest in Exit.Meta is
//     that of the image that ran. An image that is not on the engine is
//     pulled (no credentials); one that is there is not pulled again;
//   - is labelled dev.gantry.run and dev.gantry.step, is removed by the
//     engine as soon as it exits (AutoRemove), and Run returns only once it
//     is gone.
//
// Cancelling Run's context stops the container as `docker stop` does:
// SIGTERM, then SIGKILL after the task's Grace, or at once when the task's
// Kill channel is closed. A caller that is interrupted should cancel the
// context and let Run return. A caller that dies leaves its running
// containers to run to their end (the engine then removes them);
// Executor.Cleanup removes them at once.
package docker
