package extract

import (
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// How the client adapts its rate to an API that answers HTTP 429 (AIMD,
// as TCP does): each 429 of a request sent since the last cut halves the
// rate, down to ceiling/aimdFloorDiv; each success then adds
// ceiling/aimdSteps, so half the rate comes back in aimdSteps/2
// successful requests. A 429 of a request sent before the last cut was
// sent at the old rate: it says nothing new and cuts nothing.
const (
	aimdSteps    = 20
	aimdFloorDiv = 32
)

// aimd is a client's effective request rate and its pause. Safe for
// concurrent use.
type aimd struct {
	ceiling float64 // requests_per_second: never exceeded
	log     zerolog.Logger

	mu      sync.Mutex
	rate    float64
	lastCut time.Time
	// pauseUntil: no request leaves before it (a Retry-After).
	pauseUntil time.Time
	// backingOff: the rate is below the ceiling; logged once each way.
	backingOff bool
}

func newAIMD(ceiling float64, log zerolog.Logger) *aimd {
	return &aimd{ceiling: ceiling, rate: ceiling, log: log}
}

func (a *aimd) current() float64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.rate
}

// nextSend is the earliest instant a request may leave when the previous
// one left at last.
func (a *aimd) nextSend(last time.Time) time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	next := last.Add(time.Duration(float64(time.Second) / a.rate))
	if a.pauseUntil.After(next) {
		next = a.pauseUntil
	}
	return next
}

// limited takes an HTTP 429 to a request sent at sent: the whole budget
// waits out retryAfter (0: none given) and, unless a cut since the send
// already answered it, the rate halves.
func (a *aimd) limited(sent time.Time, retryAfter time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	if until := now.Add(retryAfter); until.After(a.pauseUntil) {
		a.pauseUntil = until
	}
	if !sent.After(a.lastCut) {
		return
	}
	a.lastCut = now
	a.rate = max(a.rate/2, a.ceiling/aimdFloorDiv)
	ev := a.log.Debug()
	if !a.backingOff {
		a.backingOff = true
		ev = a.log.Info()
	}
	ev.Float64("requests_per_second", a.rate).Float64("configured", a.ceiling).Dur("retry_after", retryAfter).
		Msg("the API answers HTTP 429: backing off the request rate (lower api.requests_per_second if this recurs)")
}

// succeeded takes a successful reply: the rate grows back by a step.
func (a *aimd) succeeded() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.backingOff {
		return
	}
	a.rate = min(a.rate+a.ceiling/aimdSteps, a.ceiling)
	if a.rate >= a.ceiling {
		a.backingOff = false
		a.log.Info().Float64("requests_per_second", a.rate).Msg("request rate back at api.requests_per_second after HTTP 429s")
	}
}
