// Package pdftext reads back the text of the PDFs roamsettle writes with
// fpdf, for golden-file tests: pure Go, no poppler. It understands fpdf's
// own uncompressed output only (each cell "BT x y Td (UTF-16BE)Tj ET"); it
// is not a general PDF reader.
package pdftext

import (
	"bytes"
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
)

// Pages extracts the text of an uncompressed PDF written by fpdf:
// fpdf writes each cell as "BT x y Td (UTF-16BE)Tj ET" in the page's
// content stream, the pages in order. It returns one string per page, one
// line per baseline (top to bottom), the cells of a line in x order joined
// by " | ". Pure Go, no poppler: good for fpdf's own output only.
func Pages(pdf []byte) ([]string, error) {
	var pages []string
	rest := pdf
	for {
		i := bytes.Index(rest, []byte("stream\n"))
		if i < 0 {
			break
		}
		dict := rest[max(0, bytes.LastIndex(rest[:i], []byte("<<"))):i]
		j := bytes.Index(rest[i:], []byte("\nendstream"))
		if j < 0 {
			return nil, fmt.Errorf("unterminated stream")
		}
		body := rest[i+len("stream\n") : i+j]
		rest = rest[i+j+len("\nendstream"):]
		if bytes.Contains(dict, []byte("/Filter")) || !bytes.Contains(body, []byte(" Td (")) {
			continue
		}
		page, err := pageText(body)
		if err != nil {
			return nil, err
		}
		pages = append(pages, page)
	}
	return pages, nil
}

var tdRe = regexp.MustCompile(`BT (-?[0-9.]+) (-?[0-9.]+) Td \(`)

func pageText(body []byte) (string, error) {
	type cell struct {
		x, y float64
		s    string
	}
	var cells []cell
	for _, m := range tdRe.FindAllSubmatchIndex(body, -1) {
		x, _ := strconv.ParseFloat(string(body[m[2]:m[3]]), 64)
		y, _ := strconv.ParseFloat(string(body[m[4]:m[5]]), 64)
		raw, err := pdfString(body[m[1]:])
		if err != nil {
			return "", err
		}
		s, err := utf16be(raw)
		if err != nil {
			return "", err
		}
		if strings.TrimSpace(s) != "" {
			cells = append(cells, cell{x, y, s})
		}
	}
	slices.SortStableFunc(cells, func(a, b cell) int {
		return cmp.Or(cmp.Compare(b.y, a.y), cmp.Compare(a.x, b.x))
	})
	var lines []string
	var line []string
	lastY := -1.0
	for _, c := range cells {
		if lastY >= 0 && c.y < lastY-1 {
			lines = append(lines, strings.Join(line, " | "))
			line = nil
		}
		line = append(line, c.s)
		lastY = c.y
	}
	if line != nil {
		lines = append(lines, strings.Join(line, " | "))
	}
	return strings.Join(lines, "\n"), nil
}

// pdfString reads a literal string up to its closing parenthesis.
func pdfString(b []byte) ([]byte, error) {
	var out []byte
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case ')':
			return out, nil
		case '\\':
			i++
			if i >= len(b) {
				return nil, fmt.Errorf("dangling escape")
			}
			switch e := b[i]; e {
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case '0', '1', '2', '3', '4', '5', '6', '7':
				n := 0
				k := 0
				for ; k < 3 && i+k < len(b) && b[i+k] >= '0' && b[i+k] <= '7'; k++ {
					n = n*8 + int(b[i+k]-'0')
				}
				out = append(out, byte(n))
				i += k - 1
			default:
				out = append(out, e)
			}
		default:
			out = append(out, c)
		}
	}
	return nil, fmt.Errorf("unterminated string")
}

func utf16be(b []byte) (string, error) {
	if len(b)%2 != 0 {
		return "", fmt.Errorf("odd UTF-16 length %d", len(b))
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	return string(utf16.Decode(u)), nil
}
