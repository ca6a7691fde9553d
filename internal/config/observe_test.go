package config

import (
	"errors"
	"strings"
	"testing"
)

func TestAdminAndMetricsDefaultsAreApache(t *testing.T) {
	c := mustParse(t, "", nil)
	if !c.AdminEnabled || c.AdminAddr() != "0.0.0.0:8080" || c.AdminCommandURL != "/commands" || c.AdminIdleTimeout != 30000 {
		t.Errorf("admin defaults: enabled=%v addr=%s url=%s idle=%d; want Apache's true 0.0.0.0:8080 /commands 30000",
			c.AdminEnabled, c.AdminAddr(), c.AdminCommandURL, c.AdminIdleTimeout)
	}
	if c.Prometheus() || c.MetricsAddr() != "0.0.0.0:7000" || !c.MetricsExportInfo {
		t.Errorf("metrics defaults: prometheus=%v addr=%s jvm=%v; want off, 0.0.0.0:7000, true", c.Prometheus(), c.MetricsAddr(), c.MetricsExportInfo)
	}
}

func TestAdminAndMetricsKeys(t *testing.T) {
	c := mustParse(t, strings.Join([]string{"admin.enableServer=false", "admin.serverAddress=127.0.0.1",
		"admin.serverPort=9090", "admin.commandURL=/cmds/", "admin.idleTimeout=5000",
		"metricsProvider.className=" + PrometheusProvider, "metricsProvider.httpHost=::1",
		"metricsProvider.httpPort=7001", "metricsProvider.exportJvmInfo=false", "metricsProvider.numWorkerThreads=2"}, "\n"), nil)
	if c.AdminEnabled || c.AdminAddr() != "127.0.0.1:9090" || c.AdminCommandURL != "/cmds" || c.AdminIdleTimeout != 5000 {
		t.Errorf("admin: enabled=%v addr=%s url=%s idle=%d", c.AdminEnabled, c.AdminAddr(), c.AdminCommandURL, c.AdminIdleTimeout)
	}
	if !c.Prometheus() || c.MetricsAddr() != "[::1]:7001" || c.MetricsExportInfo {
		t.Errorf("metrics: prometheus=%v addr=%s jvm=%v", c.Prometheus(), c.MetricsAddr(), c.MetricsExportInfo)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings for Apache's keys: %q", c.Warnings)
	}
	// Apache's JettyAdminServer reads the system properties.
	c = mustParse(t, "zookeeper.admin.serverPort=9091\n", nil)
	if c.AdminPort != 9091 {
		t.Errorf("zookeeper.admin.serverPort: port %d", c.AdminPort)
	}
	again := mustParse(t, c.String(), nil)
	if again.AdminAddr() != c.AdminAddr() || again.AdminEnabled != c.AdminEnabled || again.MetricsAddr() != c.MetricsAddr() {
		t.Errorf("String() does not round-trip the admin keys:\n%s", c.String())
	}
}

func TestAdminAndMetricsBadValues(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{"admin.enableServer=yes", `admin.enableServer="yes": want true or false`},
		{"admin.serverPort=80800", `admin.serverPort="80800": want a port number`},
		{"admin.serverAddress=", `admin.serverAddress="": want a host name or IP address`},
		{"admin.commandURL=commands", `admin.commandURL="commands": want a URL path starting with "/"`},
		{"metricsProvider.className=com.example.Mine", `metricsProvider.className="com.example.Mine": want ` + PrometheusProvider},
		{"metricsProvider.httpPort=0", `metricsProvider.httpPort="0": want a port number`},
		{"metricsProvider.exportJvmInfo=1", `metricsProvider.exportJvmInfo="1": want true or false`},
	} {
		_, err := Parse(strings.NewReader("dataDir=/zk\n"+tc.line+"\n"), "zoo.cfg", nil)
		if !errors.Is(err, ErrBadValue) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want ErrBadValue with %q", tc.line, err, tc.want)
		}
	}
}
