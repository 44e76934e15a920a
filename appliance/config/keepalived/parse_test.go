package keepalived

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"testing"
)

// memFiles is a Files in memory, for includes and check scripts. Paths
// are compared as written (cleaned).
type memFiles map[string]string

func (m memFiles) ReadFile(name string) ([]byte, error) {
	s, ok := m[path.Clean(name)]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return []byte(s), nil
}

func (m memFiles) Glob(pattern string) ([]string, error) {
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, err
	}
	var out []string
	for name := range m {
		if ok, _ := path.Match(path.Clean(pattern), name); ok {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// dump renders statements one per line: "line word|word|word", blocks
// indented inside { }.
func dump(stmts []*Statement, indent string) string {
	var b strings.Builder
	for _, s := range stmts {
		fmt.Fprintf(&b, "%s%d %s", indent, s.Pos.Line, strings.Join(s.Words, "|"))
		if s.HasBlock {
			b.WriteString(" {\n")
			b.WriteString(dump(s.Block, indent+"  "))
			b.WriteString(indent + "}")
		}
		b.WriteString("\n")
	}
	return b.String()
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"brace on the keyword line",
			"vrrp_instance VI_1 {\n  state MASTER\n}\n",
			"1 vrrp_instance|VI_1 {\n  2 state|MASTER\n}\n"},
		{"brace on the next line, blank and comment lines between",
			"vrrp_instance VI_1\n\n# the block\n{\n  priority 100\n}\n",
			"1 vrrp_instance|VI_1 {\n  5 priority|100\n}\n"},
		{"one-line blocks (2.x splits at braces)",
			"authentication { auth_type PASS\nauth_pass x }\n",
			"1 authentication {\n  1 auth_type|PASS\n  2 auth_pass|x\n}\n"},
		{"closing brace with more after it",
			"a {\nb\n} c\n",
			"1 a {\n  2 b\n}\n3 c\n"},
		{"nested blocks",
			"vrrp_instance X {\n virtual_ipaddress {\n  10.0.0.1/24 dev eth1\n }\n track_script { chk }\n}\n",
			"1 vrrp_instance|X {\n  2 virtual_ipaddress {\n    3 10.0.0.1/24|dev|eth1\n  }\n  5 track_script {\n    5 chk\n  }\n}\n"},
		{"empty block", "unicast_peer {\n}\n", "1 unicast_peer {\n}\n"},
		{"# and ! comments, at the start and after words",
			"! header\npriority 100 # the priority\nstate MASTER! strange but a comment\n",
			"2 priority|100\n3 state|MASTER\n"},
		{"comment characters inside quotes stay",
			"script \"test ! -f /x # y\"\n",
			"1 script|test ! -f /x # y\n"},
		{"escaped comment characters", `auth_pass ab\#c\!d`,
			"1 auth_pass|ab#c!d\n"},
		{"quoted word and a word that stops at a quote",
			`notify_master "/bin/echo a b" root` + "\n" + `x a"b c"` + "\n",
			"1 notify_master|/bin/echo a b|root\n2 x|a|b c\n"},
		{"braces inside quotes do not split",
			"script \"sh -c '{ true; }'\"\n",
			"1 script|sh -c '{ true; }'\n"},
		{"CRLF line ends and tabs",
			"vrrp_instance\tVI_1 {\r\n\tpriority\t100\r\n}\r\n",
			"1 vrrp_instance|VI_1 {\n  2 priority|100\n}\n"},
		{"parameters: $NAME followed by space, ${NAME} anywhere, recursive",
			"$BASE=10.0.${SUB}\n$SUB=7\n$PRIO=150\npriority $PRIO\nvip ${BASE}.1/24\n",
			"4 priority|150\n5 vip|10.0.7.1/24\n"},
		{"undefined parameters and shell $() stay",
			"$X=1\nscript \"kill -0 $(cat /run/haproxy.pid) $UNDEF\"\n",
			"2 script|kill -0 $(cat /run/haproxy.pid) $UNDEF\n"},
		{"a multi-line parameter expands to several lines",
			"$BLOCK=priority 7 \\\n  advert_int 2\nvrrp_instance V {\n$BLOCK\n}\n",
			"3 vrrp_instance|V {\n  4 priority|7\n  4 advert_int|2\n}\n"},
		{"conditional lines without a config-id: @id skipped, @^id kept",
			"@node1 priority 200\n@^node1 priority 100\n@node1\n",
			"2 priority|100\n"},
		{"a ~SEQ line is skipped", "~SEQ(i,1,3) x $i\ny\n", "2 y\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tree, err := ParseBytes("k.conf", []byte(tc.in), ParseOptions{Files: memFiles{}})
			if err != nil {
				t.Fatal(err)
			}
			if got := dump(tree.Statements, ""); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestConfigID(t *testing.T) {
	in := "@node1 priority 200\n@node2 priority 100\n@^node1 advert_int 2\n"
	tree, err := ParseBytes("k.conf", []byte(in), ParseOptions{ConfigID: "node2"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := dump(tree.Statements, ""), "2 priority|100\n3 advert_int|2\n"; got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if len(tree.Warnings) != 1 || !strings.Contains(tree.Warnings[0].String(), `config-id "node2"`) {
		t.Errorf("warnings %v, want one note naming the config-id", tree.Warnings)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"unclosed block", "global_defs {\n}\nvrrp_instance VI_1 {\n  priority 100\n", `k.conf:3: the block of "vrrp_instance VI_1" is never closed`},
		{"one } too many", "a {\n}\n}\n", "k.conf:3: '}' closes no block"},
		{"{ with no keyword", "{\n}\n", "k.conf:1: '{' with no keyword"},
		{"{ after }", "a {\n} {\n}\n", "k.conf:2: '{' with no keyword"},
		{"unterminated quote", "a\nscript \"killall -0 haproxy\n", "k.conf:2: unterminated quote"},
		{"parameter defined by itself", "$A=$A x\nv $A\n", "k.conf:2: parameters expand"},
		{"parameter that doubles itself", "$A=${A}${A}\nv $A\n", "k.conf:2: parameters expand to more than"},
		{"unterminated quote in a continued definition", "$A=x \\\n \"y\n", "k.conf:2: unterminated quote"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseBytes("k.conf", []byte(tc.in), ParseOptions{Files: memFiles{}})
			var pe *ParseError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want a *ParseError containing %q", err, tc.want)
			}
		})
	}
}

func TestInclude(t *testing.T) {
	files := memFiles{
		"/etc/keepalived/keepalived.conf":  "global_defs {\n  router_id a\n}\ninclude conf.d/*.conf\nincluder /etc/keepalived/{x,y}.inc\ninclude missing/*.conf\n",
		"/etc/keepalived/conf.d/20-b.conf": "vrrp_instance B {\n  include ../vips.part\n}\n",
		"/etc/keepalived/conf.d/10-a.conf": "vrrp_script chk {\n}\n",
		"/etc/keepalived/vips.part":        "virtual_ipaddress {\n  10.0.0.1/24\n}\n",
		"/etc/keepalived/y.inc":            "y 1\n",
		"/etc/keepalived/x.inc":            "x 1\n",
		"/etc/keepalived/conf.d/notes.txt": "not included\n",
	}
	tree, err := Parse("/etc/keepalived/keepalived.conf", ParseOptions{Files: files})
	if err != nil {
		t.Fatal(err)
	}
	want := "1 global_defs {\n  2 router_id|a\n}\n1 vrrp_script|chk {\n}\n1 vrrp_instance|B {\n  1 virtual_ipaddress {\n    2 10.0.0.1/24\n  }\n}\n1 x|1\n1 y|1\n"
	if got := dump(tree.Statements, ""); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	vip := tree.Statements[2].Block[0].Block[0]
	if vip.Pos.String() != "/etc/keepalived/vips.part:2" {
		t.Errorf("included statement at %v, want /etc/keepalived/vips.part:2", vip.Pos)
	}
	if len(tree.Warnings) != 1 || tree.Warnings[0].Keyword != "include" || tree.Warnings[0].Pos.Line != 6 ||
		!strings.Contains(tree.Warnings[0].Message, "no file matches") {
		t.Errorf("warnings %v, want one for the include that matches nothing (line 6)", tree.Warnings)
	}
	wantFiles := []string{"/etc/keepalived/keepalived.conf", "/etc/keepalived/conf.d/10-a.conf", "/etc/keepalived/conf.d/20-b.conf",
		"/etc/keepalived/vips.part", "/etc/keepalived/x.inc", "/etc/keepalived/y.inc"}
	if !slices.Equal(tree.Files, wantFiles) {
		t.Errorf("files %v\nwant %v", tree.Files, wantFiles)
	}
}

// TestParametersThatMultiply: multi-line parameters that name multi-line
// parameters multiply the lines (3^20 here); the reader gives up quickly.
func TestParametersThatMultiply(t *testing.T) {
	var b strings.Builder
	for i := range 20 {
		fmt.Fprintf(&b, "$P%d=$P%d \\\n$P%d \\\n$P%d\n", i, i+1, i+1, i+1)
	}
	b.WriteString("$P20=x\nv $P0\n")
	_, err := ParseBytes("k.conf", []byte(b.String()), ParseOptions{Files: memFiles{}})
	if err == nil || !strings.Contains(err.Error(), "k.conf:62: parameters expand into more than") {
		t.Fatalf("err = %v", err)
	}
}

// failingFiles reads nothing but what it globs.
type failingFiles struct{ memFiles }

func (failingFiles) ReadFile(name string) ([]byte, error) {
	return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrPermission}
}

func TestIncludeProblems(t *testing.T) {
	files := failingFiles{memFiles{"/k/a.conf": ""}}
	tree, err := ParseBytes("/k/k.conf", []byte("include a.conf\ninclude /k/[\n"), ParseOptions{Files: files})
	if err != nil {
		t.Fatal(err)
	}
	if len(tree.Warnings) != 2 || !strings.Contains(tree.Warnings[0].String(), "/k/k.conf:1: include: skipped: read /k/a.conf: permission denied") ||
		!strings.Contains(tree.Warnings[1].String(), "/k/k.conf:2: include: bad pattern") {
		t.Errorf("warnings:\n%s", warningText(tree.Warnings))
	}
}

func TestIncludeLoop(t *testing.T) {
	files := memFiles{"/k/a.conf": "x 1\ninclude b.conf\n", "/k/b.conf": "include a.conf\n"}
	_, err := Parse("/k/a.conf", ParseOptions{Files: files})
	var pe *ParseError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "nested more than") {
		t.Fatalf("err = %v, want a ParseError about nesting", err)
	}
}

// TestTooManyFiles: a wide include (here 1100 files) is refused rather
// than read on and on.
func TestTooManyFiles(t *testing.T) {
	files := memFiles{"/k/a.conf": "include d/*.conf\n"}
	for i := range 1100 {
		files[fmt.Sprintf("/k/d/%04d.conf", i)] = "x 1\n"
	}
	_, err := Parse("/k/a.conf", ParseOptions{Files: files})
	if err == nil || !strings.Contains(err.Error(), "/k/a.conf:1: more than 1024 files included") {
		t.Fatalf("err = %v", err)
	}
}

func TestMissingFile(t *testing.T) {
	_, err := Parse("/nonexistent/keepalived.conf", ParseOptions{})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/keepalived.conf") {
		t.Fatalf("err = %v, want one naming the file", err)
	}
}

func TestCommand(t *testing.T) {
	for _, tc := range []struct {
		text        string
		line        string
		argv, extra []string
	}{
		{`script "killall -0 haproxy"`, "killall -0 haproxy", []string{"killall", "-0", "haproxy"}, nil},
		{`script killall -0 haproxy`, "killall", []string{"killall"}, []string{"-0", "haproxy"}},
		{`notify_master "/etc/k/master.sh 'two words'" root root`, "/etc/k/master.sh 'two words'", []string{"/etc/k/master.sh", "two words"}, []string{"root", "root"}},
		{`script "/bin/sh -c 'kill -0 $(cat /run/haproxy.pid)'"`, "/bin/sh -c 'kill -0 $(cat /run/haproxy.pid)'", []string{"/bin/sh", "-c", "kill -0 $(cat /run/haproxy.pid)"}, nil},
		{`script 'a\tb' x\ y`, "a\tb", []string{"a", "b"}, []string{"x y"}},
		{`script`, "", nil, nil},
	} {
		s := &Statement{Text: tc.text}
		line, argv, extra := s.Command()
		if line != tc.line || !slices.Equal(argv, tc.argv) || !slices.Equal(extra, tc.extra) {
			t.Errorf("Command(%q) = %q, %q, %q; want %q, %q, %q", tc.text, line, argv, extra, tc.line, tc.argv, tc.extra)
		}
	}
}

func TestExpandBraces(t *testing.T) {
	got := expandBraces("/a/{x,y{1,2}}/*.conf")
	want := []string{"/a/x/*.conf", "/a/y1/*.conf", "/a/y2/*.conf"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := expandBraces("/a/{x"); !slices.Equal(got, []string{"/a/{x"}) {
		t.Errorf("unbalanced: got %q", got)
	}
}
