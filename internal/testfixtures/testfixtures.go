package testfixtures

import (
	"os"
	"path/filepath"
)

// fallback is where the development machines keep the shared folder.
const fallback = "/work/shared/fixtures"

// Dir returns the fixtures directory (without a trailing slash).
func Dir() string {
	wd, err := os.Getwd()
	if err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				cand := filepath.Join(filepath.Dir(d), "shared", "fixtures")
				if st, err := os.Stat(cand); err == nil && st.IsDir() {
					return cand
				}
				break
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	return fallback
}

// Path joins elements below the fixtures directory.
func Path(elem ...string) string {
	return filepath.Join(append([]string{Dir()}, elem...)...)
}
