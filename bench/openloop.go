package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/sys/unix"
)

// The open-loop load generator: requests are sent on a fixed schedule,
// request k at start + k/rate, whatever the server does, and each is timed
// from its scheduled send time. A closed loop (httpLoader) sends the next
// request only when an answer came back, so a server that stalls is sent
// fewer requests during the stall and the stall hides in a handful of
// samples (coordinated omission); here a stall delays every request
// scheduled during it, and the histogram shows that.
//
// Each of conns keep-alive connections takes the next request number,
// sleeps until its scheduled time, sends it and reads and checks the
// answer (status 200, the session's user, as httpLoader does). When every
// connection is busy the next request waits for one, and that wait counts
// in its latency: the connections bound how many requests are in flight,
// never when a request is due. Latencies go to an HDR histogram (1 µs to
// 60 s, 3 significant digits).

// openLoopTimeout bounds one request, from the moment it is sent.
const openLoopTimeout = 5 * time.Second

// openLoopResult is what one open-loop run measured.
type openLoopResult struct {
	rate     float64 // requests per second asked for
	sent     int64   // requests scheduled
	ok       int64   // answered 200 with the right body
	errs     int64   // failed: connection error, timeout, wrong status or body
	firstErr string
	// lat is the latency of the ok requests in µs, from the scheduled
	// send time to the end of the answer.
	lat *hdrhistogram.Histogram
	// lag is, in µs, how late requests went out: the time the request
	// waited for a free connection plus the generator's own timer delay.
	lag     *hdrhistogram.Histogram
	elapsed time.Duration // first scheduled send to last answer
}

// quantile returns the latency at q percent (50, 99, 99.9).
func (r openLoopResult) quantile(q float64) time.Duration {
	return time.Duration(r.lat.ValueAtQuantile(q)) * time.Microsecond
}

// lagQuantile returns the send delay at q percent.
func (r openLoopResult) lagQuantile(q float64) time.Duration {
	return time.Duration(r.lag.ValueAtQuantile(q)) * time.Microsecond
}

// achieved is the rate of ok answers over the run.
func (r openLoopResult) achieved() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.ok) / r.elapsed.Seconds()
}

// merge adds another run at the same rate.
func (r *openLoopResult) merge(o openLoopResult) {
	r.sent += o.sent
	r.ok += o.ok
	r.errs += o.errs
	if r.firstErr == "" {
		r.firstErr = o.firstErr
	}
	r.lat.Merge(o.lat)
	r.lag.Merge(o.lag)
	r.elapsed += o.elapsed
}

func newLatencyHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, int64(60*time.Second/time.Microsecond), 3)
}

// recordµs records d in µs, clamped to the histogram's range.
func recordµs(h *hdrhistogram.Histogram, d time.Duration) {
	v := max(int64(d/time.Microsecond), 1)
	v = min(v, h.HighestTrackableValue())
	_ = h.RecordValue(v)
}

// openLoop sends GET path to base at rate requests per second for d (that
// is, rate × d requests, request k carrying cookies[k mod n] and expected
// to answer bodies[k mod n]) over conns keep-alive connections, and waits
// for the last answer. A failed request is counted, its connection
// reopened, and the run goes on; only a failure to connect at the start,
// or ctx, ends it early.
func openLoop(ctx context.Context, base, path string, conns int, cookies []string, bodies [][]byte, rate float64, d time.Duration) (openLoopResult, error) {
	res := openLoopResult{rate: rate, lat: newLatencyHistogram(), lag: newLatencyHistogram()}
	if !(rate > 0) || conns < 1 || d <= 0 {
		return res, fmt.Errorf("open loop: rate %g, %d connections, %s", rate, conns, d)
	}
	host, reqs, err := buildRequests(base, path, cookies)
	if err != nil {
		return res, err
	}
	lcs := make([]*loadConn, conns)
	defer func() {
		for _, c := range lcs {
			if c != nil {
				c.c.Close()
			}
		}
	}()
	for i := range lcs {
		if lcs[i], err = dialLoadConn(host, reqs, bodies); err != nil {
			return res, err
		}
	}
	total := int64(rate * d.Seconds())
	res.sent = total
	interval := float64(time.Second) / rate
	start := time.Now().Add(5 * time.Millisecond)
	var (
		next     atomic.Int64
		mu       sync.Mutex
		last     time.Time
		firstErr error
		wg       sync.WaitGroup
	)
	for w := range lcs {
		wg.Go(func() {
			c := lcs[w]
			sl := newSleeper()
			defer sl.close()
			var ok, failed int64
			var done time.Time
			lat, lag := make([]time.Duration, 0, 256), make([]time.Duration, 0, 256)
			flush := func() {
				mu.Lock()
				for i := range lat {
					recordµs(res.lat, lat[i])
					recordµs(res.lag, lag[i])
				}
				mu.Unlock()
				lat, lag = lat[:0], lag[:0]
			}
			fail := func(err error) {
				failed++
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
			for ctx.Err() == nil {
				k := next.Add(1) - 1
				if k >= total {
					break
				}
				due := start.Add(time.Duration(float64(k) * interval))
				sl.until(due)
				if c == nil {
					nc, err := dialLoadConn(host, reqs, bodies)
					if err != nil {
						fail(err)
						continue
					}
					c, lcs[w] = nc, nc
				}
				sent := time.Now()
				_ = c.c.SetDeadline(sent.Add(openLoopTimeout))
				if err := c.do(int(k % int64(len(reqs)))); err != nil {
					fail(err)
					c.c.Close()
					c, lcs[w] = nil, nil
					continue
				}
				done = time.Now()
				ok++
				lat, lag = append(lat, done.Sub(due)), append(lag, sent.Sub(due))
				if len(lat) == cap(lat) {
					flush()
				}
			}
			flush()
			mu.Lock()
			res.ok += ok
			res.errs += failed
			if done.After(last) {
				last = done
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if firstErr != nil {
		res.firstErr = firstErr.Error()
	}
	if !last.IsZero() {
		res.elapsed = last.Sub(start)
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if res.ok+res.errs != res.sent {
		return res, errors.New("open loop: requests unaccounted for")
	}
	return res, nil
}

// A sleeper waits until a time to within the kernel's timer slack (50 µs
// by default), through a timerfd the Go runtime's poller waits on. The
// runtime's own timers (time.Sleep) wake up to a millisecond late when the
// process is otherwise idle (its poller waits in whole milliseconds),
// which would add up to a millisecond to every latency measured from a
// schedule; a blocking nanosleep would be precise but hold the thread's P,
// delaying the goroutines that read the answers.
type sleeper struct {
	fd int
	f  *os.File // fd, registered with the runtime's poller; nil: use time.Sleep
}

func newSleeper() *sleeper {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return &sleeper{fd: -1}
	}
	return &sleeper{fd: fd, f: os.NewFile(uintptr(fd), "timerfd")}
}

// until returns at t (at once if t has passed).
func (s *sleeper) until(t time.Time) {
	d := time.Until(t)
	if d <= 0 {
		return
	}
	if s.f != nil {
		spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
		if unix.TimerfdSettime(s.fd, 0, &spec, nil) == nil {
			var expirations [8]byte
			if _, err := s.f.Read(expirations[:]); err == nil {
				return
			}
		}
	}
	time.Sleep(time.Until(t))
}

func (s *sleeper) close() {
	if s.f != nil {
		s.f.Close()
	}
}
