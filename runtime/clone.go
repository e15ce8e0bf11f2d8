package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/vzkit/vzkit/runtime/vzconf"
)

// CloneOptions are the parameters of `vzctl clone`.
type CloneOptions struct {
	Src, Dst string // CTIDs
	Name     string // NAME of the copy ("" = none: names are unique)
	Hostname string // "" = keep the source's
}

// Clone copies a stopped container under a new CTID, all or nothing like
// Create. The copy gets no IP_ADDRESS (two containers must not share
// addresses) and no NAME unless one is given; an overlay clone shares the
// source's lower directory and copies its upper one.
func (s *Store) Clone(ctx context.Context, o CloneOptions) (err error) {
	if err := ValidCTID(o.Dst); err != nil {
		return err
	}
	if o.Src == o.Dst {
		return fmt.Errorf("%w: clone %s onto itself", ErrBadParam, o.Src)
	}
	slk, err := s.LockCT(o.Src)
	if err != nil {
		return err
	}
	defer slk.Unlock()
	dlk, err := s.LockCT(o.Dst)
	if err != nil {
		return err
	}
	defer dlk.Unlock()
	src, err := s.Load(o.Src)
	if err != nil {
		return err
	}
	if run, err := s.IsRunning(src); err != nil {
		return err
	} else if run {
		return fmt.Errorf("container %s: %w (stop it to clone it)", o.Src, ErrRunning)
	}
	private := s.G.Path("VE_PRIVATE", o.Dst)
	s.removeDebris(o.Dst, private)
	confPath := s.ConfPath(o.Dst)
	if _, err := os.Stat(confPath); err == nil {
		return fmt.Errorf("container %s: %s: %w", o.Dst, confPath, ErrExists)
	}
	if _, err := os.Lstat(private); err == nil {
		return fmt.Errorf("container %s: %s: %w", o.Dst, private, ErrPrivateExists)
	}
	if o.Name != "" {
		if err := ValidName(o.Name); err != nil {
			return err
		}
		if id, err := s.Resolve(o.Name); err == nil {
			return fmt.Errorf("%w: name %q is already used by container %s", ErrExists, o.Name, id)
		}
	}
	if o.Hostname != "" {
		if err := validHostname(o.Hostname); err != nil {
			return err
		}
	}
	if fi, err := os.Stat(src.Private); err != nil || !fi.IsDir() {
		return fmt.Errorf("container %s: %s: %w", o.Src, src.Private, ErrPrivateMissing)
	}
	if err := closeParent(private); err != nil {
		return err
	}
	layout, err := src.Layout()
	if err != nil {
		return err
	}
	rc, err := s.Resources(src)
	if err != nil {
		return err
	}
	disk := rc.Disk
	tmp := tmpAreaName(filepath.Dir(private), o.Dst)
	marker := creatingMarker(private)
	renamed := false
	defer func() {
		if err != nil {
			removeArea(tmp)
			if renamed {
				removeArea(private)
			}
			os.Remove(marker)
		}
	}()
	srcSub, err := isSubvolume(src.Private)
	if err != nil {
		return err
	}
	switch {
	case srcSub && sameFS(src.Private, filepath.Dir(private)):
		// A snapshot: instant, and a subvolume of its own for the
		// copy's qgroup.
		if err := snapshotArea(src.Private, tmp); err != nil {
			return fmt.Errorf("clone %s to %s: %w", o.Src, o.Dst, err)
		}
	default:
		if layout == LayoutImage {
			err = os.Mkdir(tmp, 0o700)
		} else {
			_, err = makeDirArea(tmp)
		}
		if err != nil {
			return fmt.Errorf("clone %s to %s: %w", o.Src, o.Dst, err)
		}
		// cp -a keeps what a root tree needs (owners, modes, hard links,
		// devices, xattrs, file capabilities), reflinks where it can and
		// keeps an image file sparse.
		var stderr bytes.Buffer
		cp := exec.CommandContext(ctx, "cp", "-a", "--reflink=auto", "--", src.Private+"/.", tmp)
		cp.Stderr = &stderr
		if err := cp.Run(); err != nil {
			return fmt.Errorf("clone %s to %s: cp: %w: %s", o.Src, o.Dst, err, strings.TrimSpace(stderr.String()))
		}
	}
	if layout != LayoutImage {
		// The copy's subvolume gets the source's DISKSPACE.
		if err := s.limitDirArea(o.Dst, tmp, disk); err != nil && !errors.Is(err, ErrQuotaUnsupported) {
			return err
		}
	}
	// Beside the copy, never inside it: a name in the source tree (a
	// symlink planted there) must not decide where vzkit writes.
	if err := writeCreatingMarker(marker, confPath); err != nil {
		return err
	}
	if err := os.Rename(tmp, private); err != nil {
		return fmt.Errorf("clone %s to %s: %w", o.Src, o.Dst, err)
	}
	renamed = true
	conf, err := vzconf.Parse(bytes.NewReader(src.Conf.Bytes()), confPath)
	if err != nil {
		return err
	}
	conf.Set("VE_ROOT", s.G.Raw("VE_ROOT"))
	conf.Set("VE_PRIVATE", s.G.Raw("VE_PRIVATE"))
	conf.Delete("IP_ADDRESS")
	conf.Delete("NAME")
	// The copy gets an id range of its own (registerConf): the files on
	// disk are unshifted, so no chown is needed.
	conf.Delete(KeyLocalUID)
	conf.Delete(KeyLocalGID)
	if o.Name != "" {
		conf.Set("NAME", o.Name)
	}
	if o.Hostname != "" {
		conf.Set("HOSTNAME", o.Hostname)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.registerConf(o.Dst, conf); err != nil {
		return err
	}
	os.Remove(marker)
	return nil
}
