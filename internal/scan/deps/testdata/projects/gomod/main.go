// Command app is a fixture for the deps scanner's reachability test: it
// calls vulnlib.Parse, vulnlib.Sanitize and vulnlib.Helper, imports codec
// without calling its vulnerable Decode, and never imports
// example.com/unused or example.com/vulnlib/xmlish.
package main

import (
	"fmt"

	"example.com/vulnlib"
	"example.com/vulnlib/codec"
)

func main() {
	v, err := vulnlib.Parse("input")
	fmt.Println(v, err, vulnlib.Sanitize(v), vulnlib.Helper(), codec.Encode(v))
}
