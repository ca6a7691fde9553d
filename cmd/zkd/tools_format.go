package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/zkd/zkd/internal/proto"
	"github.com/zkd/zkd/internal/txn"
)

// The dump commands build one view value per printed record and render it
// either as a text line or as one JSON object per line, so that both forms
// always carry the same fields.

// Data encodings in JSON output: text that is valid UTF-8 without control
// characters is given as it is, anything else as hex.
const (
	encodingUTF8 = "utf8"
	encodingHex  = "hex"
)

// defaultMaxData is how much of a data field text output shows.
const defaultMaxData = 256

// aclView is one ACL entry; perms uses zkCli's letters (cdrwa).
type aclView struct {
	Scheme string `json:"scheme"`
	ID     string `json:"id"`
	Perms  string `json:"perms"`
}

// String is zkCli's scheme:id:perms, quoted when the scheme or id holds
// characters that would break the line apart (spaces, commas, brackets,
// control characters).
func (a aclView) String() string {
	s := a.Scheme + ":" + a.ID + ":" + a.Perms
	for _, r := range a.Scheme + a.ID {
		if !unicode.IsGraphic(r) || unicode.IsSpace(r) || strings.ContainsRune(`,[]"`, r) {
			return strconv.Quote(s)
		}
	}
	return s
}

func viewACL(acl []proto.ACL) []aclView {
	out := make([]aclView, len(acl))
	for i, a := range acl {
		out[i] = aclView{Scheme: a.ID.Scheme, ID: a.ID.ID, Perms: permString(a.Perms)}
	}
	return out
}

// permString spells permission bits as zkCli's getAcl does (c d r w a),
// with any bits ZooKeeper does not define appended in hex.
func permString(perms int32) string {
	var b strings.Builder
	for _, p := range []struct {
		bit    int32
		letter byte
	}{{proto.PermCreate, 'c'}, {proto.PermDelete, 'd'}, {proto.PermRead, 'r'}, {proto.PermWrite, 'w'}, {proto.PermAdmin, 'a'}} {
		if perms&p.bit != 0 {
			b.WriteByte(p.letter)
		}
	}
	if extra := perms &^ proto.PermAll; extra != 0 {
		fmt.Fprintf(&b, "+%#x", uint32(extra))
	}
	return b.String()
}

// isText reports whether data reads as text: valid UTF-8 with no control
// characters other than tab, newline and carriage return.
func isText(data []byte) bool {
	if !utf8.Valid(data) {
		return false
	}
	for _, r := range string(data) {
		if unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' {
			return false
		}
	}
	return true
}

// viewData returns data as JSON wants it: the text and "utf8", or hex and "hex".
func viewData(data []byte) (string, string) {
	if isText(data) {
		return string(data), encodingUTF8
	}
	return hex.EncodeToString(data), encodingHex
}

// textData renders data for text output: a Go-quoted string, or hex:... for
// binary data. Past limit bytes (when limit > 0) it is cut, saying how long
// it is; JSON output always carries all of it.
func textData(data []byte, limit int) string {
	text := isText(data)
	shown, suffix := data, ""
	if limit > 0 && len(data) > limit {
		shown = data[:limit]
		for text && !utf8.Valid(shown) { // do not cut a character in two
			shown = shown[:len(shown)-1]
		}
		suffix = fmt.Sprintf("...(%d bytes)", len(data))
	}
	if text {
		return strconv.Quote(string(shown)) + suffix
	}
	return "hex:" + hex.EncodeToString(shown) + suffix
}

// bodyView holds the fields of a txn body (or of one op of a multi); only
// those the txn type has are set.
type bodyView struct {
	Path           *string   `json:"path,omitempty"`
	Data           *string   `json:"data,omitempty"`
	DataEncoding   string    `json:"dataEncoding,omitempty"`
	ACL            []aclView `json:"acl,omitempty"`
	Ephemeral      *bool     `json:"ephemeral,omitempty"`
	ParentCVersion *int32    `json:"parentCVersion,omitempty"`
	TTL            *int64    `json:"ttl,omitempty"`
	Version        *int32    `json:"version,omitempty"`
	Timeout        *int32    `json:"timeout,omitempty"`
	// Paths are closeSession's ephemerals; nil for the old body-less form.
	Paths   *[]string `json:"paths,omitempty"`
	Err     *int32    `json:"err,omitempty"`
	ErrName string    `json:"errName,omitempty"`
	Ops     []opView  `json:"ops,omitempty"`

	rawData []byte // for text output
}

// opView is one sub-txn of a multi.
type opView struct {
	Type string `json:"type"`
	bodyView
}

func ptr[T any](v T) *T { return &v }

func viewBody(body txn.Body) bodyView {
	var v bodyView
	setData := func(data []byte) {
		s, enc := viewData(data)
		v.Data, v.DataEncoding, v.rawData = &s, enc, data
	}
	switch b := body.(type) {
	case *txn.CreateSession:
		v.Timeout = ptr(b.TimeOut)
	case *txn.CloseSession:
		if b.HasPaths {
			paths := append([]string{}, b.Paths...)
			v.Paths = &paths
		}
	case *txn.Error:
		v.Err = ptr(int32(b.Err))
		v.ErrName = b.Err.Error()
	case *txn.Create:
		v.Path = ptr(b.Path)
		setData(b.Data)
		v.ACL = viewACL(b.ACL)
		v.Ephemeral = ptr(b.Ephemeral)
		v.ParentCVersion = ptr(b.ParentCVersion)
	case *txn.CreateContainer:
		v.Path = ptr(b.Path)
		setData(b.Data)
		v.ACL = viewACL(b.ACL)
		v.ParentCVersion = ptr(b.ParentCVersion)
	case *txn.CreateTTL:
		v.Path = ptr(b.Path)
		setData(b.Data)
		v.ACL = viewACL(b.ACL)
		v.ParentCVersion = ptr(b.ParentCVersion)
		v.TTL = ptr(b.TTL)
	case *txn.Delete:
		v.Path = ptr(b.Path)
	case *txn.SetData:
		v.Path = ptr(b.Path)
		setData(b.Data)
		v.Version = ptr(b.Version)
	case *txn.SetACL:
		v.Path = ptr(b.Path)
		v.ACL = viewACL(b.ACL)
		v.Version = ptr(b.Version)
	case *txn.CheckVersion:
		v.Path = ptr(b.Path)
		v.Version = ptr(b.Version)
	case *txn.Multi:
		v.Ops = make([]opView, len(b.Ops))
		for i, op := range b.Ops {
			v.Ops[i] = opView{Type: op.Type.String(), bodyView: viewBody(op.Body)}
		}
	}
	return v
}

// text appends the body's fields as key=value pairs (multi ops excluded),
// data cut after maxData bytes.
func (v *bodyView) text(b *strings.Builder, maxData int) {
	kv := func(k, val string) { b.WriteString(" " + k + "=" + val) }
	if v.Path != nil {
		kv("path", strconv.Quote(*v.Path))
	}
	if v.Data != nil {
		kv("data", textData(v.rawData, maxData))
	}
	if v.ACL != nil {
		parts := make([]string, len(v.ACL))
		for i, a := range v.ACL {
			parts[i] = a.String()
		}
		kv("acl", "["+strings.Join(parts, ",")+"]")
	}
	if v.Ephemeral != nil {
		kv("ephemeral", strconv.FormatBool(*v.Ephemeral))
	}
	if v.ParentCVersion != nil {
		kv("parentCVersion", strconv.Itoa(int(*v.ParentCVersion)))
	}
	if v.TTL != nil {
		kv("ttl", strconv.FormatInt(*v.TTL, 10)+"ms")
	}
	if v.Version != nil {
		kv("version", strconv.Itoa(int(*v.Version)))
	}
	if v.Timeout != nil {
		kv("timeout", strconv.Itoa(int(*v.Timeout))+"ms")
	}
	if v.Paths != nil {
		quoted := make([]string, len(*v.Paths))
		for i, p := range *v.Paths {
			quoted[i] = strconv.Quote(p)
		}
		kv("paths", "["+strings.Join(quoted, ",")+"]")
	}
	if v.Err != nil {
		kv("err", fmt.Sprintf("%d(%s)", *v.Err, v.ErrName))
	}
	if v.Ops != nil {
		kv("ops", strconv.Itoa(len(v.Ops)))
	}
}

// digestView is a TxnDigest: the tree digest expected after the txn.
type digestView struct {
	Version    int32 `json:"version"`
	TreeDigest int64 `json:"treeDigest"`
}

// txnView is one log record.
type txnView struct {
	Record  string `json:"record"` // "txn"
	Offset  int64  `json:"offset"` // of the record in the file
	Zxid    string `json:"zxid"`
	Time    string `json:"time"`
	TimeMs  int64  `json:"timeMs"`
	Session string `json:"session"`
	Cxid    int32  `json:"cxid"`
	Type    string `json:"type"`
	bodyView
	Digest *digestView `json:"digest,omitempty"`
}

func viewTxn(offset int64, t *txn.Txn) txnView {
	h := t.Header
	v := txnView{
		Record: "txn", Offset: offset, Zxid: hexID(h.Zxid), Time: formatMs(h.Time), TimeMs: h.Time,
		Session: hexID(h.ClientID), Cxid: h.Cxid, Type: h.Type.String(), bodyView: viewBody(t.Body),
	}
	if t.Digest != nil {
		v.Digest = &digestView{Version: t.Digest.Version, TreeDigest: t.Digest.TreeDigest}
	}
	return v
}

// text renders the record as one line, plus one indented line per multi op.
func (v *txnView) text(maxData int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "zxid=%s time=%s (%dms) session=%s cxid=%d type=%s", v.Zxid, v.Time, v.TimeMs, v.Session, v.Cxid, v.Type)
	v.bodyView.text(&b, maxData)
	if v.Digest != nil {
		fmt.Fprintf(&b, " digest=%d(v%d)", v.Digest.TreeDigest, v.Digest.Version)
	}
	fmt.Fprintf(&b, " offset=%d", v.Offset)
	for i := range v.Ops {
		op := &v.Ops[i]
		fmt.Fprintf(&b, "\n    op[%d] type=%s", i, op.Type)
		op.bodyView.text(&b, maxData)
	}
	return b.String()
}

// jsonLine writes v as one line of JSON.
func jsonLine(w io.Writer, v any) error {
	// Encoder.Encode ends the line; HTML escaping would only obscure paths and data.
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
