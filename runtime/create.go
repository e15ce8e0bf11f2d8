package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/cache"
	"github.com/vzkit/vzkit/cache/sign"
	cachestore "github.com/vzkit/vzkit/cache/store"
	"github.com/vzkit/vzkit/internal/pgp"
	"github.com/vzkit/vzkit/runtime/vzconf"
)

// CreateOptions are the parameters of `vzctl create`.
type CreateOptions struct {
	CTID       string
	OSTemplate string // cache name under TEMPLATE/cache ("" = DEF_OSTEMPLATE)
	Config     string // sample name ("" = CONFIGFILE)
	Hostname   string
	IPs        []string
	Name       string
	Layout     string // "" = VE_LAYOUT of CTID.conf or vz.conf; OpenVZ's simfs is plain
	// Root and Private are VE_ROOT and VE_PRIVATE for this container
	// ("" = CTID.conf's, else vz.conf's), written to CTID.conf as given:
	// $VEID stands for the CTID, as in OpenVZ.
	Root, Private string
	// Privileged makes the container's root the host's root (no user
	// namespace): see KeyPrivileged. The sample's PRIVILEGED applies
	// otherwise.
	Privileged bool
	// Init is the kind of init ("" = told from the cache's /sbin/init, once,
	// now; recorded as INIT_KIND).
	Init InitKind
}

// creatingMarker names the file beside a private area (in VE_PRIVATE's
// 0700 parent, where the container's files cannot reach) that exists
// until create or clone has registered the container: a private area with
// a marker is debris while its CTID.conf is missing or still the one the
// admin wrote before create (the marker holds that file's SHA-256).
func creatingMarker(private string) string {
	return filepath.Join(filepath.Dir(private), ".vzkit-creating-"+filepath.Base(private))
}

// writeCreatingMarker makes the marker before the private area appears
// under its name, with O_EXCL in a directory only root can write. It
// records the digest of the CTID.conf at confPath that create started
// from, if there was one.
func writeCreatingMarker(marker, confPath string) error {
	sum := ""
	if b, err := os.ReadFile(confPath); err == nil {
		sum = sha256Hex(b)
	}
	mf, err := os.OpenFile(marker, os.O_CREATE|os.O_EXCL|os.O_WRONLY|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	_, werr := mf.WriteString(sum)
	if err := mf.Close(); werr == nil {
		werr = err
	}
	return werr
}

// interruptedCreate reports whether the marker beside private says that
// create never registered the container: no CTID.conf, or the one create
// started from, unchanged.
func (s *Store) interruptedCreate(ctid, private string) bool {
	want, err := os.ReadFile(creatingMarker(private))
	if err != nil {
		return false
	}
	conf, err := os.ReadFile(s.ConfPath(ctid))
	if errors.Is(err, fs.ErrNotExist) {
		return true
	}
	return err == nil && len(want) > 0 && sha256Hex(conf) == string(want)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// debrisPrefix names temporary directories of create and destroy; the
// CTID after it tells whose lock guards them.
const debrisPrefix = ".vzkit-create-"

// CacheFile finds TEMPLATE/cache/NAME.tar.{zst,gz,xz}.
func (s *Store) CacheFile(name string) (string, error) {
	if name == "" || strings.ContainsAny(name, "/\x00") || name == "." || name == ".." {
		return "", fmt.Errorf("%w: OS template %q", ErrBadParam, name)
	}
	for _, ext := range cachestore.Extensions {
		p := filepath.Join(s.G.CacheDir(), name+ext)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s/%s.tar.{zst,gz,xz}: %w", s.G.CacheDir(), name, ErrTemplateNotFound)
}

// Create makes a container from a template cache, all or nothing: if it
// fails, is cancelled or is killed, no CTID.conf and no private area exist
// afterwards (debris of a kill is removed by the next create or destroy).
func (s *Store) Create(ctx context.Context, o CreateOptions) (c *Container, err error) {
	if err := ValidCTID(o.CTID); err != nil {
		return nil, err
	}
	if o.Name != "" {
		if err := ValidName(o.Name); err != nil {
			return nil, err
		}
	}
	if o.Hostname != "" {
		if err := validHostname(o.Hostname); err != nil {
			return nil, err
		}
	}
	ips, err := parseIPs(o.IPs)
	if err != nil {
		return nil, fmt.Errorf("--ipadd: %w", err)
	}
	lk, err := s.LockCT(o.CTID)
	if err != nil {
		return nil, err
	}
	defer lk.Unlock()

	// An existing CTID.conf without a private area is the admin's
	// configuration of the container to make, as in OpenVZ: its keys are
	// kept, and fill in what the command line leaves out.
	confPath := s.ConfPath(o.CTID)
	conf, err := vzconf.ReadFile(confPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if conf, err = s.LoadSample(o.Config); err != nil {
			return nil, err
		}
		conf.Set("ORIGIN_SAMPLE", s.sampleName(o.Config))
	case err != nil:
		return nil, fmt.Errorf("container %s: %w", o.CTID, err)
	default:
		if o.Config != "" {
			sample, err := s.LoadSample(o.Config)
			if err != nil {
				return nil, err
			}
			for _, k := range sample.Keys() {
				if _, set := conf.Get(k); !set {
					v, _ := sample.Get(k)
					conf.Set(k, v)
				}
			}
			conf.Set("ORIGIN_SAMPLE", o.Config)
		}
	}
	pre := &Container{ID: o.CTID, ConfPath: confPath, Conf: conf}
	if o.Root != "" {
		conf.Set("VE_ROOT", o.Root)
	}
	if o.Private != "" {
		conf.Set("VE_PRIVATE", o.Private)
	}
	for key, def := range map[string]string{"VE_ROOT": s.G.Raw("VE_ROOT"), "VE_PRIVATE": s.G.Raw("VE_PRIVATE")} {
		if v, _ := conf.Get(key); v == "" {
			conf.Set(key, def)
		}
	}
	if pre.Private, err = s.expand(pre, "VE_PRIVATE"); err != nil {
		return nil, err
	}
	if pre.Root, err = s.expand(pre, "VE_ROOT"); err != nil {
		return nil, err
	}
	if pre.Private == pre.Root {
		return nil, fmt.Errorf("%w: container %s: VE_ROOT and VE_PRIVATE are both %s", ErrBadParam, o.CTID, pre.Root)
	}
	private := pre.Private

	var layout Layout
	switch {
	case o.Layout != "":
		if layout, err = ParseLayout(o.Layout); err != nil {
			return nil, fmt.Errorf("--layout: %w", err)
		}
	case pre.Get("VE_LAYOUT") != "":
		if layout, err = pre.Layout(); err != nil {
			return nil, err
		}
	default:
		if layout, err = ParseLayout(s.G.Get("VE_LAYOUT")); err != nil {
			return nil, fmt.Errorf("%s: VE_LAYOUT: %w", s.G.Origin("VE_LAYOUT"), err)
		}
	}
	if o.OSTemplate == "" {
		o.OSTemplate = pre.Get("OSTEMPLATE")
	}
	if o.OSTemplate == "" {
		o.OSTemplate = s.G.Get("DEF_OSTEMPLATE")
	}
	s.removeDebris(o.CTID, private)

	// The private area first: OpenVZ reports an existing container so (44).
	if _, err := os.Lstat(private); err == nil {
		return nil, fmt.Errorf("container %s: %s: %w", o.CTID, private, ErrPrivateExists)
	}
	if o.Name != "" {
		if id, err := s.Resolve(o.Name); err == nil && id != o.CTID {
			return nil, fmt.Errorf("%w: name %q is already used by container %s", ErrExists, o.Name, id)
		}
	}
	// Checked before the unpack, so that a taken address costs nothing,
	// and again under ipLock once CTID.conf is about to take it.
	if err := s.checkIPsFree(ctx, o.CTID, ips, true); err != nil {
		return nil, fmt.Errorf("container %s: --ipadd: %w", o.CTID, err)
	}
	if o.Privileged {
		conf.Set(KeyPrivileged, "yes")
	}
	if o.Init != "" {
		if _, err := ParseInitKind(string(o.Init)); err != nil {
			return nil, err
		}
	}
	cache, err := s.CacheFile(o.OSTemplate)
	if err != nil {
		return nil, err
	}
	if err := s.checkSignedCache(ctx, cache); err != nil {
		return nil, fmt.Errorf("container %s: %w", o.CTID, err)
	}

	rc, err := s.Resources(pre)
	if err != nil {
		return nil, err
	}
	disk := rc.Disk
	if err := closeParent(private); err != nil {
		return nil, fmt.Errorf("container %s: %w", o.CTID, err)
	}
	tmp := tmpAreaName(filepath.Dir(private), o.CTID)
	marker := creatingMarker(private)
	renamed := false
	defer func() {
		if err == nil {
			return
		}
		removeArea(tmp)
		if renamed {
			removeArea(private)
		}
		os.Remove(marker)
	}()

	s.log().Info("creating container", "ctid", o.CTID, "cache", cache, "layout", layout)
	// treeRoot is where the container's / can be read, to tell its init.
	treeRoot, release, err := s.layoutOf(layout).populate(ctx, &newArea{
		ctid: o.CTID, cache: cache, path: tmp, conf: conf, disk: disk,
	})
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", o.CTID, err)
	}
	init := o.Init
	if init == "" {
		init = detectInit(treeRoot)
	}
	release()
	conf.Set(KeyInitKind, string(init))
	if err := writeCreatingMarker(marker, confPath); err != nil {
		return nil, fmt.Errorf("container %s: %w", o.CTID, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, private); err != nil {
		return nil, fmt.Errorf("container %s: move private area into place: %w", o.CTID, err)
	}
	renamed = true

	conf.Set("OSTEMPLATE", o.OSTemplate)
	conf.Set("VE_LAYOUT", string(layout))
	if o.Hostname != "" {
		conf.Set("HOSTNAME", o.Hostname)
	}
	if len(o.IPs) > 0 {
		conf.Set("IP_ADDRESS", strings.Join(o.IPs, " "))
	}
	if o.Name != "" {
		conf.Set("NAME", o.Name)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(ips) > 0 {
		ilk, err := s.ipLock()
		if err != nil {
			return nil, fmt.Errorf("container %s: %w", o.CTID, err)
		}
		defer ilk.Unlock()
		if err := s.checkIPsFree(ctx, o.CTID, ips, true); err != nil {
			return nil, fmt.Errorf("container %s: --ipadd: %w", o.CTID, err)
		}
	}
	if err := s.registerConf(o.CTID, conf); err != nil {
		return nil, err
	}
	// Registered: from here on the container exists even if removing the
	// marker fails (the marker only matters without a CTID.conf).
	os.Remove(marker)
	return s.Load(o.CTID)
}

// registerConf writes a new container's CTID.conf; an unprivileged one is
// given its id range first, under the allocation lock, so that two creates
// never pick the same range.
func (s *Store) registerConf(ctid string, conf *vzconf.File) error {
	c := &Container{ID: ctid, ConfPath: s.ConfPath(ctid), Conf: conf}
	priv, err := c.Privileged()
	if err != nil {
		return err
	}
	if !priv {
		lk, err := s.idRangeLock()
		if err != nil {
			return err
		}
		defer lk.Unlock()
		m, err := s.allocIDRange(ctid)
		if err != nil {
			return err
		}
		conf.Set(KeyLocalUID, strconv.FormatUint(uint64(m.UID), 10))
		conf.Set(KeyLocalGID, strconv.FormatUint(uint64(m.GID), 10))
	} else {
		conf.Delete(KeyLocalUID)
		conf.Delete(KeyLocalGID)
	}
	if err := conf.WriteFile(c.ConfPath, 0o644); err != nil {
		return fmt.Errorf("container %s: %w", ctid, err)
	}
	return nil
}

// removeDebris deletes what killed creates and destroys left: temporary
// directories whose container lock is free (or held by us, for ctid), and
// ctid's private area when it still carries the creating marker and has no
// CTID.conf. The caller holds ctid's lock.
func (s *Store) removeDebris(ctid, private string) {
	if _, err := os.Lstat(creatingMarker(private)); err == nil {
		if s.interruptedCreate(ctid, private) {
			s.log().Info("removing private area of an interrupted create", "ctid", ctid, "path", private)
			removeArea(private)
		}
		os.Remove(creatingMarker(private))
	}
	tmpl := s.G.Get("TEMPLATE")
	for _, dir := range []string{filepath.Dir(private), filepath.Join(tmpl, "overlay"),
		filepath.Join(tmpl, "unpacked"), filepath.Join(filepath.Dir(private), ".vzkit-unpacked")} {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			rest, ok := strings.CutPrefix(e.Name(), debrisPrefix)
			if !ok {
				continue
			}
			owner, _, _ := strings.Cut(rest, "-")
			if owner != ctid {
				l, err := s.LockCT(owner)
				if err != nil {
					continue // in use by a running create or destroy
				}
				defer l.Unlock()
			}
			s.log().Info("removing leftover of an interrupted operation", "path", filepath.Join(dir, e.Name()))
			removeArea(filepath.Join(dir, e.Name()))
		}
	}
}

// Destroy removes a stopped container: the private area goes, CTID.conf
// becomes CTID.conf.destroyed. The area is first renamed to a debris name,
// so a kill midway leaves either a registered container or debris.
func (s *Store) Destroy(ctx context.Context, ctid string) error {
	lk, err := s.LockCT(ctid)
	if err != nil {
		return err
	}
	defer lk.Unlock()
	c, err := s.Load(ctid)
	if err != nil {
		s.removeDebris(ctid, s.G.Path("VE_PRIVATE", ctid))
		return err
	}
	if run, err := s.IsRunning(c); err != nil {
		return err
	} else if run {
		return fmt.Errorf("container %s: %w (stop it first)", ctid, ErrRunning)
	}
	if err := s.umount(c); err != nil {
		return err
	}
	s.forgetInit(ctid)
	trash := ""
	if _, err := os.Lstat(c.Private); err == nil {
		trash = filepath.Join(filepath.Dir(c.Private), debrisPrefix+ctid+"-destroyed")
		removeArea(trash)
		if err := os.Rename(c.Private, trash); err != nil {
			return fmt.Errorf("container %s: %w", ctid, err)
		}
	}
	if err := os.Rename(c.ConfPath, c.ConfPath+".destroyed"); err != nil {
		return fmt.Errorf("container %s: %w", ctid, err)
	}
	if trash != "" {
		if err := removeArea(trash); err != nil {
			return fmt.Errorf("container %s: remove private area: %w", ctid, err)
		}
	}
	os.Remove(c.Root)
	s.removeDebris(ctid, c.Private)
	return nil
}

// WriteConf saves a container's CTID.conf atomically.
func (s *Store) WriteConf(c *Container) error {
	return c.Conf.WriteFile(c.ConfPath, 0o644)
}

// Signed caches: REQUIRE_SIGNED_CACHE and CACHE_KEYRING of vz.conf.

// checkSignedCache enforces REQUIRE_SIGNED_CACHE=yes before anything is
// unpacked: the cache must have a manifest it matches (size, SHA-256) and a
// good OpenPGP signature (NAME.tar.zst.asc) by a key of CACHE_KEYRING. Any
// other value than yes or no is refused rather than read as "no", so that a
// typo never turns the check off.
func (s *Store) checkSignedCache(ctx context.Context, cachePath string) error {
	switch v := strings.ToLower(strings.TrimSpace(s.G.Get("REQUIRE_SIGNED_CACHE"))); v {
	case "", "no":
		return nil
	case "yes":
	default:
		return fmt.Errorf("REQUIRE_SIGNED_CACHE=%q in %s: want yes or no", v, s.G.File)
	}
	krPath := s.G.Get("CACHE_KEYRING")
	if krPath == "" {
		return fmt.Errorf("refusing OS template cache %s: REQUIRE_SIGNED_CACHE=yes but CACHE_KEYRING is not set in %s", cachePath, s.G.File)
	}
	kr, err := pgp.LoadKeyring(krPath)
	if err != nil {
		return fmt.Errorf("refusing OS template cache %s: REQUIRE_SIGNED_CACHE=yes: CACHE_KEYRING: %w", cachePath, err)
	}
	r, err := sign.Verify(ctx, cachePath, kr)
	if err != nil {
		return fmt.Errorf("refusing OS template cache (REQUIRE_SIGNED_CACHE=yes, keyring %s): %w", krPath, err)
	}
	s.log().Info("cache signature is good", "cache", cachePath, "keyring", krPath, "signers", r.Signers)
	return nil
}

// cacheDigest names a cache's content: the SHA-256 its manifest records, or
// the file's own hash when it has no manifest. Trusting the manifest here
// is safe because a lower directory is only ever filled by an unpack that
// checked the file against that very digest; reading the manifest instead
// of hashing the file is what keeps an overlay create near-instant.
func cacheDigest(path string) (string, error) {
	if m, err := cache.ReadManifest(cache.ManifestPath(path)); err == nil && len(m.Archive.SHA256) == 64 {
		return m.Archive.SHA256, nil
	}
	return fileSHA256(path)
}
