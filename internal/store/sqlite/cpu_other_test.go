//go:build !unix

package sqlite

func processCPU() int64 { return 0 }
