package sim

import (
	"fmt"
	"strings"

	"github.com/anishathalye/porcupine"
)

// Input and Output are a client op and its reply as the linearizability
// checker sees them.
type Input struct {
	Read   bool
	Key    int
	Expect int32 // write: the version required, -1 for any
	Value  string
}

type Output struct {
	// Unknown: no reply came; the write may or may not have happened.
	Unknown bool
	OK      bool // write: the version matched and the value was set
	Value   string
	Version int32
}

// Model is a register per key with ZooKeeper's data versions: a write
// whose expected version matches (or is -1) sets the value and bumps the
// version, any other fails with BadVersion and changes nothing; a read
// returns the value and version.
var Model = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[int][]porcupine.Operation{}
		var order []int
		for _, o := range h {
			k := o.Input.(Input).Key
			if _, ok := byKey[k]; !ok {
				order = append(order, k)
			}
			byKey[k] = append(byKey[k], o)
		}
		var out [][]porcupine.Operation
		for _, k := range order {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return kvState{} },
	Step: func(state, input, output any) (bool, any) {
		st, in, out := state.(kvState), input.(Input), output.(Output)
		if in.Read {
			return out.Value == st.Value && out.Version == st.Version, st
		}
		match := in.Expect == -1 || in.Expect == st.Version
		next := kvState{in.Value, st.Version + 1}
		switch {
		case out.Unknown && match:
			return true, next
		case out.Unknown:
			return true, st
		case out.OK:
			return match && out.Version == next.Version, next
		default:
			return !match, st
		}
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(Input), output.(Output)
		switch {
		case in.Read:
			return fmt.Sprintf("get k%d -> %q v%d", in.Key, out.Value, out.Version)
		case out.Unknown:
			return fmt.Sprintf("set k%d=%q if v%d -> ?", in.Key, in.Value, in.Expect)
		case out.OK:
			return fmt.Sprintf("set k%d=%q if v%d -> v%d", in.Key, in.Value, in.Expect, out.Version)
		}
		return fmt.Sprintf("set k%d=%q if v%d -> BadVersion", in.Key, in.Value, in.Expect)
	},
}

type kvState struct {
	Value   string
	Version int32
}

// CheckLinearizable checks a history against Model; on failure it names
// each key whose ops cannot be ordered and the last op of the longest
// order found for it.
func CheckLinearizable(ops []porcupine.Operation) (bool, string) {
	if porcupine.CheckOperations(Model, ops) {
		return true, ""
	}
	var why []string
	for _, part := range Model.Partition(ops) {
		res, info := porcupine.CheckOperationsVerbose(Model, part, 0)
		if res == porcupine.Ok {
			continue
		}
		longest := []porcupine.Operation{}
		for _, p := range info.PartialLinearizationsOperations() {
			for _, l := range p {
				if len(l) > len(longest) {
					longest = l
				}
			}
		}
		msg := fmt.Sprintf("key %d (%d ops)", part[0].Input.(Input).Key, len(part))
		if n := len(longest); n > 0 {
			last := longest[n-1]
			msg += fmt.Sprintf(": no order of its ops goes past %d of them, the last %s", n, Model.DescribeOperation(last.Input, last.Output))
		}
		why = append(why, msg)
	}
	return false, strings.Join(why, "; ")
}

// porcupineHistory turns the clients' ops into porcupine's: refused ops
// and unanswered reads (no effect either way) are left out; unanswered
// writes stay open to the end.
func (s *sim) porcupineHistory() (ops []porcupine.Operation, open int) {
	end := int64(s.events) + 1
	for _, o := range s.history {
		if o.refused || (!o.done && o.kind == opRead) {
			continue
		}
		in := Input{Read: o.kind == opRead, Key: o.key, Expect: o.expect, Value: o.value}
		out := Output{OK: o.res.ok, Value: o.res.value, Version: o.res.version}
		ret := o.ret
		if !o.done {
			out = Output{Unknown: true}
			ret = end + int64(open)
			open++
		}
		ops = append(ops, porcupine.Operation{ClientId: o.client, Input: in, Call: o.call, Output: out, Return: ret})
	}
	return ops, open
}
