package bufpool

import "sync"

// classes grow by 16: small files and copy buffers (64 KiB), files handed
// whole to a worker (1 MiB), cache frames (16 MiB, the default frame size)
// and the largest frame decoded in memory (64 MiB).
var classes = [...]struct {
	size int64
	pool sync.Pool
}{{size: 64 << 10}, {size: 1 << 20}, {size: 16 << 20}, {size: 64 << 20}}

// Get returns an empty buffer with room for n bytes.
func Get(n int64) []byte {
	for i := range classes {
		if c := &classes[i]; n <= c.size {
			if b, ok := c.pool.Get().(*[]byte); ok {
				return (*b)[:0]
			}
			return make([]byte, 0, c.size)
		}
	}
	return make([]byte, 0, n)
}

// Put hands a buffer from Get back; b must not be used afterwards.
func Put(b []byte) {
	for i := range classes {
		if c := &classes[i]; int64(cap(b)) == c.size {
			c.pool.Put(&b)
			return
		}
	}
}
