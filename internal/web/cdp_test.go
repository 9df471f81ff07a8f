package web_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// browser is headless Chromium driven over the Chrome DevTools Protocol:
// just what the dashboard test needs (navigate, evaluate, screenshot).
type browser struct {
	cmd *exec.Cmd
	dir string // the profile, removed by close
	ws  *websocket.Conn
	id  atomic.Int64
}

// findChromium returns the Chromium binary, or "" if there is none.
func findChromium() string {
	if p := os.Getenv("CUSTOS_CHROMIUM"); p != "" {
		return p
	}
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

func startBrowser(t *testing.T, bin string, width, height int) *browser {
	t.Helper()
	// Not t.TempDir: Chromium's helper processes may still write to the
	// profile after the browser is killed, and TempDir's cleanup fails the
	// test then; close removes it, retrying until they are gone.
	dir, err := os.MkdirTemp("", "custos-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--user-data-dir="+dir, "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1",
		fmt.Sprintf("--window-size=%d,%d", width, height), "about:blank")
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	b := &browser{cmd: cmd, dir: dir}
	t.Cleanup(b.close)
	// Chromium writes the port it chose to DevToolsActivePort.
	var port string
	deadline := time.Now().Add(20 * time.Second)
	for port == "" {
		if f, err := os.Open(filepath.Join(dir, "DevToolsActivePort")); err == nil {
			sc := bufio.NewScanner(f)
			if sc.Scan() {
				port = strings.TrimSpace(sc.Text())
			}
			f.Close()
		}
		if time.Now().After(deadline) {
			t.Fatal("chromium did not open its DevTools port within 20 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	var targets []struct {
		Type string `json:"type"`
		WS   string `json:"webSocketDebuggerUrl"`
	}
	for {
		resp, err := http.Get("http://127.0.0.1:" + port + "/json/list")
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&targets)
			resp.Body.Close()
		}
		ws := ""
		for _, tg := range targets {
			if tg.Type == "page" {
				ws = tg.WS
			}
		}
		if ws != "" {
			b.ws, _, err = websocket.DefaultDialer.Dial(ws, nil)
			if err != nil {
				t.Fatalf("devtools: %v", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("chromium has no page target: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.call(t, "Emulation.setDeviceMetricsOverride", map[string]any{"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}, nil)
	return b
}

func (b *browser) close() {
	if b.ws != nil {
		b.ws.Close()
	}
	if b.cmd.Process != nil {
		b.cmd.Process.Kill()
		b.cmd.Wait()
	}
	for i := 0; i < 50 && os.RemoveAll(b.dir) != nil; i++ {
		time.Sleep(100 * time.Millisecond)
	}
}

// call sends one DevTools command and waits for its answer; events that
// arrive meanwhile are dropped.
func (b *browser) call(t *testing.T, method string, params any, result any) {
	t.Helper()
	id := b.id.Add(1)
	b.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := b.ws.WriteJSON(map[string]any{"id": id, "method": method, "params": params}); err != nil {
		t.Fatalf("devtools %s: %v", method, err)
	}
	b.ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		var m struct {
			ID     int64           `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := b.ws.ReadJSON(&m); err != nil {
			t.Fatalf("devtools %s: %v", method, err)
		}
		if m.ID != id {
			continue
		}
		if m.Error != nil {
			t.Fatalf("devtools %s: %s", method, m.Error.Message)
		}
		if result != nil {
			if err := json.Unmarshal(m.Result, result); err != nil {
				t.Fatalf("devtools %s: %v", method, err)
			}
		}
		return
	}
}

func (b *browser) navigate(t *testing.T, url string) {
	t.Helper()
	b.call(t, "Page.navigate", map[string]any{"url": url}, nil)
}

// eval evaluates a JavaScript expression and decodes its value into out.
func (b *browser) eval(t *testing.T, expr string, out any) {
	t.Helper()
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		Exception *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	b.call(t, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true}, &r)
	if r.Exception != nil {
		t.Fatalf("javascript %q: %s %s", expr, r.Exception.Text, r.Exception.Exception.Description)
	}
	if out != nil && len(r.Result.Value) > 0 {
		if err := json.Unmarshal(r.Result.Value, out); err != nil {
			t.Fatalf("javascript %q: %v (%s)", expr, err, r.Result.Value)
		}
	}
}

// waitJS polls a boolean JavaScript expression until it is true, for at
// most 20 s.
func (b *browser) waitJS(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for {
		var ok bool
		b.eval(t, "!!("+expr+")", &ok)
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("dashboard: %s: not seen in time (%s)", what, expr)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (b *browser) screenshot(t *testing.T, path string) {
	t.Helper()
	var r struct {
		Data string `json:"data"`
	}
	b.call(t, "Page.captureScreenshot", map[string]any{"format": "png"}, &r)
	png, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(png))
}
