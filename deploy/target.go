package deploy

import (
	"strconv"

	"github.com/greenlight-cd/greenlight"
)

// Target is one place a release goes: a directory on the server's machine
// (Local) or on a host reached over SSH. Env is given to its hooks and fills
// {env.NAME} in the health URL.
type Target struct {
	Local string
	SSH   *SSHTarget
	Group string // blue-green group; "" otherwise
	Env   map[string]string
}

// SSHTarget is a directory on a host reached over SSH.
type SSHTarget struct {
	User       string
	Host       string
	Port       int    // default 22
	Dir        string // absolute path on the host: releases/ and current live there
	Key        string // private key file; "" = the SSH agent (SSH_AUTH_SOCK)
	KnownHosts string // known_hosts file the host key must be in; required
}

// Name identifies the target in logs, outcomes and stored states.
func (t Target) Name() string {
	if t.SSH != nil {
		return t.SSH.User + "@" + t.SSH.Host + ":" + strconv.Itoa(t.SSH.Port) + ":" + t.SSH.Dir
	}
	return t.Local
}

// checked returns t with defaults filled, or an EINVALID error.
func (t Target) checked() (Target, error) {
	if t.SSH != nil {
		return t, greenlight.Errorf(greenlight.EINVALID, "deploy: ssh targets are not supported yet")
	}
	dir, err := localDir(t.Local)
	if err != nil {
		return t, err
	}
	t.Local = dir
	return t, nil
}

// connPool holds the SSH connections of one deploy, so that every step on a
// host reuses one connection; Deploy closes it at its end.
type connPool struct{}

func newConnPool() *connPool { return &connPool{} }

// Close closes every connection of the pool.
func (p *connPool) Close() error { return nil }

// hostFor returns the host that carries out deploys on t, over conns for an
// SSH target.
func (d *Deployer) hostFor(t Target, conns *connPool) (host, error) {
	return &localHost{dir: t.Local, base: d.base, unpack: d.unpack}, nil
}
