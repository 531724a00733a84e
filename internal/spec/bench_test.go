package spec

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

// bigPipeline is a valid pipeline of about size bytes.
func bigPipeline(size int) []byte {
	var b bytes.Buffer
	b.WriteString("version: 1\nstages:\n  - name: a\n    steps:\n")
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "      - {name: s%d, run: echo hello world}\n", i)
	}
	return b.Bytes()
}

func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile("testdata/valid/gantry.gantry.yml")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse("x.yml", data, testActions); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseLarge(b *testing.B) {
	data := bigPipeline(128 << 10)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		Parse("x.yml", data, Options{})
	}
}

func BenchmarkYAMLLarge(b *testing.B) {
	data := bigPipeline(128 << 10)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		var n yaml.Node
		yaml.Unmarshal(data, &n)
	}
}
