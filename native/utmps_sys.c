/* utmps_sys: the few system calls Node does not offer.
 *
 * Peer credentials (SO_PEERCRED, SO_PEERGROUPS), open file description locks
 * (F_OFD_SETLK), passwd lookups through NSS (getpwnam_r, getpwuid_r), and
 * whether a peer has hung up (poll).
 * Failures come back as -errno numbers; only wrong argument types throw.
 * src/sys/native.ts is the only caller and turns -errno into errors. */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* struct ucred, F_OFD_SETLK */
#endif
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#include <node_api.h>

/* Linux 4.13+; older headers lack it, older kernels answer ENOPROTOOPT. */
#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif

/* No user entry needs more; stops a misbehaving NSS module from eating memory. */
#define PW_BUF_MAX (1024 * 1024)

/* ---- small helpers ---- */

static napi_value int_value(napi_env env, int32_t n)
{
  napi_value v;
  if (napi_create_int32(env, n, &v) != napi_ok) return NULL;
  return v;
}

static napi_value uint_value(napi_env env, uint32_t n)
{
  napi_value v;
  if (napi_create_uint32(env, n, &v) != napi_ok) return NULL;
  return v;
}

static napi_value string_value(napi_env env, const char *s)
{
  napi_value v;
  if (napi_create_string_utf8(env, s ? s : "", NAPI_AUTO_LENGTH, &v) != napi_ok) return NULL;
  return v;
}

static bool set_prop(napi_env env, napi_value obj, const char *key, napi_value v)
{
  return v && napi_set_named_property(env, obj, key, v) == napi_ok;
}

/* Fetches up to n arguments; missing ones read as undefined. */
static bool get_args(napi_env env, napi_callback_info info, size_t n, napi_value *argv)
{
  size_t argc = n;
  return napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok;
}

static bool is_number(napi_env env, napi_value v)
{
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) {
    napi_throw_type_error(env, NULL, "expected a number");
    return false;
  }
  return true;
}

static bool get_int(napi_env env, napi_value v, int32_t *out)
{
  return is_number(env, v) && napi_get_value_int32(env, v, out) == napi_ok;
}

static bool get_uint(napi_env env, napi_value v, uint32_t *out)
{
  return is_number(env, v) && napi_get_value_uint32(env, v, out) == napi_ok;
}

/* Returns a malloc'd copy of a JS string, or NULL with a pending exception.
 * An embedded NUL would make C see a different name than JS did. */
static char *get_name(napi_env env, napi_value v)
{
  napi_valuetype t;
  size_t len;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_string) {
    napi_throw_type_error(env, NULL, "expected a string");
    return NULL;
  }
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *s = malloc(len + 1);
  if (!s) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  if (napi_get_value_string_utf8(env, v, s, len + 1, &len) != napi_ok) {
    free(s);
    return NULL;
  }
  if (strlen(s) != len) {
    free(s);
    napi_throw_type_error(env, NULL, "string contains a NUL byte");
    return NULL;
  }
  return s;
}

/* ---- sockets ---- */

/* 1 if fd is an AF_UNIX socket, 0 for any other socket, -errno (ENOTSOCK...). */
static int unix_domain(int fd)
{
  int domain;
  socklen_t len = sizeof domain;
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0) return -errno;
  return domain == AF_UNIX;
}

static napi_value is_unix_socket(napi_env env, napi_callback_info info)
{
  napi_value argv[1];
  int32_t fd;
  if (!get_args(env, info, 1, argv) || !get_int(env, argv[0], &fd)) return NULL;
  return int_value(env, unix_domain(fd));
}

/* Supplementary groups of the peer. *count is -1 when the kernel lacks
 * SO_PEERGROUPS. The list is sized by asking first: ERANGE reports the
 * length needed. Returns 0 or a positive errno. */
static int peer_groups(int fd, gid_t **out, int *count)
{
  socklen_t want = 0;
  *out = NULL;
  *count = -1;
  for (;;) {
    gid_t *g = NULL;
    socklen_t got = want;
    if (want && !(g = malloc(want))) return ENOMEM;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &got) == 0) {
      *out = g;
      *count = (int)(got / sizeof(gid_t));
      return 0;
    }
    int e = errno;
    free(g);
    if (e == ERANGE && got > want) {
      want = got;
      continue;
    }
    if (e == ENOPROTOOPT) return 0;
    /* The kernel has no peer credentials on an unconnected socket. */
    return e == ENODATA ? ENOTCONN : e;
  }
}

/* { pid, uid, gid, groups: number[] | null } or -errno. */
static napi_value peer_credentials(napi_env env, napi_callback_info info)
{
  napi_value argv[1], obj, arr = NULL;
  int32_t fd;
  if (!get_args(env, info, 1, argv) || !get_int(env, argv[0], &fd)) return NULL;

  /* SO_PEERCRED on other families yields a made-up uid; refuse them. */
  int unix_fd = unix_domain(fd);
  if (unix_fd < 0) return int_value(env, unix_fd);
  if (!unix_fd) return int_value(env, -EAFNOSUPPORT);

  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) return int_value(env, -errno);

  gid_t *groups;
  int ngroups;
  int e = peer_groups(fd, &groups, &ngroups);
  if (e) return int_value(env, -e);

  bool ok = napi_create_object(env, &obj) == napi_ok;
  if (ok && ngroups >= 0) {
    ok = napi_create_array_with_length(env, (size_t)ngroups, &arr) == napi_ok;
    for (int i = 0; ok && i < ngroups; i++) {
      napi_value g = uint_value(env, groups[i]);
      ok = g && napi_set_element(env, arr, (uint32_t)i, g) == napi_ok;
    }
  } else if (ok) {
    ok = napi_get_null(env, &arr) == napi_ok;
  }
  free(groups);
  ok = ok && set_prop(env, obj, "pid", int_value(env, cred.pid))
       && set_prop(env, obj, "uid", uint_value(env, cred.uid))
       && set_prop(env, obj, "gid", uint_value(env, cred.gid))
       && set_prop(env, obj, "groups", arr);
  return ok ? obj : NULL;
}

/* ---- locks ---- */

/* setLock(fd, op): op 0 read, 1 write, 2 unlock; whole file, so the lock also
 * covers bytes appended later. OFD locks belong to the open file description,
 * not the process: two opens in one process conflict, as the daemons need. */
static napi_value set_lock(napi_env env, napi_callback_info info)
{
  static const short types[] = { F_RDLCK, F_WRLCK, F_UNLCK };
  napi_value argv[2];
  int32_t fd, op;
  if (!get_args(env, info, 2, argv) || !get_int(env, argv[0], &fd) || !get_int(env, argv[1], &op))
    return NULL;
  if (op < 0 || op > 2) return int_value(env, -EINVAL);

  struct flock fl;
  memset(&fl, 0, sizeof fl); /* l_pid must be 0 for OFD locks */
  fl.l_type = types[op];
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 0;
  return int_value(env, fcntl(fd, F_OFD_SETLK, &fl) < 0 ? -errno : 0);
}

/* ---- hang-ups ---- */

/* pollHangup(fd): poll's revents for fd without waiting, asking for nothing, so
 * only POLLHUP, POLLERR and POLLNVAL can come back. On a Unix stream socket
 * POLLHUP means the peer closed both directions: a shutdown(SHUT_WR) alone
 * only makes reads see EOF. Node offers no way to tell the two apart. */
static napi_value poll_hangup(napi_env env, napi_callback_info info)
{
  napi_value argv[1];
  int32_t fd;
  if (!get_args(env, info, 1, argv) || !get_int(env, argv[0], &fd)) return NULL;
  struct pollfd p = { .fd = fd, .events = 0, .revents = 0 };
  int r;
  do r = poll(&p, 1, 0);
  while (r < 0 && errno == EINTR);
  return int_value(env, r < 0 ? -errno : p.revents);
}

/* ---- passwd ---- */

/* Looks up by name, or by uid when name is NULL. Returns 0, with *res NULL
 * when the user does not exist, or a positive errno. *bufp grows as needed
 * and stays owned by the caller, since *pw points into it. */
static int pw_lookup(const char *name, uid_t uid, struct passwd *pw, struct passwd **res, char **bufp)
{
  long hint = sysconf(_SC_GETPW_R_SIZE_MAX);
  size_t size = hint > 0 ? (size_t)hint : 1024;
  for (;;) {
    char *buf = realloc(*bufp, size);
    if (!buf) return ENOMEM;
    *bufp = buf;
    *res = NULL;
    int e = name ? getpwnam_r(name, pw, buf, size, res) : getpwuid_r(uid, pw, buf, size, res);
    if (e == ERANGE && size < PW_BUF_MAX) {
      size *= 2;
      continue;
    }
    if (e == EINTR) continue;
    /* getpwnam_r(3) lists these as ways of saying "not found". */
    if (e == ENOENT || e == ESRCH || e == EBADF || e == EPERM) {
      *res = NULL;
      return 0;
    }
    return e;
  }
}

/* { name, uid, gid, dir, shell }, null, or -errno. */
static napi_value pw_value(napi_env env, int err, const struct passwd *p)
{
  napi_value obj;
  if (err) return int_value(env, -err);
  if (!p) {
    napi_value null;
    return napi_get_null(env, &null) == napi_ok ? null : NULL;
  }
  if (napi_create_object(env, &obj) != napi_ok) return NULL;
  bool ok = set_prop(env, obj, "name", string_value(env, p->pw_name))
            && set_prop(env, obj, "uid", uint_value(env, p->pw_uid))
            && set_prop(env, obj, "gid", uint_value(env, p->pw_gid))
            && set_prop(env, obj, "dir", string_value(env, p->pw_dir))
            && set_prop(env, obj, "shell", string_value(env, p->pw_shell));
  return ok ? obj : NULL;
}

static napi_value getpwnam_sync(napi_env env, napi_callback_info info)
{
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  char *name = get_name(env, argv[0]);
  if (!name) return NULL;
  struct passwd pw, *res;
  char *buf = NULL;
  int e = pw_lookup(name, 0, &pw, &res, &buf);
  napi_value v = pw_value(env, e, res);
  free(buf);
  free(name);
  return v;
}

static napi_value getpwuid_sync(napi_env env, napi_callback_info info)
{
  napi_value argv[1];
  uint32_t uid;
  if (!get_args(env, info, 1, argv) || !get_uint(env, argv[0], &uid)) return NULL;
  struct passwd pw, *res;
  char *buf = NULL;
  int e = pw_lookup(NULL, (uid_t)uid, &pw, &res, &buf);
  napi_value v = pw_value(env, e, res);
  free(buf);
  return v;
}

/* NSS may talk to LDAP or sssd, so the async form runs on the libuv pool. */
struct pw_job {
  napi_async_work work;
  napi_deferred deferred;
  char *name; /* NULL: look up by uid */
  uid_t uid;
  struct passwd pw;
  struct passwd *res;
  char *buf;
  int err;
};

static void pw_job_free(struct pw_job *job)
{
  free(job->buf);
  free(job->name);
  free(job);
}

static void pw_job_execute(napi_env env, void *data)
{
  struct pw_job *job = data;
  (void)env; /* no Node-API calls off the main thread */
  job->err = pw_lookup(job->name, job->uid, &job->pw, &job->res, &job->buf);
}

static void pw_job_complete(napi_env env, napi_status status, void *data)
{
  struct pw_job *job = data;
  napi_value v = pw_value(env, status == napi_cancelled ? ECANCELED : job->err, job->res);
  /* The promise always resolves; native.ts decides what is an error. */
  if (v) napi_resolve_deferred(env, job->deferred, v);
  else {
    napi_value err = NULL;
    napi_get_and_clear_last_exception(env, &err);
    napi_reject_deferred(env, job->deferred, err);
  }
  napi_delete_async_work(env, job->work);
  pw_job_free(job);
}

/* Runs a passwd lookup on the thread pool; the promise settles in pw_job_complete. */
static napi_value queue_pw_job(napi_env env, struct pw_job *job, const char *name)
{
  napi_value promise, resource_name;
  if (napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource_name) != napi_ok
      || napi_create_async_work(env, NULL, resource_name, pw_job_execute, pw_job_complete, job, &job->work) != napi_ok) {
    pw_job_free(job);
    return NULL;
  }
  if (napi_create_promise(env, &job->deferred, &promise) != napi_ok
      || napi_queue_async_work(env, job->work) != napi_ok) {
    napi_delete_async_work(env, job->work);
    pw_job_free(job);
    return NULL;
  }
  return promise;
}

static napi_value getpwnam_async(napi_env env, napi_callback_info info)
{
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  struct pw_job *job = calloc(1, sizeof *job);
  if (!job) return int_value(env, -ENOMEM);
  if (!(job->name = get_name(env, argv[0]))) {
    free(job);
    return NULL;
  }
  return queue_pw_job(env, job, "utmps_sys:getpwnam");
}

/* By uid: the daemons name a peer from its kernel uid, never from what it sent. */
static napi_value getpwuid_async(napi_env env, napi_callback_info info)
{
  napi_value argv[1];
  uint32_t uid;
  if (!get_args(env, info, 1, argv) || !get_uint(env, argv[0], &uid)) return NULL;
  struct pw_job *job = calloc(1, sizeof *job);
  if (!job) return int_value(env, -ENOMEM);
  job->uid = (uid_t)uid;
  return queue_pw_job(env, job, "utmps_sys:getpwuid");
}

/* ---- misc ---- */

/* One datagram to an AF_UNIX socket ('@' starts an abstract name): sd_notify, and utmps
 * ship's unix:// and journal targets. Node has no Unix datagram sockets. */
static napi_value send_unix_datagram(napi_env env, napi_callback_info info, int flags)
{
  napi_value argv[2];
  char path[sizeof ((struct sockaddr_un *)0)->sun_path + 1];
  void *data;
  size_t len, plen;
  if (!get_args(env, info, 2, argv)) return NULL;
  if (napi_get_value_string_utf8(env, argv[0], path, sizeof path, &plen) != napi_ok) return NULL;
  if (napi_get_buffer_info(env, argv[1], &data, &len) != napi_ok) return NULL;
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  if (plen == 0 || plen >= sizeof sa.sun_path) return int_value(env, -EINVAL);
  memcpy(sa.sun_path, path, plen);
  if (path[0] == '@') sa.sun_path[0] = 0;
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return int_value(env, -errno);
  ssize_t r = sendto(fd, data, len, MSG_NOSIGNAL | flags, (struct sockaddr *)&sa,
                     (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen));
  int e = r < 0 ? errno : 0;
  close(fd);
  return int_value(env, -e);
}

static napi_value notify_datagram(napi_env env, napi_callback_info info)
{
  return send_unix_datagram(env, info, 0);
}

/* MSG_DONTWAIT: a receiver whose queue is full gives -EAGAIN instead of blocking the event
 * loop (and SIGTERM with it); utmps ship waits and retries. */
static napi_value send_datagram_nowait(napi_env env, napi_callback_info info)
{
  return send_unix_datagram(env, info, MSG_DONTWAIT);
}

/* ---- process exit watch (utmpsd's reaper) ----
 *
 * A pidfd becomes readable when its process exits. Node cannot poll such an fd, so every
 * watched pidfd sits in one epoll set, and one thread of ours waits on it and writes the
 * 32-bit token of each exited process into a pipe, which Node reads like any pipe. Per
 * watched process: the pidfd and one epoll entry. EPOLLONESHOT: an exited process is
 * reported once, not for as long as its pidfd stays open. */

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/syscall.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

static int watch_epfd = -1;
static int watch_pipe[2] = { -1, -1 };

static void *watch_thread(void *arg)
{
  (void)arg;
  struct epoll_event ev[64];
  for (;;) {
    int n = epoll_wait(watch_epfd, ev, 64, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return NULL;
    }
    for (int i = 0; i < n; i++) {
      uint32_t token = ev[i].data.u32;
      ssize_t w;
      do w = write(watch_pipe[1], &token, sizeof token);
      while (w < 0 && errno == EINTR);
      /* The reader is gone (the process is ending): nothing left to tell. */
      if (w < 0) return NULL;
    }
  }
}

/* pidfdOpen(pid) -> fd or -errno (ENOSYS before Linux 5.3). */
static napi_value pidfd_open_fn(napi_env env, napi_callback_info info)
{
  napi_value argv[1];
  int32_t pid;
  if (!get_args(env, info, 1, argv) || !get_int(env, argv[0], &pid)) return NULL;
  if (pid <= 0) return int_value(env, -EINVAL);
  long fd = syscall(SYS_pidfd_open, (pid_t)pid, 0);
  return int_value(env, fd < 0 ? -errno : (int32_t)fd);
}

/* pidWatchStart() -> the pipe's read end (the same one on every call), or -errno. */
static napi_value pid_watch_start(napi_env env, napi_callback_info info)
{
  (void)info;
  if (watch_epfd >= 0) return int_value(env, watch_pipe[0]);
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) return int_value(env, -errno);
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) {
    int e = errno;
    close(epfd);
    return int_value(env, -e);
  }
  watch_epfd = epfd;
  watch_pipe[0] = p[0];
  watch_pipe[1] = p[1];
  /* Signals stay with Node's own thread. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  pthread_t t;
  int e = pthread_create(&t, &attr, watch_thread, NULL);
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (e != 0) {
    close(epfd);
    close(p[0]);
    close(p[1]);
    watch_epfd = watch_pipe[0] = watch_pipe[1] = -1;
    return int_value(env, -e);
  }
  return int_value(env, p[0]);
}

/* pidWatchAdd(pidfd, token) -> 0 or -errno; pidWatchRemove(pidfd) -> 0 or -errno. */
static napi_value pid_watch_add(napi_env env, napi_callback_info info)
{
  napi_value argv[2];
  int32_t fd;
  uint32_t token;
  if (!get_args(env, info, 2, argv) || !get_int(env, argv[0], &fd) || !get_uint(env, argv[1], &token)) return NULL;
  if (watch_epfd < 0) return int_value(env, -EBADF);
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = EPOLLIN | EPOLLONESHOT;
  ev.data.u32 = token;
  return int_value(env, epoll_ctl(watch_epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0);
}

static napi_value pid_watch_remove(napi_env env, napi_callback_info info)
{
  napi_value argv[1];
  int32_t fd;
  if (!get_args(env, info, 1, argv) || !get_int(env, argv[0], &fd)) return NULL;
  if (watch_epfd < 0) return int_value(env, -EBADF);
  return int_value(env, epoll_ctl(watch_epfd, EPOLL_CTL_DEL, fd, NULL) < 0 ? -errno : 0);
}

NAPI_MODULE_INIT()
{
  static const napi_property_descriptor props[] = {
    { "isUnixSocket", NULL, is_unix_socket, NULL, NULL, NULL, napi_enumerable, NULL },
    { "peerCredentials", NULL, peer_credentials, NULL, NULL, NULL, napi_enumerable, NULL },
    { "setLock", NULL, set_lock, NULL, NULL, NULL, napi_enumerable, NULL },
    { "pollHangup", NULL, poll_hangup, NULL, NULL, NULL, napi_enumerable, NULL },
    { "getpwnam", NULL, getpwnam_sync, NULL, NULL, NULL, napi_enumerable, NULL },
    { "getpwnamAsync", NULL, getpwnam_async, NULL, NULL, NULL, napi_enumerable, NULL },
    { "getpwuid", NULL, getpwuid_sync, NULL, NULL, NULL, napi_enumerable, NULL },
    { "getpwuidAsync", NULL, getpwuid_async, NULL, NULL, NULL, napi_enumerable, NULL },
    { "notifyDatagram", NULL, notify_datagram, NULL, NULL, NULL, napi_enumerable, NULL },
    { "sendDatagramNowait", NULL, send_datagram_nowait, NULL, NULL, NULL, napi_enumerable, NULL },
    { "pidfdOpen", NULL, pidfd_open_fn, NULL, NULL, NULL, napi_enumerable, NULL },
    { "pidWatchStart", NULL, pid_watch_start, NULL, NULL, NULL, napi_enumerable, NULL },
    { "pidWatchAdd", NULL, pid_watch_add, NULL, NULL, NULL, napi_enumerable, NULL },
    { "pidWatchRemove", NULL, pid_watch_remove, NULL, NULL, NULL, napi_enumerable, NULL },
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
