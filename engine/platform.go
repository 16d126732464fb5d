package engine

import (
	"regexp"
	goruntime "runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"berth/errdefs"
)

// A platform as --platform names it: os[/arch[/variant]], read as
// containerd's platforms.Parse reads it (Docker's), with its names
// normalised (x86_64 is amd64, aarch64 arm64, armhf arm/v7...).
type platform struct{ OS, Arch, Variant string }

func (p platform) String() string {
	s := p.OS + "/" + p.Arch
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

var platformPart = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

var knownOS = map[string]bool{"aix": true, "android": true, "darwin": true, "dragonfly": true, "freebsd": true,
	"hurd": true, "illumos": true, "ios": true, "js": true, "linux": true, "nacl": true, "netbsd": true,
	"openbsd": true, "plan9": true, "solaris": true, "windows": true, "zos": true}

var knownArch = map[string]bool{"386": true, "amd64": true, "amd64p32": true, "arm": true, "armbe": true,
	"arm64": true, "arm64be": true, "ppc64": true, "ppc64le": true, "loong64": true, "mips": true,
	"mipsle": true, "mips64": true, "mips64le": true, "mips64p32": true, "mips64p32le": true, "ppc": true,
	"riscv": true, "riscv64": true, "s390": true, "s390x": true, "sparc": true, "sparc64": true, "wasm": true}

// parsePlatform reads a --platform value; the errors are Docker's.
func parsePlatform(s string) (platform, error) {
	bad := func(why string) (platform, error) {
		return platform{}, errdefs.InvalidArgument("error parsing specified platform: %q: %s: invalid argument", s, why)
	}
	parts := strings.Split(s, "/")
	for _, part := range parts {
		if !platformPart.MatchString(part) {
			return platform{}, errdefs.InvalidArgument("error parsing specified platform: %q is an invalid component of %q: platform specifier component must match %q: invalid argument", part, s, platformPart.String())
		}
	}
	var p platform
	switch len(parts) {
	case 1:
		if os := normalizeOS(parts[0]); knownOS[os] {
			return platform{OS: os, Arch: goruntime.GOARCH}, nil
		}
		p.Arch, p.Variant = normalizeArch(parts[0], "")
		if !knownArch[p.Arch] {
			return bad("unknown operating system or architecture")
		}
		p.OS = goruntime.GOOS
	case 2:
		p.OS = normalizeOS(parts[0])
		p.Arch, p.Variant = normalizeArch(parts[1], "")
	case 3:
		p.OS = normalizeOS(parts[0])
		p.Arch, p.Variant = normalizeArch(parts[1], parts[2])
	default:
		return bad("cannot parse platform specifier")
	}
	if p.Arch == "arm" && p.Variant == "v7" {
		p.Variant = "" // arm's default
	}
	return p, nil
}

func normalizeOS(os string) string {
	os = strings.ToLower(os)
	if os == "macos" {
		return "darwin"
	}
	return os
}

// normalizeArch gives an architecture and variant their canonical names,
// with the variants that are the architecture's default left out.
func normalizeArch(arch, variant string) (string, string) {
	arch, variant = strings.ToLower(arch), strings.ToLower(variant)
	switch arch {
	case "i386":
		return "386", ""
	case "x86_64", "x86-64", "amd64":
		if variant == "v1" {
			variant = ""
		}
		return "amd64", variant
	case "aarch64", "arm64":
		switch variant {
		case "8", "v8", "v8.0":
			variant = ""
		}
		return "arm64", variant
	case "armhf":
		return "arm", "v7"
	case "armel":
		return "arm", "v6"
	case "arm":
		switch variant {
		case "", "7":
			variant = "v7"
		case "5", "6", "8":
			variant = "v" + variant
		}
	}
	return arch, variant
}

// imagePlatform is the platform an image's config names; one that names
// none is taken to be this machine's.
func imagePlatform(cfg *v1.ConfigFile) platform {
	p := platform{OS: cfg.OS, Arch: cfg.Architecture, Variant: cfg.Variant}
	if p.OS == "" {
		p.OS = goruntime.GOOS
	}
	if p.Arch == "" {
		p.Arch = goruntime.GOARCH
	}
	p.OS = normalizeOS(p.OS)
	p.Arch, p.Variant = normalizeArch(p.Arch, p.Variant)
	if p.Arch == "arm" && p.Variant == "v7" {
		p.Variant = ""
	}
	return p
}

// checkPlatform refuses an image whose platform is not p (--platform):
// berth runs images as they are, with no emulation.
func checkPlatform(p *platform, ref string, cfg *v1.ConfigFile) error {
	if p == nil {
		return nil
	}
	have := imagePlatform(cfg)
	if have.OS != p.OS || have.Arch != p.Arch || (p.Variant != "" && have.Variant != p.Variant) {
		return errdefs.InvalidArgument("image with reference %s was found but its platform (%s) does not match the specified platform (%s)", ref, have, *p)
	}
	return nil
}
