package main

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// debianRevision is the Debian revision of every package we build: the
// packaging lives with the code, so it never changes without a new
// upstream version.
const debianRevision = "1"

var (
	// git describe --tags --always --dirty on a tagged tree: v1.2.3,
	// v1.2.3-rc1, v1.2.3-4-gabc1234, any of them with -dirty. Release tags
	// start with "v".
	describeTag = regexp.MustCompile(`^v([0-9][0-9A-Za-z.]*)(?:-((?:alpha|beta|rc|pre)[0-9A-Za-z.]*))?(?:-([0-9]+)-g([0-9a-f]{7,40}))?(-dirty)?$`)
	// ... and without any tag: the abbreviated commit.
	describeCommit = regexp.MustCompile(`^([0-9a-f]{7,40})(-dirty)?$`)
)

// debianVersion turns the version stamped into the binary (scripts/build.sh:
// `git describe --tags --always --dirty`) into a Debian version that sorts
// in build order:
//
//	v1.2.3                   1.2.3-1
//	v1.2.3-rc1               1.2.3~rc1-1  (before 1.2.3)
//	v1.2.3-4-gabc1234        1.2.3+git4.abc1234-1
//	v1.2.3-dirty             1.2.3+dirty-1
//	abc1234 (no tag yet)     0~git20261128001541.abc1234-1  (commit time, UTC)
//
// An untagged build sorts before any release (the ~), and untagged builds
// sort by commit time, since their hashes do not.
func debianVersion(describe string, commitTime time.Time) (string, error) {
	if m := describeCommit.FindStringSubmatch(describe); m != nil {
		if commitTime.IsZero() {
			return "", fmt.Errorf("mkdeb: version %q has no tag: the commit time (SOURCE_DATE_EPOCH) is needed to order it", describe)
		}
		v := "0~git" + commitTime.UTC().Format("20060102150405") + "." + m[1]
		if m[2] != "" {
			v += ".dirty"
		}
		return v + "-" + debianRevision, nil
	}
	m := describeTag.FindStringSubmatch(describe)
	if m == nil {
		return "", fmt.Errorf("mkdeb: version %q is neither a release tag (v1.2.3) nor a commit from git describe: build the binary with scripts/build.sh in a git checkout", describe)
	}
	v := m[1]
	if m[2] != "" {
		v += "~" + m[2]
	}
	var local []string
	if m[3] != "" {
		local = append(local, "git"+m[3], m[4])
	}
	if m[5] != "" {
		local = append(local, "dirty")
	}
	if len(local) > 0 {
		v += "+" + strings.Join(local, ".")
	}
	return v + "-" + debianRevision, nil
}
