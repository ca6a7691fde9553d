package admin

import (
	"bytes"
	"strings"
	"testing"
)

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }

func TestFourLetterWordsRenderTheSource(t *testing.T) {
	f := newFake()
	a := newTestAdmin(f, "")
	cons := " /127.0.0.1:46580[1](queued=0,recved=6,sent=7,sid=0x1000a1b2c3d0000,lop=GETC,est=1796599961754,to=10000," +
		"lcxid=0x5,lzxid=0x3,lresp=1796599962754,llat=0,minlat=0,avglat=4,maxlat=13)\n\n"
	tests := []struct{ word, want string }{
		{"ruok", "imok"},
		{"isro", "rw"},
		{"gtmk", "306"},
		{"srvr", "Zookeeper version: 3.9.3-zkd-0.1.0, built on 11/26/2026 00:00 GMT\nLatency min/avg/max: 0/4.3333/13\n" +
			"Received: 6\nSent: 7\nConnections: 1\nOutstanding: 0\nZxid: 0x103\nMode: standalone\nNode count: 7\n"},
		{"stat", "Zookeeper version: 3.9.3-zkd-0.1.0, built on 11/26/2026 00:00 GMT\nClients:\n" +
			" /127.0.0.1:46580[1](queued=0,recved=6,sent=7)\n\nLatency min/avg/max: 0/4.3333/13\n" +
			"Received: 6\nSent: 7\nConnections: 1\nOutstanding: 0\nZxid: 0x103\nMode: standalone\nNode count: 7\n"},
		{"cons", cons},
		{"dirs", "datadir_size: 457\nlogdir_size: 67109337\n"},
		{"wchs", "1 connections watching 2 paths\nTotal watches:2\n"},
		{"wchc", "0x1000a1b2c3d0000\n\t/e1\n\t/p1\n\n"},
		{"wchp", "/e1\n\t0x1000a1b2c3d0000\n/p1\n\t0x1000a1b2c3d0000\n\n"},
		{"hash", "80: 1371985504\n"},
		{"dump", "SessionTracker dump:\nSession Sets (1)/(1):\n1 expire at Thu Jan 01 01:03:52 UTC 1970:\n\t0x1000a1b2c3d0000\n" +
			"ephemeral nodes dump:\nSessions with Ephemerals (1):\n0x1000a1b2c3d0000:\n\t/e1\n" +
			"Connections dump:\nConnections Sets (1)/(1):\n1 expire at Thu Jan 01 01:03:54 UTC 1970:\n" +
			"\tip: /127.0.0.1:46580 sessionId: 0x1000a1b2c3d0000\n"},
		{"crst", "Connection stats reset.\n"},
		{"srst", "Server stats reset.\n"},
	}
	for _, tc := range tests {
		if got := string(a.FourLetter(tc.word, nil)); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.word, got, tc.want)
		}
	}
	if f.resetSrv != 1 || f.resetConn != 1 {
		t.Errorf("srst and crst reset %d and %d times, want once each", f.resetSrv, f.resetConn)
	}
	if got := string(a.FourLetter("stmk", bytes.NewReader([]byte{0, 0, 0, 0, 0, 0, 0x01, 0x02}))); got != "258" {
		t.Errorf("stmk 0x102: %q", got)
	}
	if got := string(a.FourLetter("gtmk", nil)); got != "258" {
		t.Errorf("gtmk after stmk: %q", got)
	}
}

func TestMntrLinesInOrder(t *testing.T) {
	out := string(newTestAdmin(newFake(), "").FourLetter("mntr", nil))
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	head := []string{"zk_version\t3.9.3-zkd-0.1.0, built on 11/26/2026 00:00 GMT", "zk_server_state\tstandalone",
		"zk_ephemerals_count\t1", "zk_num_alive_connections\t1", "zk_avg_latency\t4.3333", "zk_max_latency\t13",
		"zk_min_latency\t0", "zk_packets_received\t6", "zk_packets_sent\t7", "zk_outstanding_requests\t0",
		"zk_znode_count\t7", "zk_watch_count\t2", "zk_approximate_data_size\t52"}
	if len(lines) < len(head) {
		t.Fatalf("mntr has %d lines:\n%s", len(lines), out)
	}
	for i, want := range head {
		if lines[i] != want {
			t.Errorf("mntr line %d: %q, want %q", i, lines[i], want)
		}
	}
	for _, want := range []string{"zk_global_sessions\t1", "zk_last_client_response_size\t45", "zk_auth_failed_count\t2", "zk_txn_count\t3"} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("mntr lacks %q", want)
		}
	}
}

func TestFourLetterWordsRefused(t *testing.T) {
	f := newFake()
	limited := newTestAdmin(f, "4lw.commands.whitelist=ruok\n")
	if got := string(limited.FourLetter("stmk", nil)); got != "stmk is not executed because it is not in the whitelist.\n" {
		t.Errorf("stmk not whitelisted: %q", got)
	}
	if got := string(limited.FourLetter("\xff\xf4\xff\xfd", nil)); got != "telnet close is not executed because it is not in the whitelist.\n" {
		t.Errorf("telnet close: %q", got)
	}
	all := newTestAdmin(f, "")
	if got := all.FourLetter("\xff\xf4\xff\xfd", nil); got != nil {
		t.Errorf("telnet close whitelisted: %q, want the connection closed without a word", got)
	}
	f.serving = false
	for word, want := range map[string]string{"mntr": notServingText + "\n", "hash": notServingText, "isro": "null", "ruok": "imok"} {
		if got := string(all.FourLetter(word, nil)); got != want {
			t.Errorf("%s while not serving: %q, want %q", word, got, want)
		}
	}
	if !IsFourLetterWord("mntr") || !IsFourLetterWord("\xff\xf4\xff\xfd") || IsFourLetterWord("kill") || IsFourLetterWord("\x00\x00\x00\x2c") {
		t.Error("IsFourLetterWord disagrees with ZooKeeper's list")
	}
}
