package launch

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// ErrNoChromium means Debian's chromium package is not installed; the
// status page's browser tests fail on it, never skip.
var ErrNoChromium = errors.New("launch: chromium not found (install Debian's chromium package: apt-get install chromium)")

// Page is a page as headless Chromium loaded it.
type Page struct {
	// DOM is the document after its scripts ran (--dump-dom).
	DOM string
	// Console holds the page's console messages and uncaught errors, CSP
	// violations included, one a line as Chromium logs them.
	Console []string
}

// PageOptions say how to load a page.
type PageOptions struct {
	// Dir holds the browser's profile (a test's temp dir).
	Dir string
	// Settle is the virtual time the page's timers get before the DOM is
	// taken (0: the DOM at load).
	Settle time.Duration
	// Screenshot, when set, is a PNG file to write of the page in a
	// Width x Height window (1200 x 900 by default).
	Screenshot    string
	Width, Height int
}

// Chromium is the path of the chromium binary.
func Chromium() (string, error) {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", ErrNoChromium
}

// LoadPage loads url in headless Chromium: once for the DOM and the
// console, and once more for the screenshot when one is asked for.
func LoadPage(url string, o PageOptions) (Page, error) {
	bin, err := Chromium()
	if err != nil {
		return Page{}, err
	}
	if o.Width == 0 {
		o.Width, o.Height = 1200, 900
	}
	common := []string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
		"--force-device-scale-factor=1", fmt.Sprintf("--window-size=%d,%d", o.Width, o.Height),
		"--user-data-dir=" + filepath.Join(o.Dir, "chromium-profile")}
	dom := append(append([]string{}, common...), "--enable-logging=stderr", "--v=0", "--dump-dom")
	if o.Settle > 0 {
		dom = append(dom, fmt.Sprintf("--virtual-time-budget=%d", o.Settle.Milliseconds()))
	}
	stdout, stderr, err := runChromium(bin, append(dom, url))
	if err != nil {
		return Page{}, fmt.Errorf("chromium --dump-dom %s: %w\n%s", url, err, tail(stderr))
	}
	p := Page{DOM: stdout, Console: consoleLines(stderr)}
	if o.Screenshot != "" {
		_, stderr, err := runChromium(bin, append(append(common, "--screenshot="+o.Screenshot), url))
		if err != nil {
			return p, fmt.Errorf("chromium --screenshot %s: %w\n%s", url, err, tail(stderr))
		}
		if _, err := os.Stat(o.Screenshot); err != nil {
			return p, fmt.Errorf("chromium wrote no screenshot: %w\n%s", err, tail(stderr))
		}
	}
	return p, nil
}

// runChromium runs one headless load, killing the browser's whole process
// group if it takes more than a minute.
func runChromium(bin string, args []string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Run()
	return out.String(), errb.String(), err
}

// consoleLines picks Chromium's CONSOLE log lines: `[pid:tid:time:INFO:CONSOLE:1] "message", source: url (1)`.
func consoleLines(stderr string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(stderr))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if line := sc.Text(); strings.Contains(line, ":CONSOLE") {
			if _, msg, ok := strings.Cut(line, "] "); ok {
				line = msg
			}
			out = append(out, line)
		}
	}
	return out
}

func tail(s string) string {
	if len(s) > 4000 {
		s = "…" + s[len(s)-4000:]
	}
	return s
}
