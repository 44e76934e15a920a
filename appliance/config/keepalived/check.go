package keepalived

import (
	"net/netip"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// check is what a vrrp_script or vrrp_track_process was found to check.
type check struct {
	haproxy bool     // it watches HAProxy: proxypair's native check replaces it
	what    string   // e.g. "HAProxy's process is running", for comments
	unit    string   // a systemd unit it asks about (systemctl is-active)
	others  []string // other commands the script runs, which proxypair does not
	// noShell: shell syntax in a script keepalived 2.x runs without a shell.
	noShell bool
}

// maxScriptFile bounds how much of a check script file is read.
const maxScriptFile = 64 << 10

var shellSyntax = regexp.MustCompile("[|&;<>()$`*?~]")

// analyseScript looks at a vrrp_script's command line. own is the
// instance's own address (a curl of it is local too). A command that is a
// script file is read through files, when it can be.
func analyseScript(line string, argv []string, files Files, own netip.Addr) check {
	if len(argv) == 0 {
		return check{}
	}
	if isShell(argv) {
		return analyseShell(argv[2], own)
	}
	if shellSyntax.MatchString(line) {
		// keepalived 1.3 hands the line to /bin/sh; 2.x runs the program
		// itself, with "$(cat" as an argument.
		c := analyseShell(line, own)
		c.noShell = true
		return c
	}
	if c := analyseCommand(argv, own); c.haproxy {
		return c
	}
	if strings.HasPrefix(argv[0], "/") {
		data, err := files.ReadFile(argv[0])
		if err == nil && len(data) <= maxScriptFile {
			c := analyseShell(string(data), own)
			if c.haproxy {
				c.what += " (script " + argv[0] + ")"
			}
			return c
		}
	}
	return check{others: []string{line}}
}

// isShell reports argv of the form sh -c 'commands'.
func isShell(argv []string) bool {
	if len(argv) < 3 {
		return false
	}
	switch path.Base(argv[0]) {
	case "sh", "bash", "dash", "ash", "ksh", "zsh", "busybox":
	default:
		return false
	}
	return strings.HasPrefix(argv[1], "-") && strings.Contains(argv[1], "c")
}

// shellNoise are commands that only shape a check's exit status.
var shellNoise = map[string]bool{
	"exit": true, "true": true, "false": true, "wc": true, "test": true, "[": true, "[[": true,
	"then": true, "fi": true, "else": true, "elif": true, "done": true, "do": true, "set": true,
	"sleep": true, "echo": true, "return": true, ":": true, "head": true, "tail": true, "awk": true, "cut": true,
}

// analyseShell looks at shell text (sh -c, a script file): every simple
// command that checks HAProxy counts, everything else that does more than
// shape the exit status is listed in others.
func analyseShell(text string, own netip.Addr) check {
	var c check
	for _, ln := range strings.Split(text, "\n") {
		ln = strings.TrimSpace(ln)
		if ln == "" || strings.HasPrefix(ln, "#") {
			continue
		}
		ln = stripComment(ln)
		for _, pipeline := range splitShell(ln, false) {
			if pc, ok := psGrep(pipeline); ok {
				c.merge(pc)
				continue
			}
			for _, cmd := range splitShell(pipeline, true) {
				argv := cleanCommand(cmd)
				if len(argv) == 0 || shellNoise[argv[0]] || isAssignment(argv[0]) && len(argv) == 1 {
					continue
				}
				if isAssignment(argv[0]) {
					argv = argv[1:]
				}
				if path.Base(argv[0]) == "grep" || path.Base(argv[0]) == "kill" && slices.Contains(argv, "$SUB") {
					// a filter in a pipeline; kill -0 $(…), which its
					// command substitution (a command of its own) decides
					continue
				}
				if hc := analyseCommand(argv, own); hc.haproxy {
					c.merge(hc)
					continue
				}
				c.others = append(c.others, strings.Join(argv, " "))
			}
		}
	}
	return c
}

func (c *check) merge(o check) {
	if !o.haproxy {
		return
	}
	if c.haproxy && c.what != o.what {
		c.what += "; " + o.what
	} else {
		c.what = o.what
	}
	c.haproxy = true
	if o.unit != "" {
		c.unit = o.unit
	}
}

func stripComment(s string) string {
	quote := byte(0)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '#' && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t'):
			return s[:i]
		}
	}
	return s
}

// splitShell splits shell text into pipelines (at ; && || and newlines) or,
// with pipes, a pipeline into its commands. Command substitutions $(...)
// and `...` become commands of their own.
func splitShell(s string, pipes bool) []string {
	var out []string
	var b strings.Builder
	quote := byte(0)
	flush := func() {
		if t := strings.TrimSpace(b.String()); t != "" {
			out = append(out, t)
		}
		b.Reset()
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
			b.WriteByte(c)
		case c == '\'':
			quote = c
			b.WriteByte(c)
		case c == '$' && i+1 < len(s) && s[i+1] == '(':
			end := matchParen(s, i+1)
			out = append(out, splitShell(s[i+2:end], pipes)...)
			b.WriteString("$SUB")
			i = end
		case c == '`':
			end := strings.IndexByte(s[i+1:], '`')
			if end < 0 {
				end = len(s) - i - 1
			}
			out = append(out, splitShell(s[i+1:i+1+end], pipes)...)
			b.WriteString("$SUB")
			i += end + 1
		case c == ';' || c == '\n':
			flush()
		case c == '&' && i+1 < len(s) && s[i+1] == '&', c == '|' && i+1 < len(s) && s[i+1] == '|':
			flush()
			i++
		case c == '|' && pipes:
			flush()
		default:
			b.WriteByte(c)
		}
	}
	flush()
	return out
}

// matchParen returns the index of the ) closing the ( at open, or the end.
func matchParen(s string, open int) int {
	depth := 0
	for i := open; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return len(s)
}

var redirect = regexp.MustCompile(`(^|\s)(&>>?|[0-9]?>>?&?|<)\s*\S+`)

var duration = regexp.MustCompile(`^[0-9.]+[smhd]?$`)

// cleanCommand turns one simple command into words: redirections, quotes,
// shell keywords ("if", "!", "then") and wrappers (exec, timeout 2, sudo)
// go.
func cleanCommand(cmd string) []string {
	cmd = redirect.ReplaceAllString(cmd, " ")
	argv := splitQuoted(cmd)
	for len(argv) > 1 {
		switch argv[0] {
		case "if", "!", "then", "else", "elif", "while", "until", "do":
			argv = argv[1:]
			continue
		case "exec", "command", "nice", "sudo", "timeout":
			wrapper := argv[0]
			argv = argv[1:]
			for len(argv) > 1 && strings.HasPrefix(argv[0], "-") {
				argv = argv[1:]
			}
			if wrapper == "timeout" && len(argv) > 1 && duration.MatchString(argv[0]) {
				argv = argv[1:]
			}
			continue
		}
		break
	}
	for len(argv) > 0 && (argv[len(argv)-1] == "then" || argv[len(argv)-1] == ";") {
		argv = argv[:len(argv)-1]
	}
	return argv
}

func isAssignment(w string) bool {
	i := strings.IndexByte(w, '=')
	return i > 0 && paramName(w) == w[:i]
}

// isHAProxy reports a process name or path that is HAProxy.
func isHAProxy(name string) bool {
	name = strings.Trim(name, `"'^$`)
	switch path.Base(name) {
	case "haproxy", "haproxy-systemd-wrapper", "haproxy-master":
		return true
	}
	return false
}

// psGrep recognises "ps ... | grep [options] haproxy" (with grep -v grep
// and wc -l around it).
func psGrep(pipeline string) (check, bool) {
	cmds := splitShell(pipeline, true)
	if len(cmds) < 2 {
		return check{}, false
	}
	first := cleanCommand(cmds[0])
	if len(first) == 0 || path.Base(first[0]) != "ps" {
		return check{}, false
	}
	for _, c := range cmds[1:] {
		argv := cleanCommand(c)
		if len(argv) < 2 || path.Base(argv[0]) != "grep" {
			continue
		}
		for _, a := range argv[1:] {
			if !strings.HasPrefix(a, "-") && (isHAProxy(a) || a == "[h]aproxy") {
				return check{haproxy: true, what: "HAProxy's process is running (" + strings.Join(strings.Fields(pipeline), " ") + ")"}, true
			}
		}
	}
	return check{}, false
}

var pidFile = regexp.MustCompile(`haproxy[^/ ]*\.pid$`)

// analyseCommand recognises one program run with its arguments.
func analyseCommand(argv []string, own netip.Addr) check {
	prog := path.Base(argv[0])
	args := argv[1:]
	var plain []string
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			plain = append(plain, a)
		}
	}
	running := func() check {
		return check{haproxy: true, what: "HAProxy's process is running (" + strings.Join(argv, " ") + ")"}
	}
	switch prog {
	case "killall":
		sig0 := false
		for i, a := range args {
			sig0 = sig0 || a == "-0" || a == "-s0" || a == "-SIG0" || (a == "-s" || a == "--signal") && i+1 < len(args) && args[i+1] == "0"
		}
		if sig0 && len(plain) >= 1 && isHAProxy(plain[len(plain)-1]) {
			return running()
		}
	case "pidof", "pgrep":
		if len(plain) == 1 && isHAProxy(plain[0]) {
			return running()
		}
	case "ps":
		for i, a := range args {
			if a == "-C" && i+1 < len(args) && isHAProxy(args[i+1]) {
				return running()
			}
		}
	case "systemctl":
		if slices.Contains(args, "is-active") && len(plain) == 2 && isHAProxy(strings.TrimSuffix(plain[1], ".service")) {
			return check{haproxy: true, what: "HAProxy's systemd unit is active (" + strings.Join(argv, " ") + ")",
				unit: strings.TrimSuffix(plain[1], ".service") + ".service"}
		}
	case "service":
		if len(plain) == 2 && isHAProxy(plain[0]) && plain[1] == "status" {
			return running()
		}
	case "kill":
		// kill -0 with the pid written out (from a file named after
		// HAProxy): kill -0 $(cat …) is split by analyseShell.
		if len(args) >= 2 && args[0] == "-0" {
			rest := strings.Join(args[1:], " ")
			if pidFile.MatchString(strings.Trim(rest, "`()$ ")) || strings.Contains(rest, "pidof haproxy") {
				return check{haproxy: true, what: "HAProxy's process is running (" + strings.Join(argv, " ") + ")"}
			}
		}
	case "cat":
		// the inside of kill -0 $(cat /run/haproxy.pid)
		if len(plain) == 1 && pidFile.MatchString(plain[0]) {
			return check{haproxy: true, what: "HAProxy's process is running (its pid file " + plain[0] + ")"}
		}
	case "curl", "wget":
		if u, ok := localURL(plain, own); ok {
			return check{haproxy: true, what: "HAProxy answers on this host (" + prog + " " + u + ")"}
		}
	case "nc", "ncat", "netcat":
		z := false
		for _, a := range args {
			z = z || strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && strings.Contains(a, "z")
		}
		if z && len(plain) == 2 && isLocalHost(plain[0], own) {
			if _, err := strconv.Atoi(plain[1]); err == nil {
				return check{haproxy: true, what: "a port on this host accepts connections (" + strings.Join(argv, " ") + ")"}
			}
		}
	}
	return check{}
}

// localURL finds the one URL among words and reports whether it points at
// this host.
func localURL(words []string, own netip.Addr) (string, bool) {
	var found string
	for _, w := range words {
		s := w
		if !strings.Contains(s, "://") {
			if !strings.HasPrefix(s, "localhost") && !strings.HasPrefix(s, "127.") && !strings.HasPrefix(s, "[::1]") &&
				!(own.IsValid() && strings.HasPrefix(s, own.String())) {
				continue // an option's value, not a URL
			}
			s = "http://" + s
		}
		if found != "" {
			return "", false
		}
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || !isLocalHost(u.Hostname(), own) {
			return "", false
		}
		found = w
	}
	return found, found != ""
}

func isLocalHost(h string, own netip.Addr) bool {
	h = strings.Trim(h, "[]")
	if h == "localhost" || h == "ip6-localhost" {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && (a.IsLoopback() || a.IsUnspecified() || own.IsValid() && a == own)
}
