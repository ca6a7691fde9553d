package proto

import "fmt"

// OpCode is a request type (ZooDefs.OpCode).
type OpCode int32

// Request types.
const (
	OpNotification         OpCode = 0
	OpCreate               OpCode = 1
	OpDelete               OpCode = 2
	OpExists               OpCode = 3
	OpGetData              OpCode = 4
	OpSetData              OpCode = 5
	OpGetACL               OpCode = 6
	OpSetACL               OpCode = 7
	OpGetChildren          OpCode = 8
	OpSync                 OpCode = 9
	OpPing                 OpCode = 11
	OpGetChildren2         OpCode = 12
	OpCheck                OpCode = 13
	OpMulti                OpCode = 14
	OpCreate2              OpCode = 15
	OpReconfig             OpCode = 16
	OpCheckWatches         OpCode = 17
	OpRemoveWatches        OpCode = 18
	OpCreateContainer      OpCode = 19
	OpDeleteContainer      OpCode = 20
	OpCreateTTL            OpCode = 21
	OpMultiRead            OpCode = 22
	OpAuth                 OpCode = 100
	OpSetWatches           OpCode = 101
	OpSASL                 OpCode = 102
	OpGetEphemerals        OpCode = 103
	OpGetAllChildrenNumber OpCode = 104
	OpSetWatches2          OpCode = 105
	OpAddWatch             OpCode = 106
	OpWhoAmI               OpCode = 107
	OpCreateSession        OpCode = -10
	OpCloseSession         OpCode = -11
	OpError                OpCode = -1
)

var opNames = map[OpCode]string{
	OpNotification: "notification", OpCreate: "create", OpDelete: "delete", OpExists: "exists",
	OpGetData: "getData", OpSetData: "setData", OpGetACL: "getACL", OpSetACL: "setACL",
	OpGetChildren: "getChildren", OpSync: "sync", OpPing: "ping", OpGetChildren2: "getChildren2",
	OpCheck: "check", OpMulti: "multi", OpCreate2: "create2", OpReconfig: "reconfig",
	OpCheckWatches: "checkWatches", OpRemoveWatches: "removeWatches", OpCreateContainer: "createContainer",
	OpDeleteContainer: "deleteContainer", OpCreateTTL: "createTTL", OpMultiRead: "multiRead",
	OpAuth: "auth", OpSetWatches: "setWatches", OpSASL: "sasl", OpGetEphemerals: "getEphemerals",
	OpGetAllChildrenNumber: "getAllChildrenNumber", OpSetWatches2: "setWatches2", OpAddWatch: "addWatch",
	OpWhoAmI: "whoAmI", OpCreateSession: "createSession", OpCloseSession: "closeSession", OpError: "error",
}

func (o OpCode) String() string {
	if n, ok := opNames[o]; ok {
		return n
	}
	return fmt.Sprintf("op(%d)", int32(o))
}

// ShortName is the four-character tag ZooKeeper prints as "lop" in cons
// (Request.op2String).
func (o OpCode) ShortName() string {
	switch o {
	case OpNotification:
		return "NOTF"
	case OpCreate, OpCreate2, OpCreateContainer, OpCreateTTL:
		return "CREA"
	case OpDelete, OpDeleteContainer:
		return "DELE"
	case OpExists:
		return "EXIS"
	case OpGetData:
		return "GETD"
	case OpSetData:
		return "SETD"
	case OpGetACL:
		return "GETA"
	case OpSetACL:
		return "SETA"
	case OpGetChildren:
		return "GETC"
	case OpGetChildren2:
		return "GETC"
	case OpSync:
		return "SYNC"
	case OpPing:
		return "PING"
	case OpCheck:
		return "CHEC"
	case OpMulti:
		return "MULT"
	case OpMultiRead:
		return "MLTR"
	case OpReconfig:
		return "RECO"
	case OpCheckWatches:
		return "CHKW"
	case OpRemoveWatches:
		return "REMW"
	case OpAuth:
		return "AUTH"
	case OpSetWatches, OpSetWatches2:
		return "SETW"
	case OpSASL:
		return "SASL"
	case OpGetEphemerals:
		return "GETE"
	case OpGetAllChildrenNumber:
		return "GETACN"
	case OpAddWatch:
		return "ADDW"
	case OpWhoAmI:
		return "HOMI"
	case OpCreateSession:
		return "SESS"
	case OpCloseSession:
		return "CLOS"
	case OpError:
		return "ERR"
	}
	return "UNKNOWN"
}

// IsWrite reports whether the op changes the tree (goes through the write pipeline).
func (o OpCode) IsWrite() bool {
	switch o {
	case OpCreate, OpCreate2, OpCreateContainer, OpCreateTTL, OpDelete, OpDeleteContainer,
		OpSetData, OpSetACL, OpMulti, OpReconfig, OpCreateSession, OpCloseSession, OpCheck:
		return true
	}
	return false
}

// Code is a KeeperException.Code error code. Code(0) is OK.
type Code int32

// Error codes.
const (
	OK                        Code = 0
	ErrSystemError            Code = -1
	ErrRuntimeInconsistency   Code = -2
	ErrDataInconsistency      Code = -3
	ErrConnectionLoss         Code = -4
	ErrMarshallingError       Code = -5
	ErrUnimplemented          Code = -6
	ErrOperationTimeout       Code = -7
	ErrBadArguments           Code = -8
	ErrUnknownSession         Code = -12
	ErrNewConfigNoQuorum      Code = -13
	ErrReconfigInProgress     Code = -14
	ErrAPIError               Code = -100
	ErrNoNode                 Code = -101
	ErrNoAuth                 Code = -102
	ErrBadVersion             Code = -103
	ErrNoChildrenForEphemeral Code = -108
	ErrNodeExists             Code = -110
	ErrNotEmpty               Code = -111
	ErrSessionExpired         Code = -112
	ErrInvalidCallback        Code = -113
	ErrInvalidACL             Code = -114
	ErrAuthFailed             Code = -115
	ErrSessionMoved           Code = -118
	ErrNotReadOnly            Code = -119
	ErrEphemeralOnLocal       Code = -120
	ErrNoWatcher              Code = -121
	ErrRequestTimeout         Code = -122
	ErrReconfigDisabled       Code = -123
	ErrSessionClosedNeedsSASL Code = -124
	ErrQuotaExceeded          Code = -125
	ErrThrottled              Code = -127
)

var codeNames = map[Code]string{
	OK: "OK", ErrSystemError: "SystemError", ErrRuntimeInconsistency: "RuntimeInconsistency",
	ErrDataInconsistency: "DataInconsistency", ErrConnectionLoss: "ConnectionLoss",
	ErrMarshallingError: "MarshallingError", ErrUnimplemented: "Unimplemented",
	ErrOperationTimeout: "OperationTimeout", ErrBadArguments: "BadArguments",
	ErrUnknownSession: "UnknownSession", ErrNewConfigNoQuorum: "NewConfigNoQuorum",
	ErrReconfigInProgress: "ReconfigInProgress", ErrAPIError: "APIError", ErrNoNode: "NoNode",
	ErrNoAuth: "NoAuth", ErrBadVersion: "BadVersion", ErrNoChildrenForEphemeral: "NoChildrenForEphemerals",
	ErrNodeExists: "NodeExists", ErrNotEmpty: "Directory not empty", ErrSessionExpired: "Session expired",
	ErrInvalidCallback: "Invalid callback", ErrInvalidACL: "InvalidACL", ErrAuthFailed: "AuthFailed",
	ErrSessionMoved: "Session moved", ErrNotReadOnly: "Not a read-only call",
	ErrEphemeralOnLocal: "Ephemeral node on local session", ErrNoWatcher: "No such watcher",
	ErrRequestTimeout: "Request timeout", ErrReconfigDisabled: "Reconfig is disabled",
	ErrSessionClosedNeedsSASL: "Session closed because client failed to authenticate",
	ErrQuotaExceeded:          "Quota has exceeded", ErrThrottled: "Op throttled due to high load",
}

func (c Code) Error() string {
	if n, ok := codeNames[c]; ok {
		return n
	}
	return fmt.Sprintf("error code %d", int32(c))
}

// Known reports whether c is a code ZooKeeper defines.
func (c Code) Known() bool { _, ok := codeNames[c]; return ok }

// EventType is a watch event type (Watcher.Event.EventType).
type EventType int32

// Event types sent by the server.
const (
	EventNone                EventType = -1
	EventNodeCreated         EventType = 1
	EventNodeDeleted         EventType = 2
	EventNodeDataChanged     EventType = 3
	EventNodeChildrenChanged EventType = 4
)

func (e EventType) String() string {
	switch e {
	case EventNone:
		return "None"
	case EventNodeCreated:
		return "NodeCreated"
	case EventNodeDeleted:
		return "NodeDeleted"
	case EventNodeDataChanged:
		return "NodeDataChanged"
	case EventNodeChildrenChanged:
		return "NodeChildrenChanged"
	}
	return fmt.Sprintf("EventType(%d)", int32(e))
}

// StateSyncConnected is the KeeperState every server notification carries.
const StateSyncConnected int32 = 3

// WatcherType values of checkWatches/removeWatches.
const (
	WatcherChildren            int32 = 1
	WatcherData                int32 = 2
	WatcherAny                 int32 = 3
	WatcherPersistent          int32 = 4
	WatcherPersistentRecursive int32 = 5
)

// AddWatch modes.
const (
	AddWatchPersistent          int32 = 0
	AddWatchPersistentRecursive int32 = 1
)

// Special xids.
const (
	XidNotification int32 = -1
	XidPing         int32 = -2
	XidAuth         int32 = -4
	XidSetWatches   int32 = -8
)

// Create mode flags (CreateMode).
const (
	ModePersistent                  int32 = 0
	ModeEphemeral                   int32 = 1
	ModePersistentSequential        int32 = 2
	ModeEphemeralSequential         int32 = 3
	ModeContainer                   int32 = 4
	ModePersistentWithTTL           int32 = 5
	ModePersistentSequentialWithTTL int32 = 6
)

// Permission bits (ZooDefs.Perms).
const (
	PermRead   int32 = 1
	PermWrite  int32 = 2
	PermCreate int32 = 4
	PermDelete int32 = 8
	PermAdmin  int32 = 16
	PermAll    int32 = 31
)
