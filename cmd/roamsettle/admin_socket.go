package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// The admin socket is DB.admin/serve.sock beside the database file DB: a
// folder only its owner may enter (0700) holding a socket only its owner
// may open (0600), both checked by the client before it connects, and every
// connection's peer checked by serve with SO_PEERCRED (same uid only). A
// socket path longer than a sockaddr_un holds is reached through the
// folder's descriptor (/proc/self/fd/N/serve.sock).

const adminSocketName = "serve.sock"

// maxSocketPath is sun_path's size on Linux less its terminating NUL.
const maxSocketPath = 107

// adminDir is the admin folder of the database at db: beside the file, named
// after it with symbolic links resolved, so that every spelling of one
// database finds one folder.
func adminDir(db string) (string, error) {
	abs, err := filepath.Abs(db)
	if err != nil {
		return "", err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	} else if dir, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		abs = filepath.Join(dir, filepath.Base(abs))
	}
	return abs + ".admin", nil
}

// peer is the process at the other end of an admin connection.
type peer struct{ pid, uid int }

// checkPeer is serve's rule for a connection: the same user only, root
// included (root may read the database file anyway, but a socket that does
// work on a user's behalf answers only that user).
func checkPeer(p peer, self int) error {
	if p.uid != self {
		return fmt.Errorf("refused: this serve (uid %d) answers its own user only; process %d runs as uid %d", self, p.pid, p.uid)
	}
	return nil
}

// checkAdminDir refuses an admin folder that is not a folder, is a symbolic
// link, belongs to another user or that others may enter.
func checkAdminDir(dir string, fi fs.FileInfo, self int) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case fi.Mode()&fs.ModeSymlink != 0 || !fi.IsDir():
		return fmt.Errorf("%s is not a folder: refusing to use it as serve's admin socket folder", dir)
	case !ok:
		return fmt.Errorf("%s: cannot read its owner", dir)
	case int(st.Uid) != self:
		return fmt.Errorf("%w: %s belongs to uid %d, and its serve answers that user only", errOtherUser, dir, st.Uid)
	case fi.Mode().Perm()&0o077 != 0:
		return fmt.Errorf("%s has mode %#o: others may enter it, so its socket is not trusted (want 0700)", dir, fi.Mode().Perm())
	}
	return nil
}

// errOtherUser: the database is served by another user's serve.
var errOtherUser = errors.New("the database is owned by another user's serve")

// socketAddr is the address of the socket in dir, and a func that releases
// what reaching it took (the folder's descriptor for a long path).
func socketAddr(dir string) (string, func(), error) {
	path := filepath.Join(dir, adminSocketName)
	if len(path) <= maxSocketPath {
		return path, func() {}, nil
	}
	fd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return "", nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	return "/proc/self/fd/" + strconv.Itoa(fd) + "/" + adminSocketName, func() { syscall.Close(fd) }, nil
}

// dialAdmin connects to the serve that owns the database at db. It returns
// errNoServe when there is none: no admin folder or socket, or the socket of
// a serve that died (connection refused); the caller then opens the file.
func dialAdmin(ctx context.Context, db string) (*net.UnixConn, peer, error) {
	dir, err := adminDir(db)
	if err != nil {
		return nil, peer{}, err
	}
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, peer{}, errNoServe
	}
	if err != nil {
		return nil, peer{}, err
	}
	if err := checkAdminDir(dir, fi, os.Geteuid()); err != nil {
		return nil, peer{}, err
	}
	addr, release, err := socketAddr(dir)
	if err != nil {
		return nil, peer{}, err
	}
	defer release()
	d := net.Dialer{Timeout: 5 * time.Second}
	c, err := d.DialContext(ctx, "unix", addr)
	if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
		// No socket, or a serve that died without removing it (SIGKILL):
		// nobody listens, and the lock it held is gone with it.
		return nil, peer{}, errNoServe
	}
	if err != nil {
		return nil, peer{}, fmt.Errorf("serve's admin socket %s: %w", filepath.Join(dir, adminSocketName), err)
	}
	uc := c.(*net.UnixConn)
	p, err := peerOf(uc)
	if err == nil && p.uid != os.Geteuid() {
		err = fmt.Errorf("%w: the process on %s runs as uid %d", errOtherUser, filepath.Join(dir, adminSocketName), p.uid)
	}
	if err != nil {
		uc.Close()
		return nil, peer{}, err
	}
	return uc, p, nil
}

// peerOf reads the credentials of the process at the other end of c.
func peerOf(c *net.UnixConn) (peer, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return peer{}, err
	}
	var cred *syscall.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return peer{}, err
	}
	if cerr != nil {
		return peer{}, fmt.Errorf("SO_PEERCRED: %w", cerr)
	}
	return peer{pid: int(cred.Pid), uid: int(cred.Uid)}, nil
}

// listenAdmin makes the admin folder and socket of the database at db for
// serve, which holds the database's lock: a socket already there belongs to
// a serve that died, and is replaced.
func listenAdmin(db string) (*adminListener, error) {
	dir, err := adminDir(db)
	if err != nil {
		return nil, err
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return nil, err
	}
	self := os.Geteuid()
	if err := checkAdminDir(dir, fi, self); err != nil {
		// Ours but too open (made by hand): close it; anything else is not
		// ours to change.
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !fi.IsDir() || fi.Mode()&fs.ModeSymlink != 0 || !ok || int(st.Uid) != self {
			return nil, err
		}
		if err := os.Chmod(dir, 0o700); err != nil {
			return nil, err
		}
	}
	sock := filepath.Join(dir, adminSocketName)
	if err := os.Remove(sock); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("removing the socket a previous serve left: %w", err)
	}
	addr, release, err := socketAddr(dir)
	if err != nil {
		return nil, err
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: addr, Net: "unix"})
	if err == nil {
		ln.SetUnlinkOnClose(false) // addr may be a /proc path; Close removes sock itself
		err = os.Chmod(sock, 0o600)
		if err != nil {
			ln.Close()
		}
	}
	release()
	if err != nil {
		return nil, fmt.Errorf("admin socket %s: %w", sock, err)
	}
	return &adminListener{UnixListener: ln, path: sock}, nil
}

// adminListener removes its socket when closed.
type adminListener struct {
	*net.UnixListener
	path string
}

func (l *adminListener) Close() error {
	err := l.UnixListener.Close()
	if rerr := os.Remove(l.path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		err = errors.Join(err, rerr)
	}
	return err
}
