package wsconn

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// pair returns a client Conn whose server side sends msgs and then echoes one binary message.
func pair(t *testing.T, msgs func(*websocket.Conn)) *Conn {
	t.Helper()
	up := websocket.Upgrader{}
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		msgs(ws)
	}))
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := New(ws)
	t.Cleanup(func() { c.Close(); <-done; srv.Close() })
	return c
}

func TestReadAcrossMessages(t *testing.T) {
	c := pair(t, func(ws *websocket.Conn) {
		for _, m := range []string{"ab", "", "cde"} {
			_ = ws.WriteMessage(websocket.BinaryMessage, []byte(m))
		}
		_, b, err := ws.ReadMessage() // echo one message back
		if err == nil {
			_ = ws.WriteMessage(websocket.BinaryMessage, b)
		}
	})
	buf := make([]byte, 5)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "abcde" {
		t.Fatalf("read %q, %v", buf, err)
	}
	if n, err := c.Write([]byte("xyz")); n != 3 || err != nil {
		t.Fatalf("write %d, %v", n, err)
	}
	if _, err := io.ReadFull(c, buf[:3]); err != nil || string(buf[:3]) != "xyz" {
		t.Fatalf("echo %q, %v", buf[:3], err)
	}
}

func TestTextMessageIsAnError(t *testing.T) {
	c := pair(t, func(ws *websocket.Conn) {
		_ = ws.WriteMessage(websocket.TextMessage, []byte("hello"))
		_, _, _ = ws.ReadMessage()
	})
	if _, err := c.Read(make([]byte, 8)); !errors.Is(err, ErrTextMessage) {
		t.Fatalf("read = %v, want ErrTextMessage", err)
	}
}

func TestReadIdleEndsADeadLink(t *testing.T) {
	c := pair(t, func(ws *websocket.Conn) {
		_ = ws.WriteControl(websocket.PingMessage, []byte("p"), time.Now().Add(time.Second))
		_, _, _ = ws.ReadMessage() // the pong is answered by gorilla; wait for the client's close
	})
	c = NewWithOptions(c.ws, Options{ReadIdle: 200 * time.Millisecond, CloseMessage: true})
	start := time.Now()
	_, err := c.Read(make([]byte, 8))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read = %v, want a timeout", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("timed out after %v", d)
	}
}
