package keepalived

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Pos is where a statement was read: the file as it was named (the path
// given to Parse, or an included file as its glob found it) and the line,
// counting from 1.
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string {
	if p.File == "" {
		return "-"
	}
	return p.File + ":" + strconv.Itoa(p.Line)
}

// Statement is one keyword line of keepalived.conf with its block, if it
// has one: `priority 200`, `vrrp_instance VI_1 { ... }`, and the lines
// of value blocks such as `192.168.200.102/24 dev eth1` inside
// virtual_ipaddress.
type Statement struct {
	Pos   Pos
	Words []string // the keyword and its arguments, with "" quotes removed
	// Text is the statement as written, without comments. keepalived reads
	// scripts and notify commands from it again, with ' and " quotes and
	// backslash escapes (see Command).
	Text     string
	HasBlock bool         // a { } block follows (perhaps empty)
	Block    []*Statement // the statements inside the block
}

// Keyword is the statement's first word.
func (s *Statement) Keyword() string {
	if len(s.Words) == 0 {
		return ""
	}
	return s.Words[0]
}

// Arg returns the i-th argument (counting from 1, after the keyword), or ""
// when there is none.
func (s *Statement) Arg(i int) string {
	if i < 1 || i >= len(s.Words) {
		return ""
	}
	return s.Words[i]
}

// Tree is a parsed keepalived.conf with everything it includes.
type Tree struct {
	Statements []*Statement
	Files      []string  // every file read, in the order keepalived reads them
	Warnings   []Warning // what the reader skipped or could not follow
}

// ParseError is keepalived.conf text that cannot be read as keepalived
// reads it (an unbalanced brace, an unterminated quote), or a file that
// cannot be read at all.
type ParseError struct {
	Pos Pos
	Msg string
}

func (e *ParseError) Error() string {
	return "keepalived: " + e.Pos.String() + ": " + e.Msg
}

// Files is where Parse reads the config and its includes, and where the
// importer looks at check scripts. The default is the machine's files.
type Files interface {
	ReadFile(name string) ([]byte, error)
	// Glob returns the names matching a filepath.Match pattern, sorted.
	Glob(pattern string) ([]string, error)
}

type osFiles struct{}

func (osFiles) ReadFile(name string) ([]byte, error)  { return os.ReadFile(name) }
func (osFiles) Glob(pattern string) ([]string, error) { return filepath.Glob(pattern) }

// ParseOptions says how to read the config.
type ParseOptions struct {
	Files Files // nil: the machine's files
	// ConfigID is keepalived's --config-id (its default is the host name
	// up to the first dot): a line "@ID ..." is read only when ID matches,
	// "@^ID ..." only when it does not. Empty matches no ID.
	ConfigID string
}

// Limits that keep a hostile or broken file (an include of itself, a
// parameter that doubles on every expansion) from running away.
const (
	maxIncludeDepth = 32
	maxLineLen      = 64 << 10
	maxExpansions   = 32
	maxStatements   = 1 << 20
	maxExpanded     = 1 << 16 // lines produced by parameters
	maxFiles        = 1 << 10 // files read, includes counted each time
)

// Parse reads the keepalived config at path, with its includes, into
// statements. It returns a *ParseError when the text cannot be read the way
// keepalived reads it; things keepalived itself would skip (an include
// that matches no file) are warnings in the Tree.
func Parse(path string, opt ParseOptions) (*Tree, error) {
	files := opt.Files
	if files == nil {
		files = osFiles{}
	}
	data, err := files.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keepalived: %w", err)
	}
	return ParseBytes(path, data, opt)
}

// ParseBytes is Parse for a config already in memory, named name in
// messages. Includes are read through opt.Files, relative to name's
// directory.
func ParseBytes(name string, data []byte, opt ParseOptions) (*Tree, error) {
	r := &reader{opt: opt, files: opt.Files, defs: map[string]string{}}
	if r.files == nil {
		r.files = osFiles{}
	}
	if err := r.readFile(name, data, 0); err != nil {
		return nil, err
	}
	stmts, err := build(r.lines)
	if err != nil {
		return nil, err
	}
	return &Tree{Statements: stmts, Files: r.fileNames, Warnings: r.warnings}, nil
}

// line is one logical line: keepalived splits a physical line at each
// brace, so "vrrp_instance VI_1 { state MASTER }" is four of them.
type line struct {
	pos  Pos
	text string
}

type reader struct {
	opt       ParseOptions
	files     Files
	defs      map[string]string
	lines     []line
	fileNames []string
	warnings  []Warning
	// warned keeps one warning per kind of unsupported feature.
	warned   map[string]bool
	expanded int // lines that parameters were expanded in
}

func (r *reader) warnOnce(kind string, w Warning) {
	if r.warned == nil {
		r.warned = map[string]bool{}
	}
	if !r.warned[kind] {
		r.warned[kind] = true
		r.warnings = append(r.warnings, w)
	}
}

func (r *reader) readFile(name string, data []byte, depth int) error {
	r.fileNames = append(r.fileNames, name)
	raw := strings.Split(string(data), "\n")
	for i := 0; i < len(raw); i++ {
		pos := Pos{File: name, Line: i + 1}
		text, cont, err := decomment(raw[i])
		if err != nil {
			return &ParseError{Pos: pos, Msg: err.Error()}
		}
		if text == "" {
			continue
		}
		text, ok := r.conditional(pos, text)
		if !ok {
			continue
		}
		if name, value, isDef := definition(text); isDef && cont {
			// A multi-line definition: the value goes on while lines end
			// in a backslash, and an empty line ends it.
			parts := []string{strings.TrimRight(strings.TrimSuffix(value, `\`), " \t")}
			for cont && i+1 < len(raw) {
				i++
				var t string
				t, cont, err = decomment(raw[i])
				if err != nil {
					return &ParseError{Pos: Pos{File: pos.File, Line: i + 1}, Msg: err.Error()}
				}
				if t == "" {
					break
				}
				parts = append(parts, strings.TrimRight(strings.TrimSuffix(t, `\`), " \t"))
			}
			r.define(pos, name, joinNonEmpty(parts))
			continue
		}
		if err := r.process(pos, text, depth, 0); err != nil {
			return err
		}
		if len(r.lines) > maxStatements {
			return &ParseError{Pos: pos, Msg: fmt.Sprintf("more than %d statements", maxStatements)}
		}
	}
	return nil
}

func joinNonEmpty(parts []string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, "\n")
}

// conditional applies keepalived's "@ID line" and "@^ID line": it returns
// the line without its condition, or false when the line does not apply.
func (r *reader) conditional(pos Pos, text string) (string, bool) {
	if text[0] != '@' {
		return text, true
	}
	negate := strings.HasPrefix(text, "@^")
	rest := text[1:]
	if negate {
		rest = text[2:]
	}
	cut := strings.IndexAny(rest, " \t")
	if cut < 0 {
		return "", false // keepalived ignores a condition with nothing after it
	}
	id := rest[:cut]
	msg := "lines starting @ID are read only when ID is keepalived's config-id; none was given, so they are skipped (and @^ID lines kept): name the node with --config-id"
	if r.opt.ConfigID != "" {
		msg = fmt.Sprintf("conditional lines are read as keepalived does with config-id %q (keepalived's default is the host name); use --config-id to import for another node", r.opt.ConfigID)
	}
	r.warnOnce("conditional", Warning{Pos: pos, Keyword: "@" + id, Message: msg, Note: true})
	matches := r.opt.ConfigID != "" && id == r.opt.ConfigID
	if matches == negate {
		return "", false
	}
	return strings.TrimLeft(rest[cut:], " \t"), true
}

// process handles one decommented physical line (or a line produced by a
// parameter): definitions, parameter substitution, include, and the split
// at braces.
func (r *reader) process(pos Pos, text string, depth, expansions int) error {
	if name, value, ok := definition(text); ok {
		r.define(pos, name, value)
		return nil
	}
	if strings.HasPrefix(text, "$") && strings.Contains(text, "(") && strings.Contains(text, ")=") {
		r.warnings = append(r.warnings, Warning{Pos: pos, Keyword: firstWord(text),
			Message: "parameters with arguments are not supported by the importer: the line is skipped; expand it by hand"})
		return nil
	}
	if strings.HasPrefix(text, "~SEQ") || strings.HasPrefix(text, "~LST") {
		r.warnings = append(r.warnings, Warning{Pos: pos, Keyword: text[:4],
			Message: "sequence and list blocks are not supported by the importer: the line is skipped; expand it by hand"})
		return nil
	}
	if len(r.defs) > 0 && strings.Contains(text, "$") {
		expanded, changed, err := r.expand(pos, text)
		if err != nil {
			return err
		}
		if changed {
			// Multi-line parameters naming multi-line parameters multiply
			// the lines: bound the work, not only the depth.
			r.expanded++
			if r.expanded > maxExpanded {
				return &ParseError{Pos: pos, Msg: fmt.Sprintf("parameters expand into more than %d lines", maxExpanded)}
			}
			if expansions >= maxExpansions {
				return &ParseError{Pos: pos, Msg: "parameters expand into parameters too deeply (a parameter defined by itself?)"}
			}
			for _, l := range strings.Split(expanded, "\n") {
				t, _, err := decomment(l)
				if err != nil {
					return &ParseError{Pos: pos, Msg: err.Error()}
				}
				if t == "" {
					continue
				}
				t, ok := r.conditional(pos, t)
				if !ok {
					continue
				}
				if err := r.process(pos, t, depth, expansions+1); err != nil {
					return err
				}
			}
			return nil
		}
	}
	if pattern, ok := includeTarget(text); ok {
		return r.include(pos, pattern, depth)
	}
	for text != "" {
		i := braceIndex(text)
		switch {
		case i < 0:
			r.lines = append(r.lines, line{pos, text})
			text = ""
		case i == 0:
			r.lines = append(r.lines, line{pos, text[:1]})
			text = strings.TrimLeft(text[1:], " \t")
		default:
			r.lines = append(r.lines, line{pos, strings.TrimRight(text[:i], " \t")})
			text = text[i:]
		}
	}
	return nil
}

func firstWord(s string) string {
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		return s[:i]
	}
	return s
}

// definition recognises "$NAME=value" (no space before the =).
func definition(text string) (name, value string, ok bool) {
	if !strings.HasPrefix(text, "$") {
		return "", "", false
	}
	n := paramName(text[1:])
	if n == "" || len(text) <= 1+len(n) || text[1+len(n)] != '=' {
		return "", "", false
	}
	return n, text[2+len(n):], true
}

func (r *reader) define(pos Pos, name, value string) {
	r.defs[name] = value
	r.warnOnce("definition", Warning{Pos: pos, Keyword: "$" + name, Note: true,
		Message: "keepalived parameters are expanded as keepalived does; check the translated values"})
}

// paramName is the parameter name at the start of s: letters, digits and
// '_', not starting with a digit.
func paramName(s string) string {
	i := 0
	for i < len(s) && (s[i] == '_' || s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z' || i > 0 && s[i] >= '0' && s[i] <= '9') {
		i++
	}
	return s[:i]
}

// expand replaces defined parameters: ${NAME} anywhere, $NAME when
// followed by whitespace or the end of the line. Replacement is
// recursive (a value may name parameters), as in keepalived.
func (r *reader) expand(pos Pos, text string) (string, bool, error) {
	changed := false
	for range maxExpansions {
		var b strings.Builder
		did := false
		for i := 0; i < len(text); i++ {
			if text[i] != '$' {
				b.WriteByte(text[i])
				continue
			}
			rest := text[i+1:]
			if strings.HasPrefix(rest, "{") {
				if end := strings.IndexByte(rest, '}'); end > 0 {
					if v, ok := r.defs[rest[1:end]]; ok {
						b.WriteString(v)
						i += 1 + end
						did = true
						continue
					}
				}
			} else if n := paramName(rest); n != "" {
				after := rest[len(n):]
				if v, ok := r.defs[n]; ok && (after == "" || after[0] == ' ' || after[0] == '\t') {
					b.WriteString(v)
					i += len(n)
					did = true
					continue
				}
			}
			b.WriteByte('$')
		}
		if !did {
			break
		}
		changed = true
		text = b.String()
		if len(text) > maxLineLen {
			return "", false, &ParseError{Pos: pos, Msg: fmt.Sprintf("parameters expand to more than %d bytes (a parameter that grows on every expansion?)", maxLineLen)}
		}
	}
	return text, changed, nil
}

// includeTarget recognises keepalived's include lines: "include PATTERN",
// and 2.x's includer/includem/includew/includeb/includea (which differ
// only in how strictly keepalived reports missing files).
func includeTarget(text string) (string, bool) {
	if !strings.HasPrefix(text, "include") || len(text) < 9 {
		return "", false
	}
	switch {
	case text[7] == ' ' || text[7] == '\t':
		return strings.TrimLeft(text[8:], " \t"), true
	case strings.IndexByte("rmwba", text[7]) >= 0 && (text[8] == ' ' || text[8] == '\t'):
		return strings.TrimLeft(text[9:], " \t"), true
	}
	return "", false
}

func (r *reader) include(pos Pos, pattern string, depth int) error {
	if depth >= maxIncludeDepth {
		return &ParseError{Pos: pos, Msg: fmt.Sprintf("includes nested more than %d deep (does a file include itself?)", maxIncludeDepth)}
	}
	// keepalived changes into the including file's directory, so a
	// relative pattern is relative to that file.
	if !filepath.IsAbs(pattern) {
		pattern = filepath.Join(filepath.Dir(pos.File), pattern)
	}
	var matches []string
	for _, p := range expandBraces(pattern) {
		m, err := r.files.Glob(p)
		if err != nil {
			r.warnings = append(r.warnings, Warning{Pos: pos, Keyword: "include", Message: fmt.Sprintf("bad pattern %q: %v", p, err)})
			return nil
		}
		matches = append(matches, m...)
	}
	if len(matches) == 0 {
		r.warnings = append(r.warnings, Warning{Pos: pos, Keyword: "include",
			Message: fmt.Sprintf("no file matches %q (keepalived skips it too); if that file holds settings, import on the machine that has it", pattern)})
		return nil
	}
	for _, m := range matches {
		if len(r.fileNames) >= maxFiles {
			return &ParseError{Pos: pos, Msg: fmt.Sprintf("more than %d files included (does a file include itself?)", maxFiles)}
		}
		data, err := r.files.ReadFile(m)
		if err != nil {
			r.warnings = append(r.warnings, Warning{Pos: pos, Keyword: "include", Message: fmt.Sprintf("skipped: %v", err)})
			continue
		}
		if err := r.readFile(m, data, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// expandBraces expands shell-style {a,b} alternatives (keepalived globs
// with GLOB_BRACE); filepath.Glob has no braces.
func expandBraces(pattern string) []string {
	open := strings.IndexByte(pattern, '{')
	if open < 0 {
		return []string{pattern}
	}
	depth := 0
	for i := open; i < len(pattern); i++ {
		switch pattern[i] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				var out []string
				start := open + 1
				d := 0
				var alts []string
				for j := open + 1; j < i; j++ {
					switch pattern[j] {
					case '{':
						d++
					case '}':
						d--
					case ',':
						if d == 0 {
							alts = append(alts, pattern[start:j])
							start = j + 1
						}
					}
				}
				alts = append(alts, pattern[start:i])
				for _, a := range alts {
					for _, rest := range expandBraces(pattern[i+1:]) {
						out = append(out, expandBraces(pattern[:open]+a+rest)...)
					}
				}
				if len(out) > 256 {
					out = out[:256]
				}
				return out
			}
		}
	}
	return []string{pattern} // unbalanced: glob it as it is
}

// decomment removes a comment (# or ! outside double quotes) and the
// surrounding white space, as keepalived 2.x does: \# and \! outside quotes
// are a literal # and !. cont reports a trailing backslash (it continues a
// multi-line parameter definition); the backslash stays in the text.
func decomment(s string) (text string, cont bool, err error) {
	s = strings.TrimSuffix(s, "\r")
	s = strings.TrimLeft(s, " \t")
	var b strings.Builder
	quote := false
loop:
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			quote = !quote
			b.WriteByte(c)
		case c == '\\':
			if i+1 == len(s) {
				cont = true
				break loop
			}
			if !quote && (s[i+1] == '#' || s[i+1] == '!') {
				b.WriteByte(s[i+1])
			} else {
				b.WriteByte(c)
				b.WriteByte(s[i+1])
			}
			i++
		case !quote && (c == '#' || c == '!'):
			break loop
		default:
			b.WriteByte(c)
		}
	}
	if quote {
		return "", false, fmt.Errorf("unterminated quote in %q", s)
	}
	text = strings.TrimRight(b.String(), " \t\r\v\f")
	if cont {
		text += `\`
	}
	return text, cont, nil
}

// braceIndex is the index of the first { or } outside double quotes, or -1.
func braceIndex(s string) int {
	if s[0] == '{' || s[0] == '}' {
		return 0
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{', '}':
			return i
		case '"':
			end := strings.IndexByte(s[i+1:], '"')
			if end < 0 {
				return -1
			}
			i += 1 + end
		}
	}
	return -1
}

// words splits a logical line as keepalived's main tokenizer does: at
// white space, with a word that starts with " running to the next ".
func words(s string) []string {
	var out []string
	i := 0
	for {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i >= len(s) {
			return out
		}
		if s[i] == '"' {
			end := strings.IndexByte(s[i+1:], '"')
			if end < 0 {
				out = append(out, s[i+1:])
				return out
			}
			out = append(out, s[i+1:i+1+end])
			i += end + 2
			continue
		}
		start := i
		for i < len(s) && !isSpace(s[i]) && s[i] != '"' {
			i++
		}
		out = append(out, s[start:i])
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// build turns the logical lines into statements with blocks.
func build(lines []line) ([]*Statement, error) {
	var top []*Statement
	type frame struct {
		list *[]*Statement
		open *Statement
	}
	stack := []frame{{list: &top}}
	var last *Statement // the statement a following { opens a block for
	for _, l := range lines {
		switch l.text {
		case "{":
			if last == nil {
				return nil, &ParseError{Pos: l.pos, Msg: "'{' with no keyword before it"}
			}
			last.HasBlock = true
			stack = append(stack, frame{list: &last.Block, open: last})
			last = nil
		case "}":
			if len(stack) == 1 {
				return nil, &ParseError{Pos: l.pos, Msg: "'}' closes no block (one '}' too many?)"}
			}
			stack = stack[:len(stack)-1]
			last = nil
		default:
			s := &Statement{Pos: l.pos, Words: words(l.text), Text: l.text}
			if len(s.Words) == 0 {
				continue
			}
			f := stack[len(stack)-1]
			*f.list = append(*f.list, s)
			last = s
		}
	}
	if len(stack) > 1 {
		open := stack[len(stack)-1].open
		return nil, &ParseError{Pos: open.Pos, Msg: fmt.Sprintf("the block of %q is never closed (a '}' is missing)", strings.Join(open.Words, " "))}
	}
	return top, nil
}

// Command splits a script or notify statement the way keepalived 2.x runs
// it: the statement is read again with ' and " quotes and backslash
// escapes, its first argument is the command line, and that is split again
// into the program and its arguments. extra holds the words after the
// command (keepalived reads them as the user and group to run it as).
func (s *Statement) Command() (line string, argv, extra []string) {
	w := splitQuoted(s.Text)
	if len(w) < 2 {
		return "", nil, nil
	}
	return w[1], splitQuoted(w[1]), w[2:]
}

// splitQuoted splits s into words like a simple shell: white space
// separates words, ' and " quote (and are removed), and a backslash escapes
// the next character, inside quotes too (\n, \t and friends as in C).
func splitQuoted(s string) []string {
	var out []string
	var b strings.Builder
	inWord := false
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(unescape(s[i]))
			inWord = true
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				b.WriteByte(c)
			}
		case c == '"' || c == '\'':
			quote = c
			inWord = true
		case isSpace(c):
			if inWord {
				out = append(out, b.String())
				b.Reset()
				inWord = false
			}
		default:
			b.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		out = append(out, b.String())
	}
	return out
}

func unescape(c byte) byte {
	switch c {
	case 'a':
		return '\a'
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 'v':
		return '\v'
	case 'E':
		return 0x1b
	}
	return c
}
