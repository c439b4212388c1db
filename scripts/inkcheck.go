//go:build ignore

// inkcheck reports PNG pages that are blank: `go run scripts/inkcheck.go
// PAGE.png...` exits 1 when a page has less than 0.2 % dark pixels (a page
// of text has several per cent). Used by scripts/check-docs.sh.
package main

import (
	"fmt"
	"image/png"
	"os"
)

func main() {
	bad := 0
	for _, path := range os.Args[1:] {
		f, err := os.Open(path)
		if err != nil {
			fmt.Println(err)
			bad++
			continue
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			fmt.Printf("%s: %v\n", path, err)
			bad++
			continue
		}
		b := img.Bounds()
		ink, all := 0, b.Dx()*b.Dy()
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bl, _ := img.At(x, y).RGBA()
				if (r+g+bl)/3 < 0xB000 {
					ink++
				}
			}
		}
		share := 1000 * ink / max(all, 1)
		if share < 2 {
			fmt.Printf("%s: blank (%d dark pixels of %d)\n", path, ink, all)
			bad++
			continue
		}
		fmt.Printf("%s: %d.%d %% ink\n", path, share/10, share%10)
	}
	if bad > 0 {
		os.Exit(1)
	}
}
