package config

import (
	"fmt"
	"unicode/utf8"

	"github.com/goccy/go-yaml/token"
)

// Limits on the shape of a file, checked before the YAML library sees it.
// A build file comes from a commit, perhaps a fork's pull request, and
// goccy/go-yaml's parser costs memory quadratic in the nesting depth
// (10,000 levels of "[" take 190 MB, 100 KB of them more than the machine
// has), so the raw bytes are scanned first, in one pass and without
// allocating anything that grows with the input.
const (
	// MaxNesting bounds nested collections (block or flow). Real files are
	// under ten levels deep; 64 levels cost the parser nothing measurable.
	MaxNesting = 64
	// MaxValues bounds the scalars, collections and aliases of a file. The
	// largest plausible server file (hundreds of pipelines, a fleet of a
	// thousand targets) has some tens of thousands; a build file has
	// hundreds. 100,000 values cost the parser about 0.2 s and 200 MB of
	// allocations, the most a file may make the server spend.
	MaxValues = 100_000
	// MaxAnchors and MaxAliases bound anchors (&name) and aliases (*name).
	// The decoder's budget already stops aliases from multiplying work (the
	// "billion laughs"); these refuse such files early and say why.
	MaxAnchors = 1_000
	MaxAliases = 10_000
)

var tooDeep = fmt.Sprintf("too deeply nested: more than %d levels of collections", MaxNesting)

// shapeScan walks a file's bytes the way a YAML scanner would, just closely
// enough to count: nesting (block indentation, "- " entries, "[" and "{"),
// values, anchors and aliases. Quoted scalars, comments, block scalars (| and
// >) and the continuation lines of plain scalars are skipped as text, so
// brackets inside them count for nothing. Where it cannot tell, it counts:
// a file it misjudges is refused, never parsed too deep.
type shapeScan struct {
	data      []byte
	i         int // offset of the next byte
	line      int // 1-based line of data[i]
	lineStart int // offset where that line starts

	flow  int   // open "[" and "{"
	block []int // columns of open block collections, ascending; never longer than MaxNesting+1

	values, anchors, aliases int

	keyCol  int // the previous line ended with "key:" whose key starts here; -1 otherwise
	plainIn int // the previous line ended inside a plain scalar owned by this column; -2 otherwise

	errAt  pos
	errMsg string
}

// checkShape reports the first limit the file exceeds, at the place where it
// does; ok is true when the file is within every limit.
func checkShape(data []byte) (at pos, msg string, ok bool) {
	s := &shapeScan{data: data, line: 1, keyCol: -1, plainIn: -2}
	for s.i < len(s.data) && s.errMsg == "" {
		s.blockLine()
	}
	if s.errMsg != "" {
		return s.errAt, s.errMsg, false
	}
	return pos{}, "", true
}

// fail records the first exceeded limit at offset off.
func (s *shapeScan) fail(off int, format string, args ...any) {
	if s.errMsg != "" {
		return
	}
	// Columns count characters, as the parser's do.
	s.errAt = pos{s.line, utf8.RuneCount(s.data[s.lineStart:off]) + 1}
	s.errMsg = fmt.Sprintf(format, args...)
}

func (s *shapeScan) depth() int { return len(s.block) + s.flow }

func (s *shapeScan) nest(off int) {
	if s.depth() > MaxNesting {
		s.fail(off, "%s", tooDeep)
	}
}

func (s *shapeScan) value(off int) {
	if s.values++; s.values > MaxValues {
		s.fail(off, "too many values: more than %d", MaxValues)
	}
}

func (s *shapeScan) push(col, off int) {
	s.block = append(s.block, col)
	s.nest(off)
}

// at returns the byte at offset i, or 0 past the end.
func (s *shapeScan) at(i int) byte {
	if i < len(s.data) {
		return s.data[i]
	}
	return 0
}

func blank(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == 0 }

func flowIndicator(c byte) bool { return c == ',' || c == '[' || c == ']' || c == '{' || c == '}' }

// newline moves past the line feed at s.i.
func (s *shapeScan) newline() {
	s.i++
	s.line++
	s.lineStart = s.i
}

// skipLine moves to the start of the next line.
func (s *shapeScan) skipLine() {
	for s.i < len(s.data) && s.data[s.i] != '\n' {
		s.i++
	}
	if s.i < len(s.data) {
		s.newline()
	}
}

// blockLine reads one line outside flow collections, starting at its first byte.
func (s *shapeScan) blockLine() {
	start := s.i
	for s.at(s.i) == ' ' {
		s.i++
	}
	indent := s.i - start
	for s.at(s.i) == ' ' || s.at(s.i) == '\t' || s.at(s.i) == '\r' {
		s.i++
	}
	c := s.at(s.i)
	if s.i >= len(s.data) || c == '\n' || c == '#' { // blank or only a comment
		s.skipLine()
		return
	}
	keyCol, plainIn := s.keyCol, s.plainIn
	s.keyCol, s.plainIn = -1, -2
	if indent == 0 && s.i == start {
		if rest := s.data[s.i:]; len(rest) >= 3 && (string(rest[:3]) == "---" || string(rest[:3]) == "...") && blank(s.at(s.i+3)) {
			s.block = s.block[:0] // a new document
			s.i += 3
			s.content(-1, -1)
			return
		}
		if c == '%' { // a directive
			s.skipLine()
			return
		}
	}
	if plainIn > -2 && indent > plainIn {
		// More of a multi-line plain scalar: "run: make\n  [all]" is the
		// text "make [all]".
		s.plain(false)
		s.plainIn = plainIn
		s.skipLine()
		return
	}
	for len(s.block) > 0 && s.block[len(s.block)-1] > indent {
		s.block = s.block[:len(s.block)-1]
	}
	entry := c == '-' && blank(s.at(s.i+1))
	n := len(s.block)
	switch {
	case (n == 0 || s.block[n-1] < indent) && (c == '[' || c == '{'):
		// A flow collection; a block mapping only if a ": " follows it.
		s.content(indent, indent)
		return
	case n == 0 || s.block[n-1] < indent:
		s.push(indent, s.i)
	case entry && keyCol == indent:
		// "key:" then "- item" at the key's own column: a sequence
		// inside the mapping, at the same indentation.
		s.push(indent, s.i)
	case !entry && n >= 2 && s.block[n-2] == indent:
		s.block = s.block[:n-1] // that sequence ended; back in the mapping
	}
	s.content(indent, -1)
}

// content reads the rest of a line from a position where a node may start;
// entry is the column of the collection entry it is in (the indentation a
// block scalar's text must exceed). A mapping key found on the line opens a
// block mapping at column mapAt, unless it is -1.
func (s *shapeScan) content(entry, mapAt int) {
	nodeStart := true
	keyPending := false // the line so far ends with "key:"
	plainOwner := -2    // the line so far ends inside a plain scalar owned by this column
	for s.i < len(s.data) && s.data[s.i] != '\n' && s.errMsg == "" {
		c := s.data[s.i]
		col := s.i - s.lineStart
		if c == ' ' || c == '\t' || c == '\r' {
			s.i++
			continue
		}
		if c == '#' && (s.i == s.lineStart || s.data[s.i-1] == ' ' || s.data[s.i-1] == '\t') {
			break // a comment ends the line, and any plain scalar
		}
		if !nodeStart {
			// In or after a node; only a mapping's ": " matters.
			if c == ':' && blank(s.at(s.i+1)) {
				nodeStart, keyPending, plainOwner = true, true, -2
				if mapAt >= 0 {
					s.push(mapAt, s.i)
					mapAt = -1
				}
			}
			s.i++
			continue
		}
		keyPending = false
		switch {
		case (c == '-' || c == '?' || c == ':') && blank(s.at(s.i+1)):
			off := s.i
			entry = col
			s.i++
			for s.at(s.i) == ' ' || s.at(s.i) == '\t' {
				s.i++
			}
			if d := s.at(s.i); s.i < len(s.data) && d != '\n' && d != '\r' && d != '#' {
				s.push(s.i-s.lineStart, s.i) // "- - x", "- key: v": a node on the same line
			} else {
				s.value(off) // null, or a node on the lines below
			}
			continue
		case c == '[' || c == '{':
			s.flowNode()
			entry = col
		case c == '\'' || c == '"':
			s.value(s.i)
			s.quoted(c)
			entry = col
		case c == '&':
			if s.anchors++; s.anchors > MaxAnchors {
				s.fail(s.i, "too many anchors: more than %d", MaxAnchors)
			}
			s.word(false)
			continue
		case c == '!':
			s.word(false)
			continue
		case c == '*':
			if s.aliases++; s.aliases > MaxAliases {
				s.fail(s.i, "too many aliases: more than %d", MaxAliases)
			}
			s.value(s.i)
			s.word(false)
		case c == '|' || c == '>':
			s.value(s.i)
			s.blockScalar(entry)
			return
		default:
			s.value(s.i)
			plainOwner, entry = entry, col
			s.i++
		}
		nodeStart = false
	}
	if keyPending {
		s.keyCol = entry
	} else if !nodeStart && plainOwner > -2 && (s.i >= len(s.data) || s.data[s.i] == '\n') {
		s.plainIn = plainOwner
	}
	s.skipLine()
}

// word skips an anchor, alias or tag name.
func (s *shapeScan) word(inFlow bool) {
	for s.i < len(s.data) && !blank(s.data[s.i]) && !(inFlow && flowIndicator(s.data[s.i])) {
		s.i++
	}
}

// plain skips a plain scalar up to a comment, a ": " or the end of the
// line; in a flow collection also up to a flow indicator.
func (s *shapeScan) plain(inFlow bool) {
	for s.i < len(s.data) {
		c := s.data[s.i]
		switch {
		case c == '\n':
			return
		case c == '#' && s.i > 0 && (s.data[s.i-1] == ' ' || s.data[s.i-1] == '\t'):
			return
		case c == ':' && (blank(s.at(s.i+1)) || inFlow && flowIndicator(s.at(s.i+1))):
			return
		case inFlow && flowIndicator(c):
			return
		}
		s.i++
	}
}

// quoted skips a quoted scalar, which may span lines; s.i is at its opening quote.
func (s *shapeScan) quoted(q byte) {
	s.i++
	for s.i < len(s.data) {
		c := s.data[s.i]
		switch {
		case c == '\n':
			s.newline()
			continue
		case q == '"' && c == '\\':
			s.i++
			if s.at(s.i) == '\n' {
				s.newline()
				continue
			}
		case c == q && q == '\'' && s.at(s.i+1) == '\'':
			s.i++ // '' is a quote inside single quotes
		case c == q:
			s.i++
			return
		}
		s.i++
	}
}

// blockScalar skips a literal or folded scalar: the rest of its header line,
// then every line that is blank or indented past the column entry.
func (s *shapeScan) blockScalar(entry int) {
	s.skipLine()
	for s.i < len(s.data) {
		j := s.i
		for s.at(j) == ' ' {
			j++
		}
		if c := s.at(j); j-s.i <= entry && c != '\n' && c != '\r' && j < len(s.data) {
			return
		}
		s.skipLine()
	}
}

// flowNode reads a flow collection, which may span lines; s.i is at its
// opening bracket. Inside one, a plain scalar cannot hold "[" or "{", so each
// one outside quotes and comments opens a collection.
func (s *shapeScan) flowNode() {
	nodeStart := true
	for s.i < len(s.data) && s.errMsg == "" {
		c := s.data[s.i]
		switch {
		case c == '\n':
			s.newline()
			continue
		case c == ' ' || c == '\t' || c == '\r':
		case c == '#' && (s.i == s.lineStart || s.data[s.i-1] == ' ' || s.data[s.i-1] == '\t'):
			s.skipLine()
			continue
		case c == '[' || c == '{':
			s.value(s.i)
			s.flow++
			s.nest(s.i)
			nodeStart = true
		case c == ']' || c == '}':
			s.flow--
			nodeStart = false
			if s.flow == 0 {
				s.i++
				return
			}
		case c == ',':
			nodeStart = true
		case c == ':' && (blank(s.at(s.i+1)) || flowIndicator(s.at(s.i+1)) || !nodeStart):
			nodeStart = true
		case !nodeStart:
			// the rest of a plain scalar, or junk the parser will refuse
		case c == '?' && blank(s.at(s.i+1)):
		case c == '\'' || c == '"':
			s.value(s.i)
			s.quoted(c)
			nodeStart = false
			continue
		case c == '&':
			if s.anchors++; s.anchors > MaxAnchors {
				s.fail(s.i, "too many anchors: more than %d", MaxAnchors)
			}
			s.word(true)
			continue
		case c == '!':
			s.word(true)
			continue
		case c == '*':
			if s.aliases++; s.aliases > MaxAliases {
				s.fail(s.i, "too many aliases: more than %d", MaxAliases)
			}
			s.value(s.i)
			s.word(true)
			nodeStart = false
			continue
		default:
			s.value(s.i)
			s.plain(true)
			nodeStart = false
			continue
		}
		s.i++
	}
}

// tokenDepth is the deepest nesting of collections in the tokens the parser
// would build from, and the token where it is first exceeded; a second,
// exact look after checkShape's estimate, before the parser's quadratic cost.
func tokenDepth(tokens token.Tokens) (*token.Token, bool) {
	flow := 0
	var block []int
	for i, tk := range tokens {
		switch tk.Type {
		case token.SequenceStartType, token.MappingStartType:
			flow++
		case token.SequenceEndType, token.MappingEndType:
			flow = max(flow-1, 0)
		case token.DocumentHeaderType:
			block, flow = block[:0], 0
		case token.SequenceEntryType, token.MappingValueType, token.MappingKeyType:
			if flow > 0 || tk.Position == nil {
				break
			}
			col := tk.Position.Column
			if tk.Type == token.MappingValueType && i > 0 && tokens[i-1].Position != nil {
				col = tokens[i-1].Position.Column // the key's column
			}
			for len(block) > 0 && block[len(block)-1] > col {
				block = block[:len(block)-1]
			}
			if len(block) == 0 || block[len(block)-1] < col {
				block = append(block, col)
			}
		}
		if flow+len(block) > MaxNesting {
			return tk, false
		}
	}
	return nil, true
}
