package iac

import (
	"io"
	"strings"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/scan"
)

// Rule is one check of the scanner.
type Rule = scan.Rule

// target names what kind of file a rule applies to, from its ID.
func target(r Rule) string {
	switch {
	case strings.HasPrefix(r.ID, "GIAC-DF-"):
		return "Dockerfile"
	case strings.HasPrefix(r.ID, "GIAC-K8S-"):
		return "Kubernetes manifest"
	case strings.HasPrefix(r.ID, "GIAC-SH-"):
		return "shell script"
	}
	return ""
}

// Rule IDs. The table in rules below documents each one.
const (
	ruleDFRoot        = "GIAC-DF-001"
	ruleDFUnpinned    = "GIAC-DF-002"
	ruleDFAddURL      = "GIAC-DF-003"
	ruleDFSecret      = "GIAC-DF-004"
	ruleDFPipeShell   = "GIAC-DF-005"
	ruleDFWorldWrite  = "GIAC-DF-006"
	ruleDFSudo        = "GIAC-DF-007"
	ruleDFExposeSSH   = "GIAC-DF-008"
	ruleDFInsecureTLS = "GIAC-DF-009"
	ruleK8sPrivileged = "GIAC-K8S-001"
	ruleK8sHostPath   = "GIAC-K8S-002"
	ruleK8sHostNS     = "GIAC-K8S-003"
	ruleK8sRunAsRoot  = "GIAC-K8S-004"
	ruleK8sEscalation = "GIAC-K8S-005"
	ruleK8sLimits     = "GIAC-K8S-006"
	ruleK8sCaps       = "GIAC-K8S-007"
	ruleK8sImageTag   = "GIAC-K8S-008"
	ruleK8sWritableFS = "GIAC-K8S-009"
	ruleSHPipeShell   = "GIAC-SH-001"
	ruleSHWorldWrite  = "GIAC-SH-002"
	ruleSHEvalRemote  = "GIAC-SH-003"
	ruleSHInsecureTLS = "GIAC-SH-004"
)

var rules = []Rule{
	{
		ID: ruleDFRoot, Title: "Container runs as root", Severity: gantry.SeverityMedium, CWE: []string{"CWE-250"},
		Rationale: "The final stage of the image sets no USER, or sets it to root (0), so every process " +
			"started from the image runs as uid 0. A bug in the application then hands an attacker " +
			"root inside the container, which makes a container escape or the abuse of a mounted " +
			"volume much easier. Build stages other than the last are not checked, since they do " +
			"not run in production; a base image whose tag says nonroot counts as setting a user.",
		Fix: "Create an unprivileged account in the image (or use a base image that has one) and " +
			"end the final stage with USER and that account's name or a non-zero uid, after the " +
			"steps that need root.",
	},
	{
		ID: ruleDFUnpinned, Title: "Base image not pinned", Severity: gantry.SeverityMedium, CWE: []string{"CWE-1357"},
		Rationale: "FROM names an image with the tag latest, or with no tag at all, which means latest. " +
			"The image behind that name changes whenever its publisher pushes, so two builds of the " +
			"same commit can contain different software, and a compromised or broken upstream " +
			"release reaches the build without anyone choosing it. FROM scratch and FROM of an " +
			"earlier stage of the same file are not images and are not reported.",
		Fix: "Name an explicit version tag, and preferably a digest as well " +
			"(image:1.2.3@sha256:…), and update it on purpose, for example with a dependency bot.",
	},
	{
		ID: ruleDFAddURL, Title: "ADD downloads from a URL without a checksum", Severity: gantry.SeverityMedium, CWE: []string{"CWE-494"},
		Rationale: "ADD with an http or https source fetches the file at build time and puts whatever the " +
			"server returned into the image. Nothing checks that the content is what the author " +
			"meant, so a changed or compromised server, or anyone on the path when TLS is not used, " +
			"decides part of the image.",
		Fix: "Give ADD a --checksum=sha256:… flag, or download in a RUN step with curl or wget and " +
			"check the file against a known SHA-256 (sha256sum -c) before using it.",
	},
	{
		ID: ruleDFSecret, Title: "Secret value in ENV or ARG", Severity: gantry.SeverityHigh, CWE: []string{"CWE-798"},
		Rationale: "An ENV or ARG whose name says it holds a password, secret, token or key is given a " +
			"literal value. ENV values are stored in the image configuration and ARG values in the " +
			"build history, so anyone who can pull the image can read the secret with docker " +
			"inspect or docker history, long after it was meant to be gone. Values that only refer " +
			"to another variable, and names that point to a file (…_FILE, …_PATH), are not reported.",
		Fix: "Remove the value from the Dockerfile and rotate it. Pass secrets at build time with " +
			"RUN --mount=type=secret, and at run time through the orchestrator's secret store " +
			"(a mounted file or an environment variable set by the platform).",
	},
	{
		ID: ruleDFPipeShell, Title: "RUN executes a downloaded script", Severity: gantry.SeverityHigh, CWE: []string{"CWE-494"},
		Rationale: "A RUN step pipes the output of curl or wget into a shell or interpreter, or runs it " +
			"with eval, sh -c \"$(…)\" or a process substitution. The script is executed as it " +
			"arrives, as root during the build, with no check of what it contains: whoever controls " +
			"the server, the DNS answer or the network path controls the image.",
		Fix: "Download the script or archive to a file, verify its SHA-256 against a value kept in the " +
			"repository (or its signature), and only then run it. Better still, install the tool " +
			"from a package manager or copy it from a pinned image with COPY --from.",
	},
	{
		ID: ruleDFWorldWrite, Title: "World-writable permissions", Severity: gantry.SeverityMedium, CWE: []string{"CWE-732"},
		Rationale: "A RUN step runs chmod (or mkdir -m, install -m) with a mode that lets every user write " +
			"the file or directory, such as 777, 666 or o+w, or COPY/ADD sets such a mode with --chmod. " +
			"Any process in the container, whatever its user, can then replace the program or " +
			"data, which turns a foothold in one process into control of another. Directories " +
			"with the sticky bit (1777, like /tmp) are not reported.",
		Fix: "Give ownership to the account that needs to write (chown, COPY --chown) and use modes " +
			"such as 755 for directories and 644 for files; use 1777 only for shared scratch " +
			"directories.",
	},
	{
		ID: ruleDFSudo, Title: "sudo used in RUN", Severity: gantry.SeverityMedium, CWE: []string{"CWE-250"},
		Rationale: "A RUN step calls sudo. Build steps already run as the current USER, so sudo is only " +
			"useful if the image ships sudo and a sudoers rule that lets an unprivileged user become " +
			"root, which gives any process running as that user an easy way back to root.",
		Fix: "Run the privileged steps before switching USER, or switch to USER root for them and back " +
			"afterwards, and do not install sudo in the image.",
	},
	{
		ID: ruleDFExposeSSH, Title: "SSH port exposed", Severity: gantry.SeverityLow, CWE: []string{"CWE-284"},
		Rationale: "The image declares port 22. That usually means an SSH server runs inside the " +
			"container, which adds a long-lived login service with its own keys and passwords to " +
			"every replica, and a way in that bypasses the orchestrator's access control and " +
			"audit trail.",
		Fix: "Remove the SSH server and the EXPOSE. Use the orchestrator's exec facility " +
			"(kubectl exec, docker exec) for debugging, and ship logs and metrics instead of logging in.",
	},
	{
		ID: ruleDFInsecureTLS, Title: "TLS verification disabled in RUN", Severity: gantry.SeverityMedium, CWE: []string{"CWE-295"},
		Rationale: "A RUN step downloads with certificate checks turned off (curl -k or --insecure, wget " +
			"--no-check-certificate, git with http.sslVerify false). Anyone able to intercept the " +
			"build's traffic can then serve their own content, which ends up in the image.",
		Fix: "Remove the flag. If the server uses a private certificate authority, add that CA to the " +
			"image's trust store (or pass it with --cacert) instead of disabling verification.",
	},
	{
		ID: ruleK8sPrivileged, Title: "Privileged container", Severity: gantry.SeverityHigh, CWE: []string{"CWE-250"},
		Rationale: "The container's securityContext sets privileged: true. A privileged container has " +
			"every capability and access to the host's devices; root in it is, for practical " +
			"purposes, root on the node, and from there on every workload the node runs.",
		Fix: "Remove privileged: true. Grant only the specific capabilities the workload needs " +
			"(securityContext.capabilities.add) and drop the rest, or move the work that needs the " +
			"host into a purpose-built, separately reviewed component.",
	},
	{
		ID: ruleK8sHostPath, Title: "hostPath volume", Severity: gantry.SeverityHigh, CWE: []string{"CWE-668"},
		Rationale: "The pod mounts a directory of the node with a hostPath volume. The pod can read, and " +
			"unless the mount is read-only write, files that belong to the node and to other pods " +
			"(container runtime sockets, kubelet credentials, logs), which is a common route from " +
			"one compromised container to the whole node.",
		Fix: "Use an emptyDir, a ConfigMap or Secret, or a PersistentVolumeClaim instead. Where a " +
			"node path is truly required (node agents), mount the narrowest path, read-only, and " +
			"restrict the workload with admission policy.",
	},
	{
		ID: ruleK8sHostNS, Title: "Host namespace shared", Severity: gantry.SeverityHigh, CWE: []string{"CWE-668"},
		Rationale: "The pod sets hostNetwork, hostPID or hostIPC to true and so shares that namespace with " +
			"the node. With the host network it can reach services bound to the node's loopback " +
			"and sniff node traffic; with the host PID namespace it can see and signal every " +
			"process on the node; with host IPC it can read other processes' shared memory.",
		Fix: "Remove the setting. Expose the pod through a Service or a hostPort if it must be " +
			"reachable on the node's address, and keep host namespaces for node agents that are " +
			"reviewed on their own.",
	},
	{
		ID: ruleK8sRunAsRoot, Title: "Container may run as root", Severity: gantry.SeverityMedium, CWE: []string{"CWE-250"},
		Rationale: "Neither the container's nor the pod's securityContext sets runAsNonRoot: true (or a " +
			"non-zero runAsUser), or one of them sets runAsUser: 0, so the container runs as " +
			"whatever user its image says, which is often root. The container-level setting " +
			"overrides the pod-level one.",
		Fix: "Set securityContext.runAsNonRoot: true on the pod (or on each container), and build " +
			"the image with a non-root USER or set runAsUser to a non-zero uid.",
	},
	{
		ID: ruleK8sEscalation, Title: "Privilege escalation allowed", Severity: gantry.SeverityMedium, CWE: []string{"CWE-269"},
		Rationale: "The container's securityContext does not set allowPrivilegeEscalation: false. " +
			"Without it, a process in the container can gain more privileges than its parent, for " +
			"example through a setuid binary or file capabilities, which undoes running as an " +
			"unprivileged user.",
		Fix: "Set securityContext.allowPrivilegeEscalation: false on every container (it has no " +
			"pod-level form), together with runAsNonRoot and dropped capabilities.",
	},
	{
		ID: ruleK8sLimits, Title: "No CPU or memory limit", Severity: gantry.SeverityLow, CWE: []string{"CWE-770"},
		Rationale: "The container has no resources.limits.cpu or resources.limits.memory. A container " +
			"without limits can use all the CPU or memory of its node, whether through a bug, a " +
			"traffic spike or an attack, and starve or evict the other workloads scheduled there.",
		Fix: "Set resources.limits.memory and resources.limits.cpu (and requests) from measured use, " +
			"or enforce defaults for the namespace with a LimitRange.",
	},
	{
		ID: ruleK8sCaps, Title: "Dangerous capability added", Severity: gantry.SeverityHigh, CWE: []string{"CWE-250"},
		Rationale: "The container adds ALL, SYS_ADMIN, NET_ADMIN, SYS_PTRACE or SYS_MODULE to its " +
			"capabilities. Each of these gives root in the container powers over the node or other " +
			"processes (mounting filesystems, reconfiguring the network, reading other processes' " +
			"memory, loading kernel modules) that are close to running privileged.",
		Fix: "Drop ALL capabilities and add back only narrow ones the workload is known to need, such " +
			"as NET_BIND_SERVICE; redesign the workload if it needs one of these.",
	},
	{
		ID: ruleK8sImageTag, Title: "Image not pinned", Severity: gantry.SeverityMedium, CWE: []string{"CWE-1357"},
		Rationale: "A container's image has the tag latest or no tag. What runs then depends on when and " +
			"where the image was pulled: replicas of one Deployment can run different code, a " +
			"rollback does not roll back, and a bad or compromised push reaches production without " +
			"a change to the manifest.",
		Fix: "Reference an explicit version tag, preferably with its digest " +
			"(registry/app:1.4.2@sha256:…), and change it through the delivery pipeline.",
	},
	{
		ID: ruleK8sWritableFS, Title: "Root filesystem writable", Severity: gantry.SeverityLow, CWE: []string{"CWE-732"},
		Rationale: "The container's securityContext does not set readOnlyRootFilesystem: true. An " +
			"attacker who gets code execution can then change the application's files, drop " +
			"tools and persist them for the container's lifetime.",
		Fix: "Set readOnlyRootFilesystem: true and mount an emptyDir at the few paths the process " +
			"must write (such as /tmp or a cache directory).",
	},
	{
		ID: ruleSHPipeShell, Title: "Downloaded script executed", Severity: gantry.SeverityHigh, CWE: []string{"CWE-494"},
		Rationale: "The script pipes curl or wget output into a shell or interpreter (curl … | sh, wget -O- " +
			"… | bash), or runs it with sh -c \"$(curl …)\" or bash <(curl …). The downloaded code " +
			"runs immediately with the script's privileges and nothing checks what it is; a " +
			"compromised server, DNS answer or network path runs its own code on the machine.",
		Fix: "Download to a file, verify it against a SHA-256 kept in the repository or against the " +
			"publisher's signature, and then execute it; prefer a package manager or a pinned " +
			"release artifact.",
	},
	{
		ID: ruleSHWorldWrite, Title: "World-writable permissions", Severity: gantry.SeverityMedium, CWE: []string{"CWE-732"},
		Rationale: "The script runs chmod (or mkdir -m, install -m) with a mode that lets every user on the " +
			"machine write the file or directory: 777, 666, o+w, a+w and the like, with or without " +
			"-R. Any local user or compromised service can then alter the program or its data. " +
			"Modes with the sticky bit (1777) are not reported.",
		Fix: "Give the file to the user or group that needs to write it (chown, chgrp) and use modes " +
			"such as 755, 750, 644 or 640.",
	},
	{
		ID: ruleSHEvalRemote, Title: "eval of downloaded content", Severity: gantry.SeverityHigh, CWE: []string{"CWE-95", "CWE-494"},
		Rationale: "The script passes the output of curl or wget to eval. Whatever the server returns is " +
			"executed as shell code in the current shell, with its variables and privileges, " +
			"without any check of its content.",
		Fix: "Do not eval remote content. Download data to a file, verify it, and parse it as data; " +
			"if it must be code, verify a checksum or signature before sourcing it.",
	},
	{
		ID: ruleSHInsecureTLS, Title: "TLS verification disabled", Severity: gantry.SeverityMedium, CWE: []string{"CWE-295"},
		Rationale: "The script turns off certificate verification: curl -k or --insecure, wget " +
			"--no-check-certificate, or git with http.sslVerify false or GIT_SSL_NO_VERIFY. The " +
			"connection is then open to interception, and whatever it downloads or sends can be " +
			"read or replaced.",
		Fix: "Remove the flag. Trust a private certificate authority explicitly (curl --cacert, wget " +
			"--ca-certificate, git http.sslCAInfo) instead of disabling verification.",
	},
}

// Rules returns the scanner's rules, in ID order.
func Rules() []Rule {
	out := make([]Rule, len(rules))
	copy(out, rules)
	return out
}

func ruleByID(id string) (Rule, bool) {
	for _, r := range rules {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}

// writeRulesMarkdown writes RULES.md, the reference of every rule, from
// the rule table.
func writeRulesMarkdown(w io.Writer) error {
	return scan.WriteRulesDoc(w,
		"# iac scanner rules\n\n"+
			"<!-- Generated from internal/scan/iac/rules.go by `go test ./internal/scan/iac -run TestRulesDoc -update`. Do not edit. -->\n\n"+
			"The `iac` scanner checks Dockerfiles, Kubernetes manifests and shell scripts. "+
			"Every finding names one of these rules; its fingerprint is derived from the rule, "+
			"the file and the offending instruction, so it survives lines moving.\n\n"+
			"Files: `Dockerfile`, `Containerfile`, `*.Dockerfile` and `Dockerfile.*` (when the file "+
			"starts with an instruction); `*.yaml` and `*.yml` documents whose kind is Pod, "+
			"Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob or "+
			"PodTemplate, also inside a List; `*.sh`, `*.bash` and files without an extension that "+
			"start with a sh, bash, dash, ash, ksh or zsh `#!` line. Directories named `.git`, "+
			"`node_modules`, `vendor` and `testdata`, and `.gantry/state`, are not walked (`testdata` "+
			"can be included with the `include-testdata: true` input). A file over 1 MiB, or one "+
			"that does not parse, is reported as a gap, not passed over.\n\n",
		rules, target)
}
