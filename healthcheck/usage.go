package healthcheck

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// backendUsage is what an HAProxy configuration says about which backends
// carry traffic. The runtime API cannot tell (no CLI command lists a
// frontend's default_backend or use_backend rules), so it is read from the
// configuration files of the running process.
type backendUsage struct {
	Files    []string // the configuration files read, in order
	Used     []string // backends named by default_backend / use_backend, and listen sections with servers; sorted
	Dynamic  []string // "frontend: rule" for use_backend rules whose backend name is computed per request
	Disabled []string // frontends and listen sections with the "disabled" keyword; sorted
}

// sectionKeywords start a new section of an HAProxy configuration.
var sectionKeywords = map[string]bool{
	"global": true, "defaults": true, "frontend": true, "backend": true, "listen": true,
	"peers": true, "resolvers": true, "userlist": true, "mailers": true, "program": true,
	"http-errors": true, "ring": true, "cache": true, "fcgi-app": true, "log-forward": true,
	"crt-store": true, "traces": true,
}

// parseBackendUsage reads HAProxy configuration files in the order HAProxy
// loads them and returns which backends the frontends use.
//
// It follows HAProxy's rules for defaults: a frontend or listen section takes
// default_backend from the defaults section it names with "from", else from
// the last defaults section before it; its own default_backend wins.
func parseBackendUsage(files []namedReader) (backendUsage, error) {
	var u backendUsage
	used := map[string]bool{}
	disabled := map[string]bool{}
	named := map[string]string{} // named defaults section -> its default_backend
	var lastDefaults string      // default_backend of the last defaults section

	type section struct {
		kind, name     string
		defaultBackend string
		useBackends    []string
		hasServers     bool
		disabled       bool
	}
	var cur *section
	finish := func() {
		if cur == nil {
			return
		}
		switch cur.kind {
		case "defaults":
			lastDefaults = cur.defaultBackend
			if cur.name != "" {
				named[cur.name] = cur.defaultBackend
			}
		case "frontend", "listen":
			if cur.disabled {
				disabled[cur.name] = true
				break
			}
			for _, b := range cur.useBackends {
				used[b] = true
			}
			switch {
			case cur.defaultBackend != "":
				used[cur.defaultBackend] = true
			case cur.kind == "listen" && cur.hasServers:
				used[cur.name] = true
			}
		}
		cur = nil
	}

	for _, f := range files {
		u.Files = append(u.Files, f.name)
		sc := bufio.NewScanner(f.r)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		lineNo := 0
		for sc.Scan() {
			lineNo++
			words := configWords(sc.Text())
			if len(words) == 0 {
				continue
			}
			kw := words[0]
			if sectionKeywords[kw] {
				finish()
				cur = &section{kind: kw}
				if len(words) > 1 {
					cur.name = words[1]
				}
				if kw == "defaults" || kw == "frontend" || kw == "listen" {
					cur.defaultBackend = lastDefaults
					if i := slices.Index(words, "from"); i > 0 && i+1 < len(words) {
						if kw == "defaults" && i == 1 {
							cur.name = "" // "defaults from x" is unnamed
						}
						db, ok := named[words[i+1]]
						if !ok {
							return u, fmt.Errorf("%s:%d: %s %s: no defaults section %q before it", f.name, lineNo, kw, cur.name, words[i+1])
						}
						cur.defaultBackend = db
					}
				}
				continue
			}
			if cur == nil {
				continue
			}
			switch kw {
			case "default_backend":
				if len(words) < 2 {
					return u, fmt.Errorf("%s:%d: default_backend needs a backend name", f.name, lineNo)
				}
				cur.defaultBackend = words[1]
			case "use_backend":
				if cur.kind != "frontend" && cur.kind != "listen" {
					continue
				}
				if len(words) < 2 {
					return u, fmt.Errorf("%s:%d: use_backend needs a backend name", f.name, lineNo)
				}
				if strings.Contains(words[1], "%[") {
					u.Dynamic = append(u.Dynamic, cur.name+": use_backend "+words[1])
					continue
				}
				cur.useBackends = append(cur.useBackends, words[1])
			case "server", "server-template":
				cur.hasServers = true
			case "disabled":
				cur.disabled = true
			}
		}
		if err := sc.Err(); err != nil {
			return u, fmt.Errorf("%s: %w", f.name, err)
		}
		finish()
	}
	u.Used = sortedKeys(used)
	u.Disabled = sortedKeys(disabled)
	return u, nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// configWords splits one configuration line into words the way HAProxy does
// for the keywords we read: blanks separate words, '#' starts a comment, and
// quotes and backslashes protect blanks.
func configWords(line string) []string {
	var words []string
	var w strings.Builder
	inWord := false
	var quote byte
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				w.WriteByte(c)
			}
		case c == '\\' && i+1 < len(line):
			i++
			w.WriteByte(line[i])
			inWord = true
		case c == '"' || c == '\'':
			quote = c
			inWord = true
		case c == '#':
			i = len(line)
		case c == ' ' || c == '\t' || c == '\r':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words
}

// namedReader is one configuration file and its name for error messages.
type namedReader struct {
	name string
	r    io.Reader
}

// configArgs returns the configuration paths (-f and the list after "--")
// and the -C directory from an HAProxy command line without argv[0].
func configArgs(args []string) (paths []string, chdir string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			paths = append(paths, args[i+1:]...)
			return paths, chdir
		case a == "-f" && i+1 < len(args):
			i++
			paths = append(paths, args[i])
		case a == "-C" && i+1 < len(args):
			i++
			chdir = args[i]
		}
	}
	return paths, chdir
}

// errNoConfig means the command line names no configuration file.
var errNoConfig = errors.New("no -f on the command line")

// usageFromProcess reads the configuration of the HAProxy process pid: its
// command line (from /proc) names the files, relative paths are taken from
// its -C directory or its working directory. A directory stands for its
// *.cfg files in lexical order, as HAProxy loads them.
func usageFromProcess(procRoot string, pid int) (backendUsage, error) {
	raw, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return backendUsage{}, fmt.Errorf("command line of pid %d: %w", pid, err)
	}
	args := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
	if len(args) < 2 {
		return backendUsage{}, fmt.Errorf("pid %d: %w", pid, errNoConfig)
	}
	paths, chdir := configArgs(args[1:])
	if len(paths) == 0 {
		return backendUsage{}, fmt.Errorf("pid %d: %w", pid, errNoConfig)
	}
	base := chdir
	if !filepath.IsAbs(base) {
		cwd, err := os.Readlink(filepath.Join(procRoot, strconv.Itoa(pid), "cwd"))
		if err != nil && anyRelative(paths) {
			return backendUsage{}, fmt.Errorf("working directory of pid %d: %w", pid, err)
		}
		base = filepath.Join(cwd, chdir)
	}
	for i, p := range paths {
		if !filepath.IsAbs(p) {
			paths[i] = filepath.Join(base, p)
		}
	}
	return usageFromFiles(paths)
}

func anyRelative(paths []string) bool {
	return slices.ContainsFunc(paths, func(p string) bool { return !filepath.IsAbs(p) })
}

// usageFromFiles reads the given configuration files and directories.
func usageFromFiles(paths []string) (backendUsage, error) {
	var files []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return backendUsage{}, err
		}
		if !fi.IsDir() {
			files = append(files, p)
			continue
		}
		ents, err := os.ReadDir(p) // sorted by name
		if err != nil {
			return backendUsage{}, err
		}
		for _, e := range ents {
			if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".cfg") && !strings.HasPrefix(e.Name(), ".") {
				files = append(files, filepath.Join(p, e.Name()))
			}
		}
	}
	var readers []namedReader
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return backendUsage{}, err
		}
		defer f.Close()
		readers = append(readers, namedReader{name: name, r: f})
	}
	return parseBackendUsage(readers)
}
