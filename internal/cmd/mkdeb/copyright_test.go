package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	tests := []struct{ name, text, want string }{
		{"apache", "                                 Apache License\n                           Version 2.0, January 2004\n", "Apache-2.0"},
		{"mpl", "Mozilla Public License Version 2.0\n==================================\n", "MPL-2.0"},
		{"mit", "Copyright (c) 2014 Someone\n\nPermission is hereby granted, free of charge, to any person obtaining a copy\nof this software", "Expat"},
		{"bsd-3", "Redistribution and use in source and binary forms, with or without\nmodification... Neither the name of Google", "BSD-3-clause"},
		{"bsd-2", "Redistribution and use in source and binary forms, with or without\nmodification, are permitted", "BSD-2-clause"},
		{"isc", "Permission to use, copy, modify, and/or distribute this software for any\npurpose with or without fee", "ISC"},
		{"two", "MIT part:\nPermission is hereby granted, free of charge, to any person obtaining a copy\n\nApache part:\n Apache License\n Version 2.0", "Apache-2.0 and Expat"},
		{"unknown", "All rights reserved. Do not copy.", ""},
		{"gpl", "GNU GENERAL PUBLIC LICENSE Version 3", ""},
	}
	for _, tt := range tests {
		if got := classify(tt.text); got != tt.want {
			t.Errorf("%s: classify = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestCopyrightHolders(t *testing.T) {
	text := "The MIT License\n\nCopyright (c) 2013-2017 Alice\nCopyright 2019 Bob Ltd.\ncopyright notice and this permission notice\n"
	got := copyrightHolders(text)
	if strings.Join(got, "|") != "2013-2017 Alice|2019 Bob Ltd." {
		t.Errorf("copyrightHolders = %q", got)
	}
}

func TestEscapeModulePath(t *testing.T) {
	if got := escapeModulePath("github.com/BurntSushi/toml"); got != "github.com/!burnt!sushi/toml" {
		t.Errorf("escapeModulePath = %q", got)
	}
}

// TestLinkedModulesRefusesUnknownLicense builds a tiny binary against a
// fake module cache whose only module has a license classify does not know:
// the package must not be built with a guessed license.
func TestLinkedModulesRefusesUnknownLicense(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Skip("go not on PATH")
	}
	// This test binary links the module graph of this package; give one of
	// its modules an unknown license in a copy of the cache.
	mods, err := linkedModules(self, realModCache(t), strings.TrimSpace(string(goroot)))
	if err != nil {
		t.Fatalf("the real module cache: %v", err)
	}
	if len(mods) < 2 {
		t.Skip("test binary links no modules")
	}
	fake := t.TempDir()
	for _, m := range mods[1:] {
		dir := filepath.Join(fake, escapeModulePath(m.path)+"@"+m.version)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		text := m.text
		if m.path == mods[len(mods)-1].path {
			text = "Proprietary. All rights reserved.\n"
		}
		if err := os.WriteFile(filepath.Join(dir, "LICENSE"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	last := mods[len(mods)-1]
	_, err = linkedModules(self, fake, strings.TrimSpace(string(goroot)))
	if err == nil || !strings.Contains(err.Error(), last.path+"@"+last.version+": license not recognised") {
		t.Errorf("linkedModules with an unknown license: %v, want an error naming %s", err, last.path)
	}
}

func realModCache(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}
