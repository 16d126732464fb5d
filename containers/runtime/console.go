package runtime

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// A container's terminal is a pty of its own devpts instance, as in Docker:
// the process sees /dev/pts/0 and /dev/console, and ttyname works. The init
// stage (or Exec, inside the container's mount namespace) opens it and the
// master goes to whoever relays it: over a unix socket for the monitor.

// openPty opens a new pty pair on the devpts that /dev/ptmx leads to in the
// caller's mount namespace and returns the master, the slave and the
// slave's path.
func openPty() (master, slave *os.File, name string, err error) {
	mfd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, "", fmt.Errorf("open /dev/ptmx: %w", err)
	}
	return ptyPair(mfd)
}

// ptyPair unlocks the pty whose master is mfd and opens its slave.
func ptyPair(mfd int) (master, slave *os.File, name string, err error) {
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		unix.Close(mfd)
		return nil, nil, "", fmt.Errorf("unlock pty: %w", err)
	}
	n, err := unix.IoctlGetInt(mfd, unix.TIOCGPTN)
	if err != nil {
		unix.Close(mfd)
		return nil, nil, "", fmt.Errorf("pty number: %w", err)
	}
	// TIOCGPTPEER opens the slave through the master: no path look-up that
	// a container could redirect.
	sfd, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(mfd), unix.TIOCGPTPEER, uintptr(unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC))
	if errno != 0 {
		unix.Close(mfd)
		return nil, nil, "", fmt.Errorf("open pty slave: %w", errno)
	}
	name = "/dev/pts/" + strconv.Itoa(n)
	return os.NewFile(uintptr(mfd), "ptmx"), os.NewFile(sfd, name), name, nil
}

// openPtyIn opens a new pty pair on the devpts of the container whose first
// process is pid, from outside its mount namespace: /dev/pts/ptmx is looked
// up inside the container's root, where no link of the container's can
// lead elsewhere.
func openPtyIn(pid int) (master, slave *os.File, err error) {
	root, err := unix.Open(fmt.Sprintf("/proc/%d/root", pid), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open the container's root: %w", err)
	}
	defer unix.Close(root)
	mfd, err := unix.Openat2(root, "dev/pts/ptmx", &unix.OpenHow{
		Flags:   unix.O_RDWR | unix.O_NOCTTY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("open /dev/pts/ptmx: %w", err)
	}
	m, s, _, err := ptyPair(mfd)
	return m, s, err
}

// sendFd passes f over the unix socket sock.
func sendFd(sock int, f *os.File) error {
	rights := unix.UnixRights(int(f.Fd()))
	return unix.Sendmsg(sock, []byte{'c'}, rights, nil, 0)
}

// recvFd receives one fd over the unix socket sock.
func recvFd(sock int) (*os.File, error) {
	buf := make([]byte, 1)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(sock, buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, err
	}
	if n == 0 && oobn == 0 {
		return nil, fmt.Errorf("container init exited before sending its terminal")
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("receive terminal: bad control message")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, fmt.Errorf("receive terminal: bad rights")
	}
	return os.NewFile(uintptr(fds[0]), "ptmx"), nil
}

// setupConsole runs in the init stage after pivot_root: it makes the pty,
// sends the master to the monitor, makes the slave /dev/console, stdio and
// the controlling terminal.
func setupConsole(sock int) error {
	master, slave, name, err := openPty()
	if err != nil {
		return err
	}
	defer master.Close()
	defer slave.Close()
	// /dev is the container's own tmpfs by now: no link of the image's.
	fd, err := unix.Open("/dev/console", unix.O_CREAT|unix.O_NOFOLLOW|unix.O_RDONLY|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("create /dev/console: %w", err)
	}
	unix.Close(fd)
	if err := unix.Mount(name, "/dev/console", "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("mount /dev/console: %w", err)
	}
	if err := sendFd(sock, master); err != nil {
		return fmt.Errorf("send terminal to the monitor: %w", err)
	}
	for fd := 0; fd <= 2; fd++ {
		if err := unix.Dup3(int(slave.Fd()), fd, 0); err != nil {
			return fmt.Errorf("terminal as fd %d: %w", fd, err)
		}
	}
	if err := unix.IoctlSetInt(0, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("set controlling terminal: %w", err)
	}
	return nil
}
