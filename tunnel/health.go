package tunnel

import "time"

// watchPath closes a connection whose path went silent. QUIC alone notices a dead path only at
// the idle timeout, and until then new streams would open into the void (opening a QUIC stream
// needs no round trip). With keepalives every KeepAlivePeriod the peer acknowledges at least
// that often, so a connection that received nothing for DeadPathTimeout has lost its path:
// closing it moves new streams to the relay at once and starts punching again.
func (a *Agent) watchPath(p *peer, pc *pconn) {
	t := time.NewTicker(a.opts.DeadPathTimeout / 4)
	defer t.Stop()
	last := pc.conn.ConnectionStats().PacketsReceived
	lastChange := time.Now()
	for {
		select {
		case <-pc.conn.Context().Done():
			return
		case now := <-t.C:
			n := pc.conn.ConnectionStats().PacketsReceived
			if n != last {
				last, lastChange = n, now
				continue
			}
			if now.Sub(lastChange) >= a.opts.DeadPathTimeout {
				a.log.Info("Path silent, closing connection", "peer", p.name, "path", pc.path.kind,
					"relay", pc.path.relay, "silentFor", now.Sub(lastChange))
				a.metrics.deadPaths.WithLabelValues(string(pc.path.kind)).Inc()
				_ = pc.conn.CloseWithError(errCodeDeadPath, "path silent")
				return
			}
		}
	}
}
