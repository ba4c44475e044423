package deploy

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SSH connection timings. A deploy holds one connection per host for its
// whole length; keepalives notice a host that went away without closing it
// (a crash, a cut network), so that waiting steps fail instead of hanging.
const (
	sshDialTimeout      = 15 * time.Second
	sshKeepaliveEvery   = 5 * time.Second
	sshKeepaliveTimeout = 15 * time.Second
)

// connPool holds the SSH connections of one deploy, so that every step on a
// host reuses one connection; Deploy closes it at its end. It is safe for
// concurrent use: rollouts on different hosts dial in parallel, and two
// targets on one host (two directories) share its connection.
type connPool struct {
	mu     sync.Mutex
	conns  map[string]*poolConn
	closed bool
}

// poolConn is one host's connection, dialled on first use. Its mutex makes
// the second user wait for the first one's dial instead of dialling twice.
type poolConn struct {
	mu     sync.Mutex
	client *ssh.Client
	dead   error // set when the connection ended: later users get this
}

func newConnPool() *connPool { return &connPool{conns: map[string]*poolConn{}} }

// Close closes every connection of the pool.
func (p *connPool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	var errs []error
	for _, c := range p.conns {
		c.mu.Lock()
		if c.client != nil {
			if err := c.client.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				errs = append(errs, err)
			}
		}
		c.mu.Unlock()
	}
	return errors.Join(errs...)
}

// client returns the connection to t's host, dialling it on first use. A
// connection that died is not redialled: the deploy is about that host
// being reachable throughout, and its steps must fail promptly, not retry.
func (p *connPool) client(ctx context.Context, t *SSHTarget) (*ssh.Client, error) {
	key := t.User + "@" + net.JoinHostPort(t.Host, strconv.Itoa(t.Port)) + "\x00" + t.Key + "\x00" + t.KnownHosts
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, fmt.Errorf("%s: deploy is over: connection pool closed", sshName(t))
	}
	c := p.conns[key]
	if c == nil {
		c = &poolConn{}
		p.conns[key] = c
	}
	p.mu.Unlock()

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client != nil {
		return c.client, nil
	}
	if c.dead != nil {
		return nil, c.dead
	}
	client, err := dialSSH(ctx, t)
	if err != nil {
		return nil, err // not cached: a later step may find the host up
	}
	c.client = client
	go func() {
		err := client.Wait()
		c.mu.Lock()
		c.dead = fmt.Errorf("%s: connection lost: %v", sshName(t), orEOF(err))
		c.client = nil
		c.mu.Unlock()
	}()
	go keepalive(client, sshName(t))
	return client, nil
}

func orEOF(err error) error {
	if err == nil {
		return errors.New("closed by the host")
	}
	return err
}

// sshName is how errors name a host: user@host:port.
func sshName(t *SSHTarget) string {
	return t.User + "@" + net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
}

// keepalive asks the host for a reply every few seconds and closes the
// connection when one does not come in time, which fails every session
// waiting on it.
func keepalive(c *ssh.Client, name string) {
	tick := time.NewTicker(sshKeepaliveEvery)
	defer tick.Stop()
	for range tick.C {
		reply := make(chan error, 1)
		go func() {
			// Any answer, even "unknown request", proves the host is there.
			_, _, err := c.SendRequest("keepalive@openssh.com", true, nil)
			reply <- err
		}()
		select {
		case err := <-reply:
			if err != nil {
				return // the connection is closed already
			}
		case <-time.After(sshKeepaliveTimeout):
			c.Close()
			return
		}
	}
}

// dialSSH connects and authenticates to t's host, checking its key against
// t.KnownHosts. It stops when ctx is done.
func dialSSH(ctx context.Context, t *SSHTarget) (*ssh.Client, error) {
	name := sshName(t)
	addr := net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
	check, algos, err := hostKeyCheck(t.KnownHosts, addr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	auth, closeAuth, err := sshAuth(t.Key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	cfg := &ssh.ClientConfig{
		User:              t.User,
		Auth:              []ssh.AuthMethod{auth},
		HostKeyCallback:   check,
		HostKeyAlgorithms: algos,
		Timeout:           sshDialTimeout,
	}
	dctx, cancel := context.WithTimeout(ctx, sshDialTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		closeAuth()
		return nil, fmt.Errorf("%s: connect: %w", name, err)
	}
	// The handshake has no ctx of its own: closing the socket ends it.
	stop := context.AfterFunc(dctx, func() { conn.Close() })
	cc, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	closed := !stop()
	if err != nil {
		conn.Close()
		closeAuth()
		if closed && dctx.Err() != nil {
			return nil, fmt.Errorf("%s: ssh handshake: %w", name, dctx.Err())
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	client := ssh.NewClient(cc, chans, reqs)
	go func() { client.Wait(); closeAuth() }()
	return client, nil
}

// sshAuth authenticates with the key file, or with the agent at
// SSH_AUTH_SOCK when key is "". The returned func releases the agent.
func sshAuth(key string) (ssh.AuthMethod, func(), error) {
	if key != "" {
		b, err := os.ReadFile(key)
		if err != nil {
			return nil, nil, fmt.Errorf("read ssh key: %w", err)
		}
		signer, err := ssh.ParsePrivateKey(b)
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			return nil, nil, fmt.Errorf("ssh key %s is protected by a passphrase: load it into an ssh-agent and leave key unset", key)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("ssh key %s: %w", key, err)
		}
		return ssh.PublicKeys(signer), func() {}, nil
	}
	sock := os.Getenv("SSH_AUTH_SOCK")
	if sock == "" {
		return nil, nil, errors.New("no ssh key configured and SSH_AUTH_SOCK is not set: set key, or run the server with an ssh-agent")
	}
	conn, err := net.Dial("unix", sock)
	if err != nil {
		return nil, nil, fmt.Errorf("ssh agent: %w", err)
	}
	ag := agent.NewClient(conn)
	return ssh.PublicKeysCallback(ag.Signers), func() { conn.Close() }, nil
}

// probeKey is a key no known_hosts file holds: asking the callback about it
// reveals which keys the file does hold for a host.
var probeKey = func() ssh.PublicKey {
	pub, _, _ := ed25519.GenerateKey(nil)
	k, _ := ssh.NewPublicKey(pub)
	return k
}()

// hostKeyCheck returns the host key callback of knownHostsFile, with the key
// algorithms it holds for addr so that the host offers one of those (a host
// with several keys could otherwise show one the file lacks, which would
// look like a changed key). An unknown host is refused: no trust on first use.
func hostKeyCheck(knownHostsFile, addr string) (ssh.HostKeyCallback, []string, error) {
	if knownHostsFile == "" {
		return nil, nil, errors.New("no known_hosts file configured: refusing to connect to an unverified host")
	}
	cb, err := knownhosts.New(knownHostsFile)
	if err != nil {
		return nil, nil, fmt.Errorf("known_hosts: %w", err)
	}
	var algos []string
	var ke *knownhosts.KeyError
	remote := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}
	if err := cb(addr, remote, probeKey); errors.As(err, &ke) {
		for _, k := range ke.Want {
			algos = append(algos, keyAlgorithms(k.Key.Type())...)
		}
	}
	check := func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		err := cb(hostname, remote, key)
		var ke *knownhosts.KeyError
		var re *knownhosts.RevokedError
		switch {
		case errors.As(err, &ke) && len(ke.Want) == 0:
			return fmt.Errorf("host key of %s (%s %s) is not in known_hosts %s: refusing to connect (check the key, then add it: ssh-keyscan -p PORT HOST >> %s)",
				knownhosts.Normalize(hostname), key.Type(), ssh.FingerprintSHA256(key), knownHostsFile, knownHostsFile)
		case errors.As(err, &ke):
			w := ke.Want[0]
			return fmt.Errorf("host key of %s has CHANGED: it shows %s %s, but known_hosts %s:%d holds another key: refusing to connect (a replaced host, or someone in between)",
				knownhosts.Normalize(hostname), key.Type(), ssh.FingerprintSHA256(key), w.Filename, w.Line)
		case errors.As(err, &re):
			return fmt.Errorf("host key of %s is revoked in known_hosts %s: refusing to connect", knownhosts.Normalize(hostname), knownHostsFile)
		case err != nil:
			return fmt.Errorf("host key of %s: %w", knownhosts.Normalize(hostname), err)
		}
		return nil
	}
	return check, algos, nil
}

// keyAlgorithms are the signature algorithms a host key of keyType can
// sign with; an RSA key signs with SHA-2 today.
func keyAlgorithms(keyType string) []string {
	if keyType == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{keyType}
}
