package hub

import (
	"fmt"
	"time"

	"github.com/gorilla/websocket"
)

// pingLoop pings the edge every PingPeriod and ends the session when nothing came back for
// PongTimeout. The websocket read deadline is the backstop: it is pushed forward on every pong.
func (s *Session) pingLoop(ws *websocket.Conn) {
	opts := s.hub.opts
	ws.SetPongHandler(func(string) error {
		now := time.Now()
		s.lastPong.Store(now.UnixNano())
		return ws.SetReadDeadline(now.Add(opts.PongTimeout + opts.PingPeriod))
	})
	_ = ws.SetReadDeadline(time.Now().Add(opts.PongTimeout + opts.PingPeriod))
	t := time.NewTicker(opts.PingPeriod)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case now := <-t.C:
			if since := now.Sub(time.Unix(0, s.lastPong.Load())); since > opts.PongTimeout {
				s.hub.refuse(reasonHeartbeat, s.node, fmt.Errorf("no pong for %v", since.Round(time.Millisecond)))
				s.closeWith(errHeartbeat)
				return
			}
			if err := ws.WriteControl(websocket.PingMessage, nil, now.Add(opts.WriteTimeout)); err != nil {
				s.closeWith(fmt.Errorf("hub: ping %s: %w", s.node, err))
				return
			}
		}
	}
}
