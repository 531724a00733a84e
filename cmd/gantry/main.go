// Command gantry is Gantry's single binary.
package main

import (
	"os"

	"gantry.dev/gantry/internal/cli"
)

func main() { os.Exit(cli.Main()) }
