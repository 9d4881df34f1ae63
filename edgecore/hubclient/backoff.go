package hubclient

import (
	"math/rand/v2"
	"time"
)

// backoff yields exponentially growing, jittered delays: the current step doubles from min to
// max, and each delay is drawn uniformly from [step/2, step] so that edges that lost the cloud
// together do not all come back in the same instant.
type backoff struct {
	min, max time.Duration
	step     time.Duration
	rand     func() float64 // [0,1); default math/rand/v2
}

func (b *backoff) next() time.Duration {
	switch {
	case b.step == 0:
		b.step = b.min
	case b.step < b.max:
		b.step = min(2*b.step, b.max)
	}
	r := rand.Float64
	if b.rand != nil {
		r = b.rand
	}
	half := b.step / 2
	return half + time.Duration(r()*float64(b.step-half))
}

func (b *backoff) reset() { b.step = 0 }
