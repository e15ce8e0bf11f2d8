package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/vzkit/vzkit/internal/namedfile"
	"github.com/vzkit/vzkit/internal/pgp"
	"github.com/vzkit/vzkit/metadata"
	"github.com/vzkit/vzkit/repo/fetch"
)

// MaxKeySize bounds a key file or a key fetched by URL: Debian's archive
// keyring, which holds every release key, is 56 KB.
const MaxKeySize = 4 << 20

// Keyring loads the template's keys plus a repository's own, each file or
// URL read once and every key pinned by its fingerprint, so that a keyring
// file with many keys (Debian's) contributes only the ones the template
// names.
func Keyring(ctx context.Context, client *fetch.Client, keys []metadata.Key) (*pgp.Keyring, error) {
	type source struct {
		key  metadata.Key
		fprs []string
	}
	var order []string
	sources := map[string]*source{}
	for _, k := range keys {
		id := "file:" + k.File
		switch {
		case k.Armored != "":
			id = "inline:" + k.Fingerprint
		case k.URL != "":
			id = "url:" + k.URL
		case k.FS != nil:
			id = "builtin:" + k.File
		}
		s := sources[id]
		if s == nil {
			s = &source{key: k}
			sources[id] = s
			order = append(order, id)
		}
		s.fprs = append(s.fprs, k.Fingerprint)
	}
	var all *pgp.Keyring
	for _, id := range order {
		s := sources[id]
		kr, err := loadKey(ctx, client, s.key)
		if err != nil {
			return nil, err
		}
		pinned, err := kr.Pin(s.fprs...)
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", strings.SplitN(id, ":", 2)[1], err)
		}
		if all == nil {
			all = pinned
		} else {
			all = all.Merge(pinned)
		}
	}
	return all, nil
}

func loadKey(ctx context.Context, client *fetch.Client, k metadata.Key) (*pgp.Keyring, error) {
	switch {
	case k.Armored != "":
		kr, err := pgp.ParseKeyring([]byte(k.Armored))
		if err != nil {
			return nil, fmt.Errorf("inline key %s: %w", k.Fingerprint, err)
		}
		return kr, nil
	case k.URL != "":
		// The download is bounded in size here and in time by the client
		// (timeouts for each phase and for the whole attempt).
		var b strings.Builder
		if _, err := client.Get(ctx, k.URL, &b, MaxKeySize); err != nil {
			return nil, fmt.Errorf("%s: key %s: %w", k.Pos, k.URL, err)
		}
		kr, err := pgp.ParseKeyring([]byte(b.String()))
		if err != nil {
			return nil, fmt.Errorf("%s: key %s: %w", k.Pos, k.URL, err)
		}
		return kr, nil
	case k.FS != nil:
		data, err := namedfile.ReadFS(k.FS, k.File, MaxKeySize)
		if err != nil {
			return nil, fmt.Errorf("%s: built-in key: %w", k.Pos, err)
		}
		kr, err := pgp.ParseKeyring(data)
		if err != nil {
			return nil, fmt.Errorf("%s: built-in key %s: %w", k.Pos, k.File, err)
		}
		return kr, nil
	default:
		// The template chose this path: read it as outside data, so that
		// a symlink to a host file, a FIFO or a device is refused unread.
		data, err := namedfile.Read(k.File, MaxKeySize)
		if errors.Is(err, fs.ErrNotExist) && k.Package != "" {
			return nil, fmt.Errorf("%s: key file %w (provided by the host package %s)", k.Pos, err, k.Package)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: key file %w", k.Pos, err)
		}
		kr, err := pgp.ParseKeyring(data)
		if err != nil {
			return nil, fmt.Errorf("%s: key file %s: %w", k.Pos, k.File, err)
		}
		return kr, nil
	}
}
