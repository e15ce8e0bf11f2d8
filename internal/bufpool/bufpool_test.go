package bufpool

import "testing"

// TestGetHoldsRequest checks every class boundary: a buffer always has room
// for what was asked, is empty, and comes from the smallest class that fits.
func TestGetHoldsRequest(t *testing.T) {
	for _, c := range []struct{ n, wantCap int64 }{
		{0, 64 << 10}, {64 << 10, 64 << 10}, {64<<10 + 1, 1 << 20}, {1 << 20, 1 << 20},
		{16 << 20, 16 << 20}, {64 << 20, 64 << 20}, {64<<20 + 1, 64<<20 + 1},
	} {
		b := Get(c.n)
		if len(b) != 0 || int64(cap(b)) != c.wantCap {
			t.Errorf("Get(%d): len %d cap %d, want len 0 cap %d", c.n, len(b), cap(b), c.wantCap)
		}
		Put(b)
	}
}

// TestPutRefusesOddSizes: a buffer smaller than a class, put back, must
// never come out of Get for a request of that class.
func TestPutRefusesOddSizes(t *testing.T) {
	for range 100 {
		Put(make([]byte, 10, 100))
		if b := Get(64 << 10); cap(b) < 64<<10 {
			t.Fatalf("Get(64 KiB) returned a buffer of cap %d", cap(b))
		}
	}
}
