package main

import (
	"debug/buildinfo"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"unicode"
)

// module is one Go module statically linked into the binary, with the
// license text found for it.
type module struct {
	path, version string
	license       string // short name (DEP-5), e.g. Apache-2.0
	copyright     []string
	text          string // the LICENSE file
}

// commonLicenses are the licenses Debian ships in /usr/share/common-licenses:
// the copyright file points there instead of repeating the text (lintian
// asks for that). The others (MIT, BSD) carry their authors' notices, which
// must travel with the binary, so their whole text is included.
var commonLicenses = map[string]string{
	"Apache-2.0": "/usr/share/common-licenses/Apache-2.0",
	"MPL-2.0":    "/usr/share/common-licenses/MPL-2.0",
}

// classify names the license of a LICENSE file's text, or returns "" when
// it is none of those we know: the build then fails rather than shipping a
// copyright file that misstates a license. A file holding two licenses (as
// the yaml packages' does: parts of it are MIT, parts Apache) gets both.
func classify(text string) string {
	flat := strings.Join(strings.Fields(text), " ")
	var found []string
	switch {
	case strings.Contains(flat, "Apache License") && strings.Contains(flat, "Version 2.0"):
		found = append(found, "Apache-2.0")
	case strings.Contains(flat, "Mozilla Public License") && strings.Contains(flat, "Version 2.0"):
		found = append(found, "MPL-2.0")
	}
	switch {
	case strings.Contains(flat, "Permission is hereby granted, free of charge, to any person obtaining a copy"):
		found = append(found, "Expat")
	case strings.Contains(flat, "Redistribution and use in source and binary forms") && strings.Contains(flat, "Neither the name"):
		found = append(found, "BSD-3-clause")
	case strings.Contains(flat, "Redistribution and use in source and binary forms"):
		found = append(found, "BSD-2-clause")
	case strings.Contains(flat, "Permission to use, copy, modify, and/or distribute this software for any purpose"):
		found = append(found, "ISC")
	}
	return strings.Join(found, " and ")
}

var copyrightLine = regexp.MustCompile(`(?i)^\s*copyright\s+(?:\(c\)\s*|©\s*)?(.*\d{4}.*)$`)

// copyrightHolders returns the "Copyright ..." lines of a license text.
func copyrightHolders(text string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if m := copyrightLine.FindStringSubmatch(line); m != nil {
			out = append(out, strings.TrimSpace(m[1]))
		}
	}
	return out
}

// licenseFile finds the license text in a module's directory.
func licenseFile(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		name := strings.ToUpper(e.Name())
		if !e.IsDir() && (strings.HasPrefix(name, "LICENSE") || strings.HasPrefix(name, "LICENCE") || name == "COPYING") {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			return string(b), err
		}
	}
	return "", fmt.Errorf("no LICENSE file in %s", dir)
}

// escapeModulePath is the module cache's case encoding: an upper-case
// letter becomes "!" and its lower-case form.
func escapeModulePath(path string) string {
	var b strings.Builder
	for _, r := range path {
		if unicode.IsUpper(r) {
			b.WriteByte('!')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// linkedModules reads the modules linked into binary (its build info) and
// their licenses from the module cache, plus Go's own (the runtime and
// standard library are in every Go binary).
func linkedModules(binary, modCache, goroot string) ([]module, error) {
	bi, err := buildinfo.ReadFile(binary)
	if err != nil {
		return nil, fmt.Errorf("mkdeb: reading the build info of %s: %w", binary, err)
	}
	goText, err := os.ReadFile(filepath.Join(goroot, "LICENSE"))
	if err != nil {
		return nil, fmt.Errorf("mkdeb: Go's license: %w", err)
	}
	mods := []module{{path: "Go (runtime and standard library)", version: bi.GoVersion, text: string(goText)}}
	for _, d := range bi.Deps {
		if d.Replace != nil {
			d = d.Replace
		}
		dir := filepath.Join(modCache, escapeModulePath(d.Path)+"@"+d.Version)
		text, err := licenseFile(dir)
		if err != nil {
			return nil, fmt.Errorf("mkdeb: license of %s@%s: %w (run `go mod download`)", d.Path, d.Version, err)
		}
		mods = append(mods, module{path: d.Path, version: d.Version, text: text})
	}
	var errs []error
	for i := range mods {
		m := &mods[i]
		if m.license = classify(m.text); m.license == "" {
			errs = append(errs, fmt.Errorf("mkdeb: %s@%s: license not recognised; add it to classify after reading it", m.path, m.version))
		}
		if m.copyright = copyrightHolders(m.text); len(m.copyright) == 0 {
			m.copyright = []string{"the authors of " + m.path}
		}
	}
	sort.SliceStable(mods[1:], func(i, j int) bool { return mods[1+i].path < mods[1+j].path })
	return mods, errors.Join(errs...)
}

// copyrightFile renders debian/copyright in the machine-readable format
// (DEP-5): proxypair itself, then every module in the binary with its
// license.
func copyrightFile(mods []module) string {
	var b strings.Builder
	b.WriteString(`Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: proxypair
Source: https://github.com/proxypair/proxypair
Comment: /usr/bin/proxypair is a static Go binary. Besides proxypair's own
 code it contains Go's runtime and standard library and the Go modules
 listed below, each under its own license; the module list is read from the
 binary's build information when the package is built.

Files: *
Copyright: the proxypair authors
License: proxypair-unlicensed
 No license has been chosen for proxypair itself yet: until the project
 publishes one, all rights are reserved by its authors.
`)
	for _, m := range mods {
		fmt.Fprintf(&b, "\nFiles: %s\n", dep5Path(m))
		b.WriteString("Copyright:")
		for i, c := range m.copyright {
			if i > 0 {
				b.WriteString("\n          ")
			}
			b.WriteString(" " + c)
		}
		fmt.Fprintf(&b, "\nComment: %s %s\n", m.path, m.version)
		fmt.Fprintf(&b, "License: %s\n", m.license)
		if path, ok := commonLicenses[m.license]; ok {
			fmt.Fprintf(&b, " On Debian and Ubuntu systems, the complete text of the license is in\n %s.\n", path)
			continue
		}
		b.WriteString(indent(m.text))
	}
	return b.String()
}

// dep5Path names a module in a Files: field (a pattern: no spaces).
func dep5Path(m module) string {
	if strings.HasPrefix(m.path, "Go ") {
		return "go/*"
	}
	return "vendor/" + m.path + "/*"
}

// indent formats a license text as a DEP-5 field continuation: each line
// indented by one space, empty lines as " .".
func indent(text string) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		line = strings.TrimRight(line, " \t\r")
		if line == "" {
			b.WriteString(" .\n")
			continue
		}
		b.WriteString(" " + line + "\n")
	}
	return b.String()
}
