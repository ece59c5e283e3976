package sessionjson

import (
	"context"
	"encoding/json"
	"fmt"
	"unsafe"
)

// scanner validates JSON (RFC 8259, as JSON.parse accepts it) and finds the
// end of values without building anything. Recursion is bounded by maxDepth.
// With a ctx, it gives up when ctx is done, looking at it every pollEvery
// bytes of input.
type scanner struct {
	data     []byte
	maxDepth int
	ctx      context.Context // nil: never gives up
	next     int             // offset at which to look at ctx again
}

// pollEvery is how much input a scanner reads between two looks at its
// context: a few tens of microseconds of work.
const pollEvery = 64 << 10

// poll returns ctx's error, wrapped, when ctx is done; the scanner looks at
// ctx only once it has passed offset next.
func (s *scanner) poll(i int) error {
	if i < s.next || s.ctx == nil {
		return nil
	}
	return s.pollCtx(i)
}

func (s *scanner) pollCtx(i int) error {
	s.next = i + pollEvery
	if err := s.ctx.Err(); err != nil {
		return fmt.Errorf("sessionjson: decode abandoned: %w", err)
	}
	return nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (s *scanner) skipSpace(i int) int {
	for i < len(s.data) && isSpace(s.data[i]) {
		i++
	}
	return i
}

func (s *scanner) errAt(i int, what string) error {
	return fmt.Errorf("%w: %s at offset %d", ErrInvalidJSON, what, i)
}

// value validates the value starting at i (no leading space) and returns the
// offset just after it. depth is the depth of the containing value.
func (s *scanner) value(i, depth int) (int, error) {
	if i >= len(s.data) {
		return i, s.errAt(i, "unexpected end")
	}
	switch c := s.data[i]; {
	case c == '{':
		return s.object(i, depth+1)
	case c == '[':
		return s.array(i, depth+1)
	case c == '"':
		end, _, err := s.str(i)
		return end, err
	case c == '-' || ('0' <= c && c <= '9'):
		return s.number(i)
	case c == 't':
		return s.literal(i, "true")
	case c == 'f':
		return s.literal(i, "false")
	case c == 'n':
		return s.literal(i, "null")
	}
	return i, s.errAt(i, "unexpected character")
}

func (s *scanner) literal(i int, lit string) (int, error) {
	if len(s.data)-i < len(lit) || string(s.data[i:i+len(lit)]) != lit {
		return i, s.errAt(i, "invalid literal")
	}
	return i + len(lit), nil
}

func (s *scanner) object(i, depth int) (int, error) {
	if depth > s.maxDepth {
		return i, fmt.Errorf("%w: more than %d levels", ErrTooDeep, s.maxDepth)
	}
	i = s.skipSpace(i + 1)
	if i < len(s.data) && s.data[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(s.data) || s.data[i] != '"' {
			return i, s.errAt(i, "expected a key")
		}
		end, _, err := s.str(i)
		if err != nil {
			return end, err
		}
		i = s.skipSpace(end)
		if i >= len(s.data) || s.data[i] != ':' {
			return i, s.errAt(i, "expected ':'")
		}
		i = s.skipSpace(i + 1)
		if i, err = s.value(i, depth); err != nil {
			return i, err
		}
		if err = s.poll(i); err != nil {
			return i, err
		}
		i = s.skipSpace(i)
		if i >= len(s.data) {
			return i, s.errAt(i, "unexpected end")
		}
		switch s.data[i] {
		case ',':
			i = s.skipSpace(i + 1)
		case '}':
			return i + 1, nil
		default:
			return i, s.errAt(i, "expected ',' or '}'")
		}
	}
}

func (s *scanner) array(i, depth int) (int, error) {
	if depth > s.maxDepth {
		return i, fmt.Errorf("%w: more than %d levels", ErrTooDeep, s.maxDepth)
	}
	i = s.skipSpace(i + 1)
	if i < len(s.data) && s.data[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		if i, err = s.value(i, depth); err != nil {
			return i, err
		}
		if err = s.poll(i); err != nil {
			return i, err
		}
		i = s.skipSpace(i)
		if i >= len(s.data) {
			return i, s.errAt(i, "unexpected end")
		}
		switch s.data[i] {
		case ',':
			i = s.skipSpace(i + 1)
		case ']':
			return i + 1, nil
		default:
			return i, s.errAt(i, "expected ',' or ']'")
		}
	}
}

// str validates the string starting at the quote at i and returns the offset
// after the closing quote and whether it holds escapes.
func (s *scanner) str(i int) (int, bool, error) {
	escaped := false
	for j := i + 1; j < len(s.data); {
		c := s.data[j]
		switch {
		case c == '"':
			return j + 1, escaped, nil
		case c == '\\':
			escaped = true
			if j+1 >= len(s.data) {
				return j, false, s.errAt(j, "unexpected end in escape")
			}
			switch s.data[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if j+6 > len(s.data) {
					return j, false, s.errAt(j, "short \\u escape")
				}
				for k := j + 2; k < j+6; k++ {
					if _, ok := hexVal(s.data[k]); !ok {
						return j, false, s.errAt(k, "invalid \\u escape")
					}
				}
				j += 6
			default:
				return j, false, s.errAt(j, "invalid escape")
			}
		case c < 0x20:
			return j, false, s.errAt(j, "control character in string")
		default:
			j++
		}
	}
	return len(s.data), false, s.errAt(len(s.data), "unterminated string")
}

func (s *scanner) number(i int) (int, error) {
	d, j := s.data, i
	if j < len(d) && d[j] == '-' {
		j++
	}
	switch {
	case j < len(d) && d[j] == '0':
		j++
	case j < len(d) && '1' <= d[j] && d[j] <= '9':
		for j < len(d) && '0' <= d[j] && d[j] <= '9' {
			j++
		}
	default:
		return j, s.errAt(j, "invalid number")
	}
	if j < len(d) && d[j] == '.' {
		j++
		k := j
		for j < len(d) && '0' <= d[j] && d[j] <= '9' {
			j++
		}
		if j == k {
			return j, s.errAt(j, "invalid number")
		}
	}
	if j < len(d) && (d[j] == 'e' || d[j] == 'E') {
		j++
		if j < len(d) && (d[j] == '+' || d[j] == '-') {
			j++
		}
		k := j
		for j < len(d) && '0' <= d[j] && d[j] <= '9' {
			j++
		}
		if j == k {
			return j, s.errAt(j, "invalid number")
		}
	}
	return j, nil
}

func hexVal(c byte) (rune, bool) {
	switch {
	case '0' <= c && c <= '9':
		return rune(c - '0'), true
	case 'a' <= c && c <= 'f':
		return rune(c - 'a' + 10), true
	case 'A' <= c && c <= 'F':
		return rune(c - 'A' + 10), true
	}
	return 0, false
}

// unquote returns the string value of a validated JSON string token
// (quotes included). Strings without escapes are returned without decoding.
func unquote(tok []byte, escaped bool) string {
	if !escaped {
		// Share the decoded record's memory: it is never modified.
		if len(tok) == 2 {
			return ""
		}
		return unsafe.String(&tok[1], len(tok)-2)
	}
	var s string
	if err := json.Unmarshal(tok, &s); err != nil {
		// Unreachable for scanner-validated input.
		return string(tok[1 : len(tok)-1])
	}
	return s
}
