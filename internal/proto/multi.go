package proto

import (
	"errors"
	"fmt"

	"github.com/zkd/zkd/internal/jute"
)

// ErrBadMultiOp means a multi envelope holds an op type that multi does not allow.
var ErrBadMultiOp = errors.New("proto: op type not allowed in multi")

// MultiHeader precedes each op and result of multi and multiRead.
type MultiHeader struct {
	Type OpCode
	Done bool
	Err  Code
}

// Encode writes the record.
func (r *MultiHeader) Encode(e *jute.Encoder) {
	e.Int(int32(r.Type))
	e.Bool(r.Done)
	e.Int(int32(r.Err))
}

// Decode reads the record.
func (r *MultiHeader) Decode(d *jute.Decoder) {
	r.Type = OpCode(d.Int())
	r.Done = d.Bool()
	r.Err = Code(d.Int())
}

// MultiOp is one operation of a multi or multiRead request. Exactly one of the
// body pointers matching Type is set.
type MultiOp struct {
	Type      OpCode
	Create    *CreateRequest      // create, create2, createContainer
	CreateTTL *CreateTTLRequest   // createTTL
	Version   *PathVersionRequest // delete, check
	SetData   *SetDataRequest     // setData
	Read      *PathWatchRequest   // multiRead: getChildren, getData
}

// Path is the op's path.
func (o *MultiOp) Path() string {
	switch {
	case o.Create != nil:
		return o.Create.Path
	case o.CreateTTL != nil:
		return o.CreateTTL.Path
	case o.Version != nil:
		return o.Version.Path
	case o.SetData != nil:
		return o.SetData.Path
	case o.Read != nil:
		return o.Read.Path
	}
	return ""
}

func (o *MultiOp) body() jute.Record {
	switch {
	case o.Create != nil:
		return o.Create
	case o.CreateTTL != nil:
		return o.CreateTTL
	case o.Version != nil:
		return o.Version
	case o.SetData != nil:
		return o.SetData
	case o.Read != nil:
		return o.Read
	}
	return nil
}

// MultiRequest is the body of multi (14) and multiRead (22).
type MultiRequest struct {
	Ops []MultiOp
}

// Encode writes the record.
func (r *MultiRequest) Encode(e *jute.Encoder) {
	for i := range r.Ops {
		h := MultiHeader{Type: r.Ops[i].Type, Done: false, Err: -1}
		h.Encode(e)
		if b := r.Ops[i].body(); b != nil {
			b.Encode(e)
		}
	}
	end := MultiHeader{Type: -1, Done: true, Err: -1}
	end.Encode(e)
}

// Decode reads the record. An op type that is allowed in neither multi nor
// multiRead fails the decode with ErrBadMultiOp, since its body length is unknown.
func (r *MultiRequest) Decode(d *jute.Decoder) {
	r.Ops = r.Ops[:0]
	for d.Err() == nil {
		var h MultiHeader
		h.Decode(d)
		if d.Err() != nil || h.Done {
			return
		}
		op := MultiOp{Type: h.Type}
		switch h.Type {
		case OpCreate, OpCreate2, OpCreateContainer:
			op.Create = &CreateRequest{}
		case OpCreateTTL:
			op.CreateTTL = &CreateTTLRequest{}
		case OpDelete, OpCheck:
			op.Version = &PathVersionRequest{}
		case OpSetData:
			op.SetData = &SetDataRequest{}
		case OpGetChildren, OpGetData:
			op.Read = &PathWatchRequest{}
		default:
			d.Fail(fmt.Errorf("%w: %d", ErrBadMultiOp, int32(h.Type)))
			return
		}
		op.body().Decode(d)
		r.Ops = append(r.Ops, op)
	}
}

// OpResult is one result of a multi or multiRead reply.
type OpResult struct {
	// Type is the result type: the op's type (create, create2, delete,
	// setData, check, getChildren, getData) or OpError.
	Type     OpCode
	Err      Code // for OpError
	Path     string
	Stat     Stat
	Data     []byte
	Children []string
}

// MultiResponse is the body of a multi or multiRead reply.
type MultiResponse struct {
	Results []OpResult
}

// Encode writes the record.
func (r *MultiResponse) Encode(e *jute.Encoder) {
	for i := range r.Results {
		res := &r.Results[i]
		h := MultiHeader{Type: res.Type, Done: false, Err: -1}
		if res.Type == OpError {
			h.Err = res.Err
		} else {
			h.Err = OK
		}
		h.Encode(e)
		switch res.Type {
		case OpCreate:
			e.String(res.Path)
		case OpCreate2:
			e.String(res.Path)
			res.Stat.Encode(e)
		case OpSetData:
			res.Stat.Encode(e)
		case OpGetData:
			e.Buffer(res.Data)
			res.Stat.Encode(e)
		case OpGetChildren:
			e.Strings(res.Children)
		case OpError:
			e.Int(int32(res.Err))
		}
	}
	end := MultiHeader{Type: -1, Done: true, Err: -1}
	end.Encode(e)
}

// Decode reads the record.
func (r *MultiResponse) Decode(d *jute.Decoder) {
	r.Results = r.Results[:0]
	for d.Err() == nil {
		var h MultiHeader
		h.Decode(d)
		if d.Err() != nil || h.Done {
			return
		}
		res := OpResult{Type: h.Type}
		switch h.Type {
		case OpCreate:
			res.Path = d.String()
		case OpCreate2:
			res.Path = d.String()
			res.Stat.Decode(d)
		case OpSetData:
			res.Stat.Decode(d)
		case OpGetData:
			res.Data = d.Buffer()
			res.Stat.Decode(d)
		case OpGetChildren:
			res.Children = d.Strings()
		case OpError:
			res.Err = Code(d.Int())
		case OpDelete, OpCheck:
		default:
			d.Fail(fmt.Errorf("%w: result type %d", ErrBadMultiOp, int32(h.Type)))
			return
		}
		r.Results = append(r.Results, res)
	}
}
