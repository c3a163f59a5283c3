/*
 * doorbell.c - waking the collector, both sides of it: producers ring
 * (mp_wake_collector), the collector sleeps until rung (mp_doorbell_sleep).
 *
 * The collector never polls (SPEC: a process that does nothing costs
 * nothing). It sleeps in poll() on its doorbell and its request socket,
 * with a timeout that ends when its next periodic work is due. Producers
 * ring only when a ring passes half full, when they stall on a full one
 * and when a thread's ring retires (ring.c); the snapshot signal, exit and
 * unshare ring too; and only while the collector sleeps, so at most one
 * doorbell is ever pending.
 *
 * The doorbell is MP_DOORBELL_SIGNAL sent to the collector's thread alone
 * with tgkill, which the collector keeps blocked and reads through a
 * signalfd: no descriptor in the program's table (the signalfd is in the
 * collector's private one, os.c), no handler, no disposition changed
 * (shim.h says why that signal). Where the kernel gives no private table
 * (a sandbox refusing close_range and unshare) there is no signalfd, for
 * it would be the program's to see: the doorbell is then a transient
 * connection to the request socket (closed before mp_wake_collector
 * returns), or, without a socket, a futex wake-up. A program that uses
 * the signal itself makes the collector switch to those for good
 * (clear_doorbell).
 */
#include "shim.h"

#include "memprof_protocol.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#define FALLBACK_POLL_MS 100   /* clients waiting, no socket, no signalfd: look this often */

/* Set by the collector: while false, producers neither ring nor wait. */
_Atomic int mp_collector_running;

/* mp_collector_asleep is set by the collector while it sleeps and taken by
 * the one producer that rings, so that at most one doorbell is ever
 * pending; doorbell_tid is the collector's thread while it reads its
 * doorbell through a signalfd (0: the socket or the futex word
 * mp_collector_wake instead), and doorbell_senders counts producers
 * between reading it and ringing. */
_Atomic int mp_collector_asleep;
_Atomic uint32_t mp_collector_wake;
static _Atomic pid_t doorbell_tid;
static _Atomic int doorbell_by_socket;
static _Atomic int doorbell_senders;

/* The collector's signalfd, in its private table (-1: none). */
static int wake_fd = -1;

/* Set once the signalfd took a signal that was not a doorbell: the
 * program uses MP_DOORBELL_SIGNAL, and no collector (this one, later
 * ones, a fork child's) reads it again. */
static _Atomic int program_uses_doorbell_signal;

/* ---- the producers' side ---- */

/* Without a private table (os.c): a connection to the collector's request
 * socket, which it accepts and closes, seeing it comes from our own pid
 * (request.c). Non-blocking, so a full backlog (wake-ups are pending
 * already) costs nothing; the descriptor exists only for these three
 * system calls. */
static bool connect_doorbell(void)
{
    struct sockaddr_un addr;
    socklen_t len = mp_proto_address(mp_pid, &addr);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    int rc = connect(fd, (struct sockaddr *)&addr, len);
    bool rung = rc == 0 || errno == EAGAIN || errno == EINPROGRESS;
    close(fd);
    return rung;
}

/* The signal goes to the collector's thread alone (tgkill), which keeps
 * it blocked: no handler runs, the program's disposition is untouched,
 * and no descriptor is made in the program's table. */
static void ring_doorbell(void)
{
    atomic_fetch_add(&doorbell_senders, 1);
    pid_t tid = atomic_load(&doorbell_tid);
    if (tid > 0)
        syscall(SYS_tgkill, getpid(), tid, MP_DOORBELL_SIGNAL);
    else if (!atomic_load(&doorbell_by_socket) || !connect_doorbell())
        mp_futex_wake(&mp_collector_wake);
    atomic_fetch_sub(&doorbell_senders, 1);
}

/* Async-signal-safe; one atomic load when no collector runs, two when it
 * is awake. The wake word is bumped before "asleep" is looked at, and the
 * collector sets "asleep" before it looks at the word: either it sees the
 * bump and does not sleep, or we see it asleep and ring. */
void mp_wake_collector(void)
{
    if (!atomic_load_explicit(&mp_collector_running, memory_order_relaxed))
        return;
    int saved = errno;
    atomic_fetch_add(&mp_collector_wake, 1);
    if (atomic_load(&mp_collector_asleep) && atomic_exchange(&mp_collector_asleep, 0))
        ring_doorbell();
    errno = saved;
}

/* ---- the collector's side ---- */

/* The doorbell: MP_DOORBELL_SIGNAL, blocked on the collector's thread
 * (every signal is), read through a signalfd. Only with a private table:
 * a signalfd in the program's table would be one more descriptor it
 * could see. */
void mp_doorbell_listen(void)
{
    if (!mp_fd_table_private() || atomic_load(&program_uses_doorbell_signal))
        return;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, MP_DOORBELL_SIGNAL);
    wake_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (wake_fd >= 0)
        atomic_store(&doorbell_tid, (pid_t)syscall(SYS_gettid));
}

/* The collector leaves, or stops reading the signal: once this returns no
 * producer can still send to its thread id (which a new thread of the
 * program may get). */
void mp_doorbell_close(void)
{
    atomic_store(&doorbell_tid, 0);
    atomic_store(&doorbell_by_socket, 0);
    while (atomic_load(&doorbell_senders))
        sched_yield();
    if (wake_fd >= 0)
        close(wake_fd);
    wake_fd = -1;
}

/* Queues a signal the signalfd took back to the process: as it came when
 * the kernel lets us (a sigqueue's), else as a kill() of the process by
 * itself (only the main thread may queue the codes of kill() and of the
 * kernel, so SIGURG for out-of-band data comes back as SI_USER). */
static void give_back(const struct signalfd_siginfo *s)
{
    siginfo_t info;
    memset(&info, 0, sizeof(info));
    info.si_signo = (int)s->ssi_signo;
    info.si_errno = s->ssi_errno;
    info.si_code = s->ssi_code;
    info.si_pid = (pid_t)s->ssi_pid;
    info.si_uid = (uid_t)s->ssi_uid;
    info.si_value.sival_ptr = (void *)(uintptr_t)s->ssi_ptr;
    if (syscall(SYS_rt_sigqueueinfo, getpid(), (int)s->ssi_signo, &info) != 0)
        kill(getpid(), (int)s->ssi_signo);
}

/*
 * Our doorbells are tgkill's from this process (SI_TKILL, our pid). But a
 * signalfd also dequeues the process-directed signals pending for the
 * whole process, and it is woken by them: a SIGURG for out-of-band data
 * (F_SETOWN) or a kill() would be taken from the program whenever the
 * collector read before a program thread took it (a quarter of them on a
 * loaded machine), and every one a program waits for with every thread
 * blocking it. So the first such signal makes the collector stop reading
 * the signal: the doorbell closes (no more tgkill to us, and the signalfd
 * goes, so nothing of ours dequeues it), the collector is rung from then
 * on as without a private table (a connection to its socket, or the
 * futex), and the signal is queued to the process again, where the kernel
 * gives it to a program thread exactly as without the shim.
 */
static void clear_doorbell(void)
{
    struct signalfd_siginfo si[4], foreign[4];
    int nforeign = 0;
    pid_t me = getpid();
    ssize_t got;
    while ((got = read(wake_fd, si, sizeof(si))) > 0) {
        for (size_t i = 0; i < (size_t)got / sizeof(si[0]); i++)
            if ((si[i].ssi_code != SI_TKILL || (pid_t)si[i].ssi_pid != me) && nforeign < 4)
                foreign[nforeign++] = si[i];
    }
    if (nforeign == 0)
        return;
    atomic_store(&program_uses_doorbell_signal, 1);
    mp_doorbell_close();
    for (int i = 0; i < nforeign; i++)
        give_back(&foreign[i]);
}

/* Sleeps for ms (-1: no timeout) on the doorbell and the request fds p[n]
 * (room for one more); listening: the request socket is among them. The
 * doorbell rings only while mp_collector_asleep is set, so the wake word
 * is looked at once more after setting it: seen is its value before the
 * pass, and a ring during the pass is not lost. */
void mp_doorbell_sleep(struct pollfd *p, int n, int ms, uint32_t seen, bool listening)
{
    bool by_socket = wake_fd < 0 && listening;
    atomic_store(&doorbell_by_socket, by_socket);   /* before "asleep": how to ring us */
    atomic_store(&mp_collector_asleep, 1);
    if (atomic_load(&mp_collector_wake) != seen) {
        /* rung during the pass: no sleep, go round again */
    } else if (wake_fd >= 0) {
        p[n++] = (struct pollfd){.fd = wake_fd, .events = POLLIN};
        poll(p, (nfds_t)n, ms);
        clear_doorbell();
    } else if (by_socket) {   /* no private table: connections wake us */
        poll(p, (nfds_t)n, ms);
    } else if (n > 0) {   /* clients pending without a socket: briefly */
        poll(p, (nfds_t)n, ms < 0 || ms > FALLBACK_POLL_MS ? FALLBACK_POLL_MS : ms);
    } else {
        mp_futex_wait(&mp_collector_wake, seen,
                      ms < 0 ? 86400000000000ull : (uint64_t)ms * 1000000u);
    }
    atomic_store(&mp_collector_asleep, 0);
    atomic_store(&doorbell_by_socket, 0);
}

/* The parent's collector thread, its signalfd and its senders do not
 * exist in a fork child. */
void mp_doorbell_after_fork_child(void)
{
    wake_fd = -1;
    atomic_store(&mp_collector_running, 0);
    atomic_store(&mp_collector_asleep, 0);
    atomic_store(&doorbell_tid, 0);
    atomic_store(&doorbell_by_socket, 0);
    atomic_store(&doorbell_senders, 0);
}
