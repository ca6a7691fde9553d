package admin

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// object is a JSON object whose keys keep their order, as the
// LinkedHashMaps of ZooKeeper's CommandResponse do.
type object []field

type field struct {
	Key   string
	Value any
}

func (o *object) put(key string, value any) {
	for i := range *o {
		if (*o)[i].Key == key {
			(*o)[i].Value = value
			return
		}
	}
	*o = append(*o, field{key, value})
}

// writeJSON renders v the way ZooKeeper's JsonOutputter (Jackson with
// INDENT_OUTPUT) does: two-space indents, "key" : value, arrays on one
// line, empty containers as "{ }" and "[ ]", doubles as Java prints them.
func writeJSON(out *bytes.Buffer, v any, depth int) {
	switch x := v.(type) {
	case nil:
		out.WriteString("null")
	case object:
		if len(x) == 0 {
			out.WriteString("{ }")
			return
		}
		out.WriteString("{\n")
		for i, f := range x {
			out.WriteString(strings.Repeat("  ", depth+1))
			writeString(out, f.Key)
			out.WriteString(" : ")
			writeJSON(out, f.Value, depth+1)
			if i < len(x)-1 {
				out.WriteByte(',')
			}
			out.WriteByte('\n')
		}
		out.WriteString(strings.Repeat("  ", depth))
		out.WriteByte('}')
	case []any:
		if len(x) == 0 {
			out.WriteString("[ ]")
			return
		}
		out.WriteString("[ ")
		for i, e := range x {
			if i > 0 {
				out.WriteString(", ")
			}
			writeJSON(out, e, depth)
		}
		out.WriteString(" ]")
	case string:
		writeString(out, x)
	case bool:
		out.WriteString(strconv.FormatBool(x))
	case int:
		out.WriteString(strconv.Itoa(x))
	case int32:
		out.WriteString(strconv.FormatInt(int64(x), 10))
	case int64:
		out.WriteString(strconv.FormatInt(x, 10))
	case uint64:
		out.WriteString(strconv.FormatUint(x, 10))
	case float64:
		out.WriteString(javaDoubleJSON(x))
	default:
		b, _ := json.Marshal(x)
		out.Write(b)
	}
}

func writeString(out *bytes.Buffer, s string) {
	b, _ := json.Marshal(s)
	// encoding/json escapes <, > and & for HTML; Jackson does not.
	b = bytes.ReplaceAll(b, []byte(`\u003c`), []byte("<"))
	b = bytes.ReplaceAll(b, []byte(`\u003e`), []byte(">"))
	b = bytes.ReplaceAll(b, []byte(`\u0026`), []byte("&"))
	out.Write(b)
}

// javaDoubleJSON prints a double as Jackson does: a whole number keeps
// ".0"; NaN, which JSON cannot carry, becomes Jackson's "NaN" string.
func javaDoubleJSON(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.Quote(strconv.FormatFloat(v, 'g', -1, 64))
	}
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// strings64 and ints64 turn slices into JSON arrays.
func stringsArray(v []string) []any {
	out := make([]any, len(v))
	for i, s := range v {
		out[i] = s
	}
	return out
}

func intsArray(v []int64) []any {
	out := make([]any, len(v))
	for i, n := range v {
		out[i] = n
	}
	return out
}
