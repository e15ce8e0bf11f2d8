// Package metadata loads, resolves and checks template metadata: the YAML
// files distro maintainers write to say how a template cache is built.
//
// # Format
//
//	name: debian-12-minimal          # optional; must equal the file name
//	extends: debian-base             # inherit another template by name
//	abstract: false                  # true: only for extending, never built
//	distro: debian
//	release: "12"
//	variant: minimal                 # naming: the cache and listing say it
//	arch: [amd64, arm64]             # or one string; the first is the default
//	variables: {codename: bookworm}  # user variables, used as $codename
//	repositories:
//	  - name: main
//	    type: apt                    # apt or rpm-md
//	    url: $mirror                 # and/or mirrors: [...], tried in order
//	    metalink: URL                # rpm-md only (or mirrorlist: URL): base URLs tried first
//	    suites: [$codename]          # apt only, as are components
//	    components: [main]
//	    keys: [...]                  # per-repository keys, like keys below
//	    insecure: true               # only when written: no signature check
//	keys:
//	  - file: /usr/share/keyrings/debian-archive-keyring.gpg
//	    package: debian-archive-keyring  # named when the file is missing
//	    fingerprint: 4D64FEC119C2029067D6E791F8D2585B8783D481
//	  # or armored: | -----BEGIN PGP PUBLIC KEY BLOCK----- ..., or url: https://...
//	packages: {variant: minbase, include: [less], exclude: [nano]}
//	scripts:
//	  post-install: |
//	    echo inline
//	  pre-cache: {file: cleanup.sh}  # beside the metadata file
//	cache: {name: "{distro}-{release}-{arch}-{variant}", zstd-level: 9}
//	defaults: {PHYSPAGES: "0:512M", DISKSPACE: "2G:2.2G", HOSTNAME: localhost}
//
// A relative key `file` is beside the metadata file too (shipped keys);
// an absolute one is a host path. Every key is pinned by the 40-hex-digit
// fingerprint of its primary key; reading and checking keys is the
// repository client's job, this package touches no disk beyond the
// metadata files and the scripts beside them, and no network. It only
// checks, without opening them, that key files beside a template are
// regular files.
//
// # Inheritance
//
// extends names another template, found like any template by name (for a
// file given by path, its own directory first). The child's scalars win;
// mappings (variables, defaults, scripts) merge key by key; lists (arch,
// keys, packages.include/exclude) are appended to the parent's, and
// repositories too except that a child repository with the name of a
// parent's replaces it. The tag !replace on a list replaces the inherited
// list instead: `include: !replace [a, b]`. Cycles are an error that names
// the chain. A template that extends its own name overrides the template of
// that name found later in the lookup order: /etc/vzkit/templates can hold a
// debian-12-minimal.yaml that says `extends: debian-12-minimal` and adds a
// package to the shipped one.
//
// # Variables
//
// $name or ${name}; $$ is a dollar sign. Built in: $mirror and
// $security_mirror (supplied by the caller: the CLI takes them from
// --mirror, VZKIT_MIRROR_<DISTRO> or the host's apt sources), $arch (the
// chosen architecture), $basearch (its RPM name: amd64 -> x86_64) and
// $releasever (the release). Others come from `variables:` and may use
// variables themselves. An unknown variable is an error. Variables are
// substituted in repository URLs, mirrors, suites and components, key
// files and URLs, package lists and defaults; not in scripts, which get
// an environment instead.
//
// # Scripts
//
// pre-install (after packages are unpacked, before they are configured),
// post-install and pre-cache (last, before packing) run INSIDE the build
// sandbox with / as the new root, by /bin/sh, with TEMPLATE_NAME, DISTRO,
// RELEASE, ARCH, VARIANT and MIRROR set.
//
// # Digest
//
// Template.Digest identifies a resolved template by content only (the
// extends chain by template names, relative key files as written, scripts
// by body), so a host copy of a shipped template digests as the original;
// manifests and lock files record it.
//
// # How
//
// Files are parsed with github.com/goccy/go-yaml's parser into its AST
// rather than decoded into structs: it is maintained, gives line and column
// for every node (so every problem is reported as file:line:col), and
// walking the AST against the schema makes decoding strict (unknown keys
// are reported with a did-you-mean suggestion, wrong types named) while
// collecting every problem instead of stopping at the first. Aliases and
// merge keys are refused (extends covers sharing; aliases can blow up).
//
// # Outside data
//
// A template and the files it names may come from anyone, and vzpkg runs
// as root. A template file, and a script file, is read only if it is a
// regular file of at most MaxFileSize bytes: not a symlink (which could
// point at any host file), FIFO (which would block) or device. Files of a
// host directory are read through internal/saferoot, so a symlinked
// directory on the way resolves inside the template's directory. Before
// go-yaml parses a file, a pre-scan in one pass and constant memory
// refuses what its parser handles in more than linear time and memory
// (deep nesting, thousands of keys in a mapping, many documents; see
// prescan), following go-yaml's own scanner so that nothing can be hidden
// from the count. Those problems, like every other, are file:line:col.
package metadata
