package config

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// maxConfigBytes bounds how much of a config file is read; real zoo.cfg
// files are a few KB, and a bound keeps a wrong path (a device, a huge
// file) from exhausting memory.
const maxConfigBytes = 4 << 20

// property is one key/value pair as java.util.Properties.load yields it,
// then trimmed as ZooKeeper trims both (String.trim).
type property struct {
	Key, Value string
	Line       int    // 1-based line where the logical line starts
	Origin     string // the environment variable it came from; "" for a file
}

// readProperties reads Java properties syntax: `key=value`, `key: value`
// or `key value`; `#` and `!` comment lines; backslash line continuation;
// the escapes \t \n \r \f \uXXXX, and `\x` meaning `x`. Bytes are kept as
// they are (UTF-8 in practice) rather than decoded as ISO-8859-1 as Java
// does, so non-ASCII paths survive. Later duplicates are returned too;
// callers decide (Java keeps the last).
func readProperties(r io.Reader) ([]property, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxConfigBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxConfigBytes {
		return nil, fmt.Errorf("file larger than %d bytes", maxConfigBytes)
	}
	var (
		props     []property
		logical   strings.Builder
		start     int
		continued bool
	)
	flush := func() error {
		line := logical.String()
		logical.Reset()
		p, err := splitProperty(line)
		if err != nil {
			return fmt.Errorf("line %d: %v", start, err)
		}
		p.Line = start
		props = append(props, p)
		return nil
	}
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	sc.Buffer(make([]byte, 0, 64*1024), maxConfigBytes+1)
	sc.Split(scanNaturalLines)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimLeft(sc.Text(), " \t\f")
		if !continued {
			if line == "" || line[0] == '#' || line[0] == '!' {
				// Comment lines never continue, even when they end in '\'.
				continue
			}
			start = lineNo
		}
		if trailingBackslashes(line)%2 == 1 {
			logical.WriteString(line[:len(line)-1])
			continued = true
			continue
		}
		logical.WriteString(line)
		continued = false
		if err := flush(); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if continued {
		if err := flush(); err != nil {
			return nil, err
		}
	}
	return props, nil
}

// scanNaturalLines splits on "\n", "\r\n" or a lone "\r", as Java's
// properties LineReader does.
func scanNaturalLines(data []byte, atEOF bool) (advance int, token []byte, err error) {
	for i, b := range data {
		switch b {
		case '\n':
			return i + 1, data[:i], nil
		case '\r':
			if i+1 < len(data) {
				if data[i+1] == '\n' {
					return i + 2, data[:i], nil
				}
				return i + 1, data[:i], nil
			}
			if atEOF {
				return i + 1, data[:i], nil
			}
			return 0, nil, nil // need one more byte to see if "\n" follows
		}
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

func trailingBackslashes(s string) int {
	n := 0
	for i := len(s) - 1; i >= 0 && s[i] == '\\'; i-- {
		n++
	}
	return n
}

// splitProperty splits one logical line (leading whitespace already
// removed) into its key and value.
func splitProperty(line string) (property, error) {
	keyEnd, valueStart := len(line), len(line)
	hasSep := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c == '\\' {
			i++ // the escaped character belongs to the key
			continue
		}
		if c == '=' || c == ':' {
			keyEnd, valueStart, hasSep = i, i+1, true
			break
		}
		if c == ' ' || c == '\t' || c == '\f' {
			keyEnd, valueStart = i, i+1
			break
		}
	}
	for valueStart < len(line) {
		c := line[valueStart]
		if c == ' ' || c == '\t' || c == '\f' {
			valueStart++
			continue
		}
		if !hasSep && (c == '=' || c == ':') {
			hasSep = true
			valueStart++
			continue
		}
		break
	}
	key, err := unescape(line[:keyEnd])
	if err != nil {
		return property{}, err
	}
	value, err := unescape(line[valueStart:])
	if err != nil {
		return property{}, err
	}
	return property{Key: javaTrim(key), Value: javaTrim(value)}, nil
}

// unescape resolves Java properties escapes. A malformed \uXXXX is an
// error, as it is for Java (IllegalArgumentException).
func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(s) {
			break // a lone trailing backslash is dropped
		}
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			r, err := hex4(s, i+1)
			if err != nil {
				return "", err
			}
			i += 4
			if utf16.IsSurrogate(rune(r)) {
				// Java strings are UTF-16: a pair of \u escapes may
				// spell one character.
				if i+6 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
					if low, err := hex4(s, i+3); err == nil {
						if pair := utf16.DecodeRune(rune(r), rune(low)); pair != utf8.RuneError {
							b.WriteRune(pair)
							i += 6
							continue
						}
					}
				}
				b.WriteRune(utf8.RuneError)
				continue
			}
			b.WriteRune(rune(r))
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), nil
}

func hex4(s string, at int) (uint16, error) {
	if at+4 > len(s) {
		return 0, fmt.Errorf("malformed \\uxxxx encoding")
	}
	var v uint16
	for _, c := range []byte(s[at : at+4]) {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, fmt.Errorf("malformed \\uxxxx encoding")
		}
		v = v<<4 | uint16(d)
	}
	return v, nil
}

// javaTrim is String.trim: it strips every byte <= ' ' at both ends.
func javaTrim(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
}

// escapeValue writes s so that readProperties gives it back unchanged
// (used for the embedded default text).
func escapeValue(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\f':
			b.WriteString(`\f`)
		case ' ':
			if i == 0 {
				b.WriteString(`\ `)
			} else {
				b.WriteRune(r)
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
