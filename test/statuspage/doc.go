// Package statuspage checks the AdminServer's status page in a real
// browser: a zkd server runs in-process with its AdminServer, a client
// makes a few znodes and some traffic, and Debian's headless Chromium
// loads the page. The page must load without a console error (a script
// error or a Content-Security-Policy refusal counts), show the server's
// role, refresh its live part, browse the tree and show data as text or
// hex, and a screenshot is taken (go test -run Screenshot
// -update-screenshot also keeps it as docs/status-page.png).
//
// Chromium is a test dependency (test.sh installs it); without it the
// tests fail.
package statuspage
