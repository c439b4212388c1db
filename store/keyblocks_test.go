package store

import (
	"slices"
	"testing"
)

// TestKeyBlocks: keys in blocks give one range per block, whatever their
// order; a close run is one range; past the bound the widest gaps split.
func TestKeyBlocks(t *testing.T) {
	for _, tc := range []struct {
		name string
		keys []int64
		gap  int64
		max  int
		want [][2]int64
	}{
		{"one key", []int64{7}, 10, 4, [][2]int64{{7, 7}}},
		{"close run", []int64{1, 5, 9, 14}, 10, 4, [][2]int64{{1, 14}}},
		{"nightly blocks, unordered", []int64{305, 1, 3, 300, 2, 610, 600}, 10, 4, [][2]int64{{1, 3}, {300, 305}, {600, 610}}},
		{"bounded: the widest gaps split", []int64{0, 100, 150, 1000, 1030}, 10, 3, [][2]int64{{0, 0}, {100, 150}, {1000, 1030}}},
		{"bounded to one range", []int64{0, 100, 1000}, 10, 1, [][2]int64{{0, 1000}}},
	} {
		if got := keyBlocks(tc.keys, tc.gap, tc.max); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	if got := keyRanges("k", [][2]int64{{1, 2}, {1 << 20, 1 << 20}}); got != "k BETWEEN 1 AND 2 OR k BETWEEN 1048576 AND 1048576" {
		t.Errorf("keyRanges: %s", got)
	}
}
