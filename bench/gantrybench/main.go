// Command gantrybench measures `gantry run` against its baselines in one
// run and prints the ratios to the performance targets:
//
//   - local executor, sandbox on: the cost of each extra step of a chain of
//     `true` steps over a bare `sh -c true`, and the fixed start-up of
//     `gantry run` over starting sh, as medians of rounds that measure the
//     baseline and both pipelines back to back;
//   - docker executor: the cost of each extra `true` step over a plain
//     `docker run --rm --network none IMAGE true`.
//
// It exits 1 when a target is missed.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

func main() {
	gantry := flag.String("gantry", "gantry", "the gantry binary to measure")
	runs := flag.Int("runs", 15, "runs of each pipeline")
	steps := flag.Int("steps", 100, "steps in the local chain")
	image := flag.String("docker", "", "measure the docker executor with this `IMAGE` (empty: skip)")
	dockerSteps := flag.Int("docker-steps", 10, "steps in the docker chain")
	flag.Parse()

	bin, err := filepath.Abs(*gantry)
	check(err)
	ok := true
	ok = local(bin, *runs, *steps) && ok
	if *image != "" {
		ok = docker(bin, *image, *runs, *dockerSteps) && ok
	}
	if !ok {
		os.Exit(1)
	}
}

func local(bin string, runs, steps int) bool {
	dir := mkRepo(map[string]string{
		"chain.yml": chain(steps, ""),
		"one.yml":   chain(1, ""),
	})
	defer os.RemoveAll(dir)
	fmt.Printf("local executor, sandbox required, %d rounds\n", runs)
	gantry := func(file string) {
		run(dir, bin, "run", "--plain", "--sandbox", "required", "-f", file)
	}
	gantry("one.yml") // warm the page cache and create the state

	// Each round measures the baseline and both pipelines back to back, so
	// that the machine's drift over the bench hits them alike: the figures
	// are medians of per-round differences.
	var shs, t1s, tns, perStep, fixed []time.Duration
	for range runs {
		sh := timed(func() {
			for range steps {
				run("", "/bin/sh", "-c", "true")
			}
		}) / time.Duration(steps)
		t1 := timed(func() { gantry("one.yml") })
		tn := timed(func() { gantry("chain.yml") })
		stepCost := (tn - t1) / time.Duration(steps-1)
		shs, t1s, tns = append(shs, sh), append(t1s, t1), append(tns, tn)
		perStep = append(perStep, stepCost-sh)
		fixed = append(fixed, t1-stepCost-sh)
	}
	row("sh -c true", med(shs))
	row("gantry run, 1 step", med(t1s))
	row(fmt.Sprintf("gantry run, %d chained steps", steps), med(tns))
	a := target("per-step overhead over sh -c true", med(perStep), 1500*time.Microsecond)
	b := target("fixed start-up over starting sh", med(fixed), 30*time.Millisecond)
	return a && b
}

func docker(bin, image string, runs, steps int) bool {
	dir := mkRepo(map[string]string{
		"chain.yml": chain(steps, image),
		"one.yml":   chain(1, image),
	})
	defer os.RemoveAll(dir)
	fmt.Printf("\ndocker executor, image %s, %d runs each\n", image, runs)
	plain := median(runs, func() { run("", "docker", "run", "--rm", "--network", "none", image, "true") })
	gantry := func(file string) func() {
		return func() { run(dir, bin, "run", "--plain", "-f", file) }
	}
	run(dir, bin, "run", "--plain", "-f", "one.yml")
	t1 := median(runs, gantry("one.yml"))
	tn := median(runs, gantry("chain.yml"))
	perStep := (tn - t1) / time.Duration(steps-1)
	row("docker run --rm --network none", plain)
	row("gantry run, 1 docker step", t1)
	row(fmt.Sprintf("gantry run, %d chained docker steps", steps), tn)
	ratio := float64(perStep) / float64(plain)
	okRatio := ratio <= 1.15
	fmt.Printf("  %-40s %10s   ratio to docker run %.2f   target ≤ 1.15   %s\n", "time per docker step", round(perStep), ratio, verdict(okRatio))
	return okRatio
}

// chain is a pipeline of n `true` steps, each needing the one before; on
// the docker executor when image is set.
func chain(n int, image string) string {
	var b strings.Builder
	b.WriteString("version: 1\n")
	if image != "" {
		fmt.Fprintf(&b, "defaults:\n  executor: docker\n  image: %s\n", image)
	}
	b.WriteString("stages:\n  - name: bench\n    steps:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "      - name: s%d\n        run: \"true\"\n", i)
		if i > 0 {
			fmt.Fprintf(&b, "        needs: [s%d]\n", i-1)
		}
	}
	return b.String()
}

func mkRepo(files map[string]string) string {
	dir, err := os.MkdirTemp("", "gantrybench-")
	check(err)
	for name, body := range files {
		check(os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	return dir
}

func run(dir, name string, args ...string) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		os.Exit(2)
	}
}

func median(n int, f func()) time.Duration {
	ds := make([]time.Duration, n)
	for i := range ds {
		ds[i] = timed(f)
	}
	return med(ds)
}

func timed(f func()) time.Duration {
	start := time.Now()
	f()
	return time.Since(start)
}

func med(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func row(name string, d time.Duration) { fmt.Printf("  %-40s %10s\n", name, round(d)) }

func target(name string, got, limit time.Duration) bool {
	ok := got <= limit
	fmt.Printf("  %-40s %10s   ratio to target %.2f   target ≤ %s   %s\n", name, round(got), float64(got)/float64(limit), limit, verdict(ok))
	return ok
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

func round(d time.Duration) time.Duration { return d.Round(10 * time.Microsecond) }

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "gantrybench:", err)
		os.Exit(2)
	}
}
