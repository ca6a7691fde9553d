package storage

import (
	"errors"
	"io/fs"
	"testing"
)

func TestEpochFiles(t *testing.T) {
	mem := NewMemFS()
	if _, err := ReadEpoch(mem, "/d", CurrentEpochFile); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	if err := WriteEpoch(mem, "/d", CurrentEpochFile, 7); err != nil {
		t.Fatal(err)
	}
	// Decimal, no newline, in dataDir/version-2, and durable at once.
	if got := string(fileBytes(t, mem.CrashClone(), "/d/version-2/currentEpoch")); got != "7" {
		t.Fatalf("file holds %q", got)
	}
	if err := WriteEpoch(mem, "/d", CurrentEpochFile, 1<<40); err != nil {
		t.Fatal(err)
	}
	if e, err := ReadEpoch(mem.CrashClone(), "/d", CurrentEpochFile); err != nil || e != 1<<40 {
		t.Fatalf("read %d %v", e, err)
	}
	if names, _ := mem.ReadDir("/d/version-2"); len(names) != 1 {
		t.Fatalf("files %v: temporary file left", names)
	}
}

func TestEpochWriteIsAtomic(t *testing.T) {
	// Whatever operation fails, the file holds the old or the new value.
	for n := int64(0); ; n++ {
		mem := NewMemFS()
		if err := WriteEpoch(mem, "/d", AcceptedEpochFile, 3); err != nil {
			t.Fatal(err)
		}
		inj := &FailNth{N: n}
		werr := WriteEpoch(NewErrorFS(mem, inj), "/d", AcceptedEpochFile, 4)
		for _, disk := range []*MemFS{mem, mem.CrashClone()} {
			e, err := ReadEpoch(disk, "/d", AcceptedEpochFile)
			if err != nil || (e != 3 && e != 4) || (werr == nil && e != 4) {
				t.Fatalf("fail op %d: read %d %v (write: %v)", n, e, err, werr)
			}
		}
		if !inj.Hit() {
			break
		}
	}
}

func TestReadNumberLikeJava(t *testing.T) {
	// BufferedReader.readLine + Long.parseLong: first line only, no trimming.
	for content, want := range map[string]int64{"3": 3, "3\n": 3, "3\r\n": 3, "12\nfoo": 12, "+5": 5, "-1": -1} {
		mem := NewMemFS()
		writeFile(t, mem, "/d/myid", []byte(content))
		if got, err := ReadMyID(mem, "/d"); err != nil || got != want {
			t.Errorf("%q: %d %v, want %d", content, got, err, want)
		}
	}
	for _, content := range []string{"", " 3", "3 ", "x", "\n3", "99999999999999999999"} {
		mem := NewMemFS()
		writeFile(t, mem, "/d/myid", []byte(content))
		if _, err := ReadMyID(mem, "/d"); !errors.Is(err, ErrNotNumber) {
			t.Errorf("%q: err %v", content, err)
		}
	}
}
