// Package sioadapter is a minimal, TEST-ONLY Redis adapter for the
// github.com/zishang520/socket.io/servers/socket/v3 server, so that tests can
// run two socket.io servers in one process that see each other's sockets.
//
// It exists only because the official adapter module,
// github.com/zishang520/socket.io/adapters/redis/v3, is not served by the Go
// module proxy this project is built with. Production users install that
// official adapter (or any other); the library (socketauth/socketio) uses
// only adapter-agnostic server APIs — In(room).FetchSockets,
// In(room).DisconnectSockets, RemoteSocket.Data — and never imports this
// package.
//
// What it implements across servers, with the JSON message shapes the
// official adapter uses (go-redis v9 pub/sub):
//   - FetchSockets: a request on "<prefix>-request#<nsp>#", answers from
//     every other server on "<prefix>-response#<nsp>#<uid>#" as
//     {requestId, sockets: [{id, handshake, rooms, data}]}; the data of a
//     socket on another server arrives as decoded JSON (map[string]any), as
//     it does with the official adapter;
//   - DisconnectSockets (and so RemoteSocket.Disconnect), published to every
//     server;
//   - ServerCount, from PUBSUB NUMSUB of the request channel.
//
// Everything else (broadcasts, rooms joined remotely, server-side emits,
// connection state recovery) stays local to each server.
package sioadapter

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// DefaultTimeout bounds a FetchSockets across servers.
const DefaultTimeout = 3 * time.Second

// Builder is a socket.AdapterConstructor: set it with
// ServerOptions.SetAdapter. Servers that share a Client and a Prefix see
// each other's sockets.
type Builder struct {
	// Client is the Redis connection (pub/sub and PUBSUB NUMSUB).
	Client *redis.Client
	// Prefix of the channels; give each test its own.
	Prefix string
	// Timeout of a FetchSockets across servers; default DefaultTimeout.
	Timeout time.Duration
}

var _ socket.AdapterConstructor = (*Builder)(nil)

// New implements socket.AdapterConstructor.
func (b *Builder) New(nsp socket.Namespace) socket.Adapter {
	a := &adapter{Adapter: socket.MakeAdapter(), b: b}
	a.Prototype(a) // the embedded default adapter dispatches overridable calls to a
	a.Construct(nsp)
	return a
}

type adapter struct {
	socket.Adapter
	b *Builder

	uid    string
	reqCh  string
	respCh string
	ctx    context.Context
	cancel context.CancelFunc
	sub    *redis.PubSub
	err    error // subscribing failed
	loopWG sync.WaitGroup

	mu      sync.Mutex
	pending map[string]*pending
}

type pending struct {
	want    int64
	got     int64
	sockets []socket.SocketDetails
	done    chan struct{}
}

type request struct {
	Type      string        `json:"type"` // "fetch" or "disconnect"
	UID       string        `json:"uid"`
	RequestID string        `json:"requestId,omitempty"`
	Rooms     []socket.Room `json:"rooms,omitempty"`
	Except    []socket.Room `json:"except,omitempty"`
	Close     bool          `json:"close,omitempty"`
}

type socketResponse struct {
	ID        socket.SocketId   `json:"id"`
	Handshake *socket.Handshake `json:"handshake"`
	Rooms     []socket.Room     `json:"rooms"`
	Data      any               `json:"data"`
}

type response struct {
	RequestID string            `json:"requestId"`
	Sockets   []*socketResponse `json:"sockets"`
}

// remote is a socket living on another server.
type remote struct{ r *socketResponse }

func (x remote) Id() socket.SocketId            { return x.r.ID }
func (x remote) Handshake() *socket.Handshake   { return x.r.Handshake }
func (x remote) Rooms() *types.Set[socket.Room] { return types.NewSet(x.r.Rooms...) }
func (x remote) Data() any                      { return x.r.Data }

func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (a *adapter) Construct(nsp socket.Namespace) {
	a.Adapter.Construct(nsp)
	a.uid = randomID(6)
	a.reqCh = a.b.Prefix + "-request#" + nsp.Name() + "#"
	a.respCh = a.b.Prefix + "-response#" + nsp.Name() + "#" + a.uid + "#"
	a.pending = map[string]*pending{}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.sub = a.b.Client.Subscribe(a.ctx, a.reqCh, a.respCh)
	// Wait until the subscription is active, so ServerCount counts us.
	if _, err := a.sub.Receive(a.ctx); err != nil {
		a.err = fmt.Errorf("sioadapter: subscribe: %w", err)
		return
	}
	a.loopWG.Add(1)
	go a.loop()
}

func (a *adapter) Close() {
	a.cancel()
	_ = a.sub.Close()
	a.loopWG.Wait()
	a.Adapter.Close()
}

func (a *adapter) ServerCount() int64 {
	n, err := a.b.Client.PubSubNumSub(a.ctx, a.reqCh).Result()
	if err != nil || n[a.reqCh] < 1 {
		return 1
	}
	return n[a.reqCh]
}

func (a *adapter) publish(channel string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return a.b.Client.Publish(a.ctx, channel, b).Err()
}

func (a *adapter) loop() {
	defer a.loopWG.Done()
	for msg := range a.sub.Channel() {
		if msg.Channel == a.respCh {
			var res response
			if json.Unmarshal([]byte(msg.Payload), &res) == nil {
				a.onResponse(&res)
			}
			continue
		}
		var req request
		if json.Unmarshal([]byte(msg.Payload), &req) != nil || req.UID == a.uid {
			continue
		}
		opts := &socket.BroadcastOptions{
			Rooms:  types.NewSet(req.Rooms...),
			Except: types.NewSet(req.Except...),
			Flags:  &socket.BroadcastFlags{Local: true},
		}
		switch req.Type {
		case "disconnect":
			a.Adapter.DisconnectSockets(opts, req.Close)
		case "fetch":
			a.Adapter.FetchSockets(opts)(func(local []socket.SocketDetails, _ error) {
				res := response{RequestID: req.RequestID, Sockets: make([]*socketResponse, 0, len(local))}
				for _, s := range local {
					res.Sockets = append(res.Sockets, &socketResponse{ID: s.Id(), Handshake: s.Handshake(), Rooms: s.Rooms().Keys(), Data: s.Data()})
				}
				_ = a.publish(a.b.Prefix+"-response#"+a.Nsp().Name()+"#"+req.UID+"#", &res)
			})
		}
	}
}

func (a *adapter) onResponse(res *response) {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := a.pending[res.RequestID]
	if p == nil {
		return
	}
	for _, s := range res.Sockets {
		p.sockets = append(p.sockets, remote{s})
	}
	p.got++
	if p.got == p.want {
		delete(a.pending, res.RequestID)
		close(p.done)
	}
}

func keys(s *types.Set[socket.Room]) []socket.Room {
	if s == nil {
		return nil
	}
	return s.Keys()
}

// FetchSockets returns this server's matching sockets and those of every
// other server, or an error if not every server answered in time.
func (a *adapter) FetchSockets(opts *socket.BroadcastOptions) func(func([]socket.SocketDetails, error)) {
	return func(cb func([]socket.SocketDetails, error)) {
		a.Adapter.FetchSockets(opts)(func(local []socket.SocketDetails, _ error) {
			if opts != nil && opts.Flags != nil && opts.Flags.Local {
				cb(local, nil)
				return
			}
			if a.err != nil {
				cb(nil, a.err)
				return
			}
			others := a.ServerCount() - 1
			if others <= 0 {
				cb(local, nil)
				return
			}
			p := &pending{want: others, sockets: local, done: make(chan struct{})}
			req := request{Type: "fetch", UID: a.uid, RequestID: randomID(8)}
			if opts != nil {
				req.Rooms, req.Except = keys(opts.Rooms), keys(opts.Except)
			}
			a.mu.Lock()
			a.pending[req.RequestID] = p
			a.mu.Unlock()
			if err := a.publish(a.reqCh, &req); err != nil {
				a.mu.Lock()
				delete(a.pending, req.RequestID)
				a.mu.Unlock()
				cb(nil, err)
				return
			}
			timeout := a.b.Timeout
			if timeout <= 0 {
				timeout = DefaultTimeout
			}
			go func() {
				t := time.NewTimer(timeout)
				defer t.Stop()
				select {
				case <-p.done:
					a.mu.Lock() // p.sockets was last written under mu
					sockets := p.sockets
					a.mu.Unlock()
					cb(sockets, nil)
				case <-t.C:
					a.mu.Lock()
					delete(a.pending, req.RequestID)
					a.mu.Unlock()
					cb(nil, errors.New("sioadapter: timeout reached while waiting for fetchSockets responses"))
				}
			}()
		})
	}
}

// DisconnectSockets disconnects the matching sockets here and on every
// other server.
func (a *adapter) DisconnectSockets(opts *socket.BroadcastOptions, status bool) {
	a.Adapter.DisconnectSockets(opts, status)
	if opts != nil && opts.Flags != nil && opts.Flags.Local {
		return
	}
	req := request{Type: "disconnect", UID: a.uid, Close: status}
	if opts != nil {
		req.Rooms, req.Except = keys(opts.Rooms), keys(opts.Except)
	}
	_ = a.publish(a.reqCh, &req)
}
