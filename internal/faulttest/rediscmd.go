package faulttest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// cmdTimeout bounds one control command (dial, write and read) sent to a
// private Redis server or sentinel.
const cmdTimeout = 2 * time.Second

// redisCmd sends one command to the Redis server (or sentinel) at addr on a
// connection of its own and returns the reply: a string (simple or bulk),
// an int64, nil (a null reply), or a []any of those; an error reply is
// returned as an error. It starts no goroutine, so the control traffic of
// the fault tests never shows up in a leak check.
func redisCmd(addr string, args ...string) (any, error) {
	c, err := net.DialTimeout("tcp", addr, cmdTimeout)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(cmdTimeout))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return nil, err
	}
	return readReply(bufio.NewReader(c))
}

// errReply is a Redis error reply.
type errReply string

func (e errReply) Error() string { return string(e) }

// readReply reads one RESP2 reply.
func readReply(r *bufio.Reader) (any, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return nil, errors.New("faulttest: empty reply line")
	}
	body := line[1:]
	switch line[0] {
	case '+':
		return body, nil
	case '-':
		return nil, errReply(body)
	case ':':
		return strconv.ParseInt(body, 10, 64)
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return nil, err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return nil, err
		}
		out := make([]any, n)
		for i := range out {
			if out[i], err = readReply(r); err != nil {
				var e errReply
				if !errors.As(err, &e) {
					return nil, err
				}
				out[i] = e
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("faulttest: unexpected reply %q", line)
}

// redisString sends a command whose reply is a string.
func redisString(addr string, args ...string) (string, error) {
	v, err := redisCmd(addr, args...)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("faulttest: %s: reply %v is not a string", args[0], v)
	}
	return s, nil
}

// infoField returns one field of an INFO or CLUSTER INFO text ("" when
// absent).
func infoField(info, name string) string {
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), name+":"); ok {
			return v
		}
	}
	return ""
}

// role returns "master" or "slave" (ROLE's first element) for the server
// at addr.
func role(addr string) (string, error) {
	v, err := redisCmd(addr, "ROLE")
	if err != nil {
		return "", err
	}
	if a, ok := v.([]any); ok && len(a) > 0 {
		if s, ok := a[0].(string); ok {
			return s, nil
		}
	}
	return "", fmt.Errorf("faulttest: ROLE: unexpected reply %v", v)
}

// await calls cond every 20 ms until it reports true or timeout passed; it
// then returns cond's last error (or a timeout error naming what).
func await(what string, timeout time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("%s: not within %v: %w", what, timeout, err)
			}
			return fmt.Errorf("%s: not within %v", what, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
