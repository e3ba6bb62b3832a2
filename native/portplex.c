/*
 * portplex's native data plane: owns TCP sockets from listen to close on the worker's libuv loop
 * and moves bytes with splice(2) through a shared pool of pipes. It never parses a protocol and
 * decides nothing: every decision is the TypeScript's (src/native/addon.ts is the contract,
 * src/native/ the driver), called once per event. Every syscall result is handled; every buffer
 * and every loop is bounded; a descriptor is closed exactly once, by close_socket().
 *
 * Level-triggered polling (uv_poll): a socket is watched only for what the relay waits for, so a
 * full pipe never spins the loop. An EAGAIN from splice(socket -> pipe) means "socket drained"
 * only because we fill a pipe only when it is empty; a pipe goes back to the pool only empty.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- limits ---------------------------------------------------------------------------------- */

#define SLOT_BITS 22                      /* ids: generation * 2^22 + slot */
#define MAX_SLOTS (1u << SLOT_BITS)       /* 4M connections per process at most */
#define MAX_LISTENERS 4096
#define ACCEPTS_PER_EVENT 64              /* bound the work per callback so timers keep running */
#define MOVES_PER_EVENT 8                 /* splice round trips per direction per callback */
#define PIPE_SIZE 65536                   /* the default pipe; 1 MiB measured slower */
#define MAX_POOLED_PIPES 1024
#define ACCEPT_BACKOFF_MS 100             /* after EMFILE/ENFILE: let descriptors free up */
#define COPY_CHUNK 16384                  /* the copy path when no pipe can be had */
#define CLOSED_FIELDS 5

/* Close reasons, as src/native/addon.ts's NativeClose. */
enum { R_DONE = 0, R_CLIENT_ERROR = 1, R_BACKEND_ERROR = 2, R_IDLE = 3, R_RESPONDED = 4, R_CLIENT_RESET_AFTER_FIN = 5, R_BACKEND_RESET_AFTER_FIN = 6 };

enum state { S_INSPECT, S_PAUSED, S_CONNECTING, S_CONNECTED, S_RELAY, S_RESPOND, S_CLOSED };

/* ---- types ----------------------------------------------------------------------------------- */

struct conn;

/* A listening socket's libuv watch (level-triggered: one per listener). */
typedef struct watch {
  uv_poll_t poll;
  struct listener *listener;
  int fd;
  int events; /* what uv_poll is started with now; 0: stopped */
} watch_t;

/* One direction of the relay: src -> dst. */
typedef struct dir {
  int pipe_rd, pipe_wr; /* -1: none held */
  size_t in_pipe;
  uint8_t *pending; /* userspace bytes that go to dst first */
  size_t pending_len, pending_off;
  bool eof;  /* src sent its FIN */
  bool shut; /* the FIN was passed on: shutdown(dst, SHUT_WR) */
} dir_t;

struct sock;

typedef struct conn {
  double id;
  uint32_t slot;
  enum state state;
  struct sock *cs, *bs; /* client, backend */
  uv_timer_t timer; /* connect timeout, idle timeout, respond linger, deferred connect report */
  int handles;      /* uv handles not yet closed: freed when 0 */
  dir_t up, down;   /* client -> backend, backend -> client */
  bool hold;        /* client bytes go to JS (the PROXY-signature guard) */
  bool answer_first; /* relay()'s toClient bytes (a CONNECT's 200) go out before any byte reaches the backend */
  int connect_errno;
  uint64_t idle_ms, last_active;
  bool in_ready;
  struct conn *next_ready;
  double from_client, to_client;
} conn_t;

typedef struct listener {
  double id;
  uint32_t index;
  watch_t *w;
  uv_timer_t backoff;
  int handles; /* freed when 0 */
  bool open;
  bool accepting; /* acceptOn was called: JS has put it in force */
} listener_t;

/* ---- process state --------------------------------------------------------------------------- */

static napi_env g_env;
static uv_loop_t *g_loop;
static napi_ref g_handlers, g_read_buf_ref, g_counters_ref;
static napi_ref h_accept, h_data, h_end, h_connected, h_closed, h_accept_error;
static napi_async_context g_async;
static napi_ref g_resource;
static uint8_t *g_read_buf;
static size_t g_read_len;
static double *g_counters;
static bool g_inited;

static conn_t **g_slots;
static uint32_t *g_gens;
static uint32_t g_slot_cap, g_slot_used;
static uint32_t *g_free_slots;
static uint32_t g_free_n;
static uint32_t g_open;

static listener_t *g_listeners[MAX_LISTENERS];
static uint32_t g_listener_gen[MAX_LISTENERS];

typedef struct { int rd, wr; } pipe_pair;
static pipe_pair g_pool[MAX_POOLED_PIPES];
static uint32_t g_pool_n, g_pipes_in_use;
static double g_pipes_created;

static double *g_closed;
static uint32_t g_closed_n, g_closed_cap;
static int g_depth; /* inside a uv callback that will flush */
static uv_timer_t g_flush_timer;
static int g_reserve_fd = -1; /* one descriptor kept back for shedding the accept queue at EMFILE */

/* ---- small helpers --------------------------------------------------------------------------- */

static void close_socket(int *fd) {
  if (*fd < 0) return;
  /* Linux releases the descriptor even when close reports EINTR: never retry it. */
  (void)close(*fd);
  *fd = -1;
}

static int set_int_opt(int fd, int level, int name, int value) {
  return setsockopt(fd, level, name, &value, sizeof value);
}

static int socket_error(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

/* ---- pipes ----------------------------------------------------------------------------------- */

static bool take_pipe(dir_t *d) {
  if (d->pipe_rd >= 0) return true;
  if (g_pool_n > 0) {
    pipe_pair p = g_pool[--g_pool_n];
    d->pipe_rd = p.rd;
    d->pipe_wr = p.wr;
  } else {
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return false; /* EMFILE/ENFILE: the copy path */
    d->pipe_rd = fds[0];
    d->pipe_wr = fds[1];
    g_pipes_created++;
  }
  g_pipes_in_use++;
  return true;
}

/* Gives the pipe back: to the pool only if empty (a non-empty pipe holds another stream's bytes). */
static void drop_pipe(dir_t *d) {
  if (d->pipe_rd < 0) return;
  g_pipes_in_use--;
  if (d->in_pipe == 0 && g_pool_n < MAX_POOLED_PIPES) {
    g_pool[g_pool_n].rd = d->pipe_rd;
    g_pool[g_pool_n].wr = d->pipe_wr;
    g_pool_n++;
    d->pipe_rd = d->pipe_wr = -1;
    return;
  }
  close_socket(&d->pipe_rd);
  close_socket(&d->pipe_wr);
  d->in_pipe = 0;
}

/* ---- calling JS ------------------------------------------------------------------------------ */

typedef struct { napi_handle_scope hs; napi_callback_scope cs; bool ok; } js_scope;

static void enter_js(js_scope *s) {
  g_depth++;
  s->ok = false;
  if (napi_open_handle_scope(g_env, &s->hs) != napi_ok) return;
  napi_value resource;
  if (napi_get_reference_value(g_env, g_resource, &resource) != napi_ok ||
      napi_open_callback_scope(g_env, resource, g_async, &s->cs) != napi_ok) {
    napi_close_handle_scope(g_env, s->hs);
    return;
  }
  s->ok = true;
}

static void flush_closed(void);

static void leave_js(js_scope *s) {
  flush_closed();
  g_depth--;
  if (!s->ok) return;
  /* Closing the callback scope runs process.nextTick callbacks and promise jobs, as a Node callback would. */
  napi_close_callback_scope(g_env, s->cs);
  napi_close_handle_scope(g_env, s->hs);
}

/* Calls a handler; an exception it throws becomes the process's uncaught exception. */
static void call_js(napi_ref fn_ref, size_t argc, napi_value *argv) {
  napi_value fn, recv, result;
  if (napi_get_reference_value(g_env, fn_ref, &fn) != napi_ok) return;
  if (napi_get_reference_value(g_env, g_handlers, &recv) != napi_ok) return;
  if (napi_call_function(g_env, recv, fn, argc, argv, &result) == napi_pending_exception) {
    napi_value err;
    if (napi_get_and_clear_last_exception(g_env, &err) == napi_ok) napi_fatal_exception(g_env, err);
  }
}

static napi_value num(double v) {
  napi_value out;
  napi_create_double(g_env, v, &out);
  return out;
}

static void flush_closed(void) {
  while (g_closed_n > 0) {
    uint32_t n = g_closed_n;
    napi_value ab, arr;
    void *data;
    if (napi_create_arraybuffer(g_env, (size_t)n * CLOSED_FIELDS * sizeof(double), &data, &ab) != napi_ok) return;
    memcpy(data, g_closed, (size_t)n * CLOSED_FIELDS * sizeof(double));
    g_closed_n = 0;
    if (napi_create_typedarray(g_env, napi_float64_array, (size_t)n * CLOSED_FIELDS, ab, 0, &arr) != napi_ok) return;
    napi_value argv[2] = {arr, num(n)};
    call_js(h_closed, 2, argv);
  }
}

static void flush_timer_cb(uv_timer_t *t) {
  (void)t;
  js_scope s;
  enter_js(&s);
  leave_js(&s);
}

static void push_closed(conn_t *c, int reason, int err) {
  if (g_closed_n == g_closed_cap) {
    uint32_t cap = g_closed_cap == 0 ? 64 : g_closed_cap * 2;
    double *next = realloc(g_closed, (size_t)cap * CLOSED_FIELDS * sizeof(double));
    if (next == NULL) return; /* the JS side then never hears of it: its connection map keeps the entry, nothing else leaks */
    g_closed = next;
    g_closed_cap = cap;
  }
  double *r = g_closed + (size_t)g_closed_n * CLOSED_FIELDS;
  r[0] = c->id;
  r[1] = reason;
  r[2] = err;
  r[3] = c->from_client;
  r[4] = c->to_client;
  g_closed_n++;
  /* Outside a uv callback (inside a call from JS) the report goes out on the next loop turn. */
  if (g_depth == 0) uv_timer_start(&g_flush_timer, flush_timer_cb, 0, 0);
}

/* ---- connections: slots ---------------------------------------------------------------------- */

static conn_t *conn_of(double id) {
  if (!(id >= 0) || id > 9007199254740991.0) return NULL;
  uint64_t v = (uint64_t)id;
  uint32_t slot = (uint32_t)(v & (MAX_SLOTS - 1));
  uint32_t gen = (uint32_t)(v >> SLOT_BITS);
  if (slot >= g_slot_used) return NULL;
  conn_t *c = g_slots[slot];
  if (c == NULL || g_gens[slot] != gen || c->state == S_CLOSED) return NULL;
  return c;
}

static bool alloc_slot(conn_t *c) {
  uint32_t slot;
  if (g_free_n > 0) {
    slot = g_free_slots[--g_free_n];
  } else {
    if (g_slot_used == g_slot_cap) {
      uint32_t cap = g_slot_cap == 0 ? 1024 : g_slot_cap * 2;
      if (cap > MAX_SLOTS) return false;
      conn_t **s = realloc(g_slots, cap * sizeof *s);
      if (s == NULL) return false;
      g_slots = s;
      uint32_t *g = realloc(g_gens, cap * sizeof *g);
      if (g == NULL) return false;
      g_gens = g;
      uint32_t *f = realloc(g_free_slots, cap * sizeof *f);
      if (f == NULL) return false;
      g_free_slots = f;
      memset(g_gens + g_slot_cap, 0, (cap - g_slot_cap) * sizeof *g);
      g_slot_cap = cap;
    }
    slot = g_slot_used++;
  }
  g_slots[slot] = c;
  c->slot = slot;
  c->id = (double)(((uint64_t)g_gens[slot] << SLOT_BITS) | slot);
  return true;
}

static void free_slot(conn_t *c) {
  g_slots[c->slot] = NULL;
  g_gens[c->slot] = (g_gens[c->slot] + 1) & 0x7fffffffu; /* 31 + 22 bits: exact as a double */
  g_free_slots[g_free_n++] = c->slot;
}

/* ---- handles and sockets --------------------------------------------------------------------- */

/*
 * A connection's sockets are registered once, edge-triggered, in the plane's own epoll set (one
 * epoll_ctl per socket, none per state change; libuv's per-handle polling cost ~17 per connection),
 * whose descriptor one uv_poll watches. Readiness is kept in the socket and cleared by the
 * EAGAIN that ends a drain. A closed socket's struct outlives the batch of events that may still
 * name it (sock_close defers the free to the batch's end).
 */
typedef struct sock {
  int fd;
  struct conn *conn;
  bool readable, writable;
  struct sock *next_free;
} sock_t;

static int g_epfd = -1;
static uv_poll_t g_epoll_watch;
static bool g_in_batch;
static sock_t *g_dead_socks;
static struct conn *g_ready; /* connections whose work was cut short by a budget */
static uv_idle_t g_ready_idle;

#define EVENTS_PER_BATCH 256

static void conn_handle_closed(conn_t *c) {
  if (--c->handles > 0) return;
  free(c);
}

static void listener_handle_closed(listener_t *l) {
  if (--l->handles > 0) return;
  free(l);
}

static void watch_closed(uv_handle_t *h) {
  watch_t *w = (watch_t *)h->data;
  listener_t *l = w->listener;
  free(w);
  if (l != NULL) listener_handle_closed(l);
}

static void poll_cb(uv_poll_t *p, int status, int events);

static watch_t *watch_new(int fd) {
  watch_t *w = calloc(1, sizeof *w);
  if (w == NULL) return NULL;
  if (uv_poll_init(g_loop, &w->poll, fd) != 0) {
    free(w);
    return NULL;
  }
  w->poll.data = w;
  w->fd = fd;
  return w;
}

static void watch_set(watch_t *w, int events) {
  if (w == NULL || w->events == events) return;
  w->events = events;
  if (events == 0) uv_poll_stop(&w->poll);
  else if (uv_poll_start(&w->poll, events, poll_cb) != 0) w->events = 0;
}

/* Stops watching (uv_close first, as uv_poll requires) and closes the socket. */
static void watch_close(watch_t **wp) {
  watch_t *w = *wp;
  if (w == NULL) return;
  *wp = NULL;
  uv_close((uv_handle_t *)&w->poll, watch_closed);
  close_socket(&w->fd);
}

/* Registers `fd` for the plane; NULL (fd untouched) when it cannot be. */
static sock_t *sock_open(conn_t *c, int fd) {
  sock_t *k = calloc(1, sizeof *k);
  if (k == NULL) return NULL;
  k->fd = fd;
  k->conn = c;
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = k;
  if (epoll_ctl(g_epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
    free(k);
    return NULL;
  }
  return k;
}

/* Closes the socket (the kernel drops it from the epoll set) and frees its struct once no event of the batch can name it. */
static void sock_close(sock_t **kp) {
  sock_t *k = *kp;
  if (k == NULL) return;
  *kp = NULL;
  close_socket(&k->fd);
  k->conn = NULL;
  if (!g_in_batch) {
    free(k);
    return;
  }
  k->next_free = g_dead_socks;
  g_dead_socks = k;
}

/* ---- connections: life ----------------------------------------------------------------------- */

static void dir_init(dir_t *d) {
  memset(d, 0, sizeof *d);
  d->pipe_rd = d->pipe_wr = -1;
}

static void dir_free(dir_t *d) {
  drop_pipe(d);
  free(d->pending);
  d->pending = NULL;
  d->pending_len = d->pending_off = 0;
}

static void timer_closed(uv_handle_t *h) { conn_handle_closed((conn_t *)h->data); }

/* Ends a connection once: descriptors closed, pipes back, slot free; reported unless JS asked. */
static void conn_close(conn_t *c, int reason, int err, bool report) {
  if (c->state == S_CLOSED) return;
  c->state = S_CLOSED;
  if (report) push_closed(c, reason, err);
  dir_free(&c->up);
  dir_free(&c->down);
  sock_close(&c->cs);
  sock_close(&c->bs);
  uv_close((uv_handle_t *)&c->timer, timer_closed);
  free_slot(c);
  /* Open connections keep the process alive, as node:net sockets do. */
  if (--g_open == 0) uv_unref((uv_handle_t *)&g_epoll_watch);
}

static void touch(conn_t *c) { c->last_active = uv_now(g_loop); }

static void ready_cb(uv_idle_t *h);

/* Work left for the next loop turn (a budget ran out); the idle handle keeps the loop from blocking. */
static void ready_later(conn_t *c) {
  if (c->in_ready) return;
  c->in_ready = true;
  c->handles++; /* it stays allocated until the list lets go of it */
  c->next_ready = g_ready;
  g_ready = c;
  uv_idle_start(&g_ready_idle, ready_cb);
}

/* ---- the relay ------------------------------------------------------------------------------- */

enum step { STEP_WAIT, STEP_MORE, STEP_SRC_ERR, STEP_DST_ERR };

static bool would_block(int e) { return e == EAGAIN || e == EWOULDBLOCK; }

/* Writes d's userspace bytes; false when dst cannot take more now (or failed: *err). */
static bool send_pending(dir_t *d, sock_t *dst, double *sent, int *err) {
  while (d->pending_off < d->pending_len) {
    ssize_t n = send(dst->fd, d->pending + d->pending_off, d->pending_len - d->pending_off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      d->pending_off += (size_t)n;
      if (sent) *sent += (double)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && would_block(errno)) dst->writable = false;
    else *err = n < 0 ? errno : EPIPE;
    return false;
  }
  free(d->pending);
  d->pending = NULL;
  d->pending_len = d->pending_off = 0;
  return true;
}

static bool append_pending(dir_t *d, const uint8_t *bytes, size_t len) {
  if (len == 0) return true;
  size_t left = d->pending_len - d->pending_off;
  uint8_t *next = malloc(left + len);
  if (next == NULL) return false;
  if (left > 0) memcpy(next, d->pending + d->pending_off, left);
  memcpy(next + left, bytes, len);
  free(d->pending);
  d->pending = next;
  d->pending_len = left + len;
  d->pending_off = 0;
  return true;
}

/* Whether d can make progress with what its sockets last said. */
static bool dir_can(const dir_t *d, const sock_t *src, const sock_t *dst, bool held) {
  if (d->shut) return false;
  if (d->pending != NULL || d->in_pipe > 0) return dst->writable;
  if (held) return false;
  return d->eof || src->readable;
}

/*
 * Moves what it can of src -> dst until a socket says EAGAIN or the budget is spent (STEP_MORE).
 * `from` counts bytes read from src when src is the client, `to` bytes written to dst when dst is.
 */
static enum step dir_step(conn_t *c, dir_t *d, sock_t *src, sock_t *dst, double *from, double *to, bool held, int *err) {
  for (int round = 0; round < MOVES_PER_EVENT; round++) {
    if (!dir_can(d, src, dst, held)) return STEP_WAIT;
    if (d->pending != NULL) {
      if (!send_pending(d, dst, to, err)) return *err ? STEP_DST_ERR : STEP_WAIT;
      touch(c);
      continue;
    }
    if (d->in_pipe > 0) {
      ssize_t n = splice(d->pipe_rd, NULL, dst->fd, NULL, d->in_pipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        d->in_pipe -= (size_t)n;
        if (to) *to += (double)n;
        touch(c);
        if (d->in_pipe == 0) drop_pipe(d);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && would_block(errno)) {
        dst->writable = false;
        return STEP_WAIT;
      }
      *err = n == 0 ? EPIPE : errno;
      return STEP_DST_ERR;
    }
    if (d->eof) {
      /* Everything before the FIN is delivered: pass the FIN on, once. */
      if (shutdown(dst->fd, SHUT_WR) != 0 && errno != ENOTCONN) {
        *err = errno;
        return STEP_DST_ERR;
      }
      d->shut = true;
      return STEP_WAIT;
    }
    if (take_pipe(d)) {
      ssize_t n = splice(src->fd, NULL, d->pipe_wr, NULL, PIPE_SIZE, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        d->in_pipe = (size_t)n;
        if (from) *from += (double)n;
        touch(c);
        continue;
      }
      int e = n == 0 ? 0 : errno;
      if (n < 0 && e == EINTR) continue;
      drop_pipe(d); /* empty: back to the pool */
      if (n == 0) {
        d->eof = true;
        continue;
      }
      if (would_block(e)) {
        /* The pipe was empty, so this EAGAIN means the socket is drained. */
        src->readable = false;
        return STEP_WAIT;
      }
      *err = e;
      return STEP_SRC_ERR;
    }
    /* No pipe could be had (descriptors exhausted): copy through userspace this once. */
    uint8_t buf[COPY_CHUNK];
    ssize_t n = recv(src->fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      if (from) *from += (double)n;
      if (!append_pending(d, buf, (size_t)n)) {
        *err = ENOMEM;
        return STEP_SRC_ERR;
      }
      touch(c);
      continue;
    }
    if (n == 0) {
      d->eof = true;
      continue;
    }
    if (errno == EINTR) continue;
    if (would_block(errno)) {
      src->readable = false;
      return STEP_WAIT;
    }
    *err = errno;
    return STEP_SRC_ERR;
  }
  return dir_can(d, src, dst, held) ? STEP_MORE : STEP_WAIT;
}

static bool is_reset(int e) { return e == ECONNRESET || e == EPIPE; }

static void fail(conn_t *c, bool client_side, int err) {
  /* A peer that already sent its FIN and then resets ended normally, as far as it is concerned. */
  bool after_fin = client_side ? c->up.eof : c->down.eof;
  int reason = client_side ? (after_fin && is_reset(err) ? R_CLIENT_RESET_AFTER_FIN : R_CLIENT_ERROR)
                           : (after_fin && is_reset(err) ? R_BACKEND_RESET_AFTER_FIN : R_BACKEND_ERROR);
  conn_close(c, reason, err, true);
}

static void read_for_js(conn_t *c);

/* Moves bytes both ways as far as the sockets allow, then closes once both FINs went through. */
static void relay_run(conn_t *c) {
  int err = 0;
  if (c->hold && c->cs->readable && !c->up.eof) {
    read_for_js(c);
    if (c->state != S_RELAY) return; /* JS closed it */
  }
  enum step s = dir_step(c, &c->down, c->bs, c->cs, NULL, &c->to_client, false, &err);
  if (s == STEP_SRC_ERR) return fail(c, false, err);
  if (s == STEP_DST_ERR) return fail(c, true, err);
  bool more = s == STEP_MORE;
  /* relay()'s answer to the client (a CONNECT's 200) goes out whole before any byte reaches the backend. */
  if (c->answer_first && c->down.pending == NULL) c->answer_first = false;
  if (!c->answer_first) {
    s = dir_step(c, &c->up, c->cs, c->bs, &c->from_client, NULL, c->hold, &err);
    if (s == STEP_SRC_ERR) return fail(c, true, err);
    if (s == STEP_DST_ERR) return fail(c, false, err);
    more = more || s == STEP_MORE;
  }
  if (c->up.shut && c->down.shut) return conn_close(c, R_DONE, 0, true);
  if (more) ready_later(c);
}

static void idle_cb(uv_timer_t *t) {
  conn_t *c = (conn_t *)t->data;
  js_scope s;
  enter_js(&s);
  uint64_t quiet = uv_now(g_loop) - c->last_active;
  if (quiet >= c->idle_ms) conn_close(c, R_IDLE, 0, true);
  else uv_timer_start(&c->timer, idle_cb, c->idle_ms - quiet, 0);
  leave_js(&s);
}

/* ---- reading the client for JS (inspection, the held relay) ---------------------------------- */

#define JS_READS_PER_EVENT 4

static void read_for_js(conn_t *c) {
  enum state was = c->state;
  for (int i = 0; i < JS_READS_PER_EVENT; i++) {
    ssize_t n = recv(c->cs->fd, g_read_buf, g_read_len, MSG_DONTWAIT);
    if (n > 0) {
      c->from_client += (double)n;
      touch(c);
      napi_value argv[2] = {num(c->id), num((double)n)};
      call_js(h_data, 2, argv);
      /* JS may have routed, paused or closed it meanwhile. */
      if (c->state != was || (was == S_RELAY && !c->hold)) return;
      continue;
    }
    if (n == 0) {
      c->up.eof = true;
      napi_value argv[1] = {num(c->id)};
      call_js(h_end, 1, argv);
      return;
    }
    if (errno == EINTR) continue;
    if (would_block(errno)) {
      c->cs->readable = false;
      return;
    }
    return fail(c, true, errno);
  }
  ready_later(c);
}

/* ---- responding ------------------------------------------------------------------------------ */

static void respond_run(conn_t *c) {
  int err = 0;
  dir_t *d = &c->down;
  if (d->pending != NULL) {
    if (!c->cs->writable) return;
    if (!send_pending(d, c->cs, &c->to_client, &err)) {
      if (err) conn_close(c, R_RESPONDED, err, true);
      return;
    }
  }
  if (!d->shut) {
    (void)shutdown(c->cs->fd, SHUT_WR); /* the client may be gone already: the answer was all we owed */
    d->shut = true;
  }
  /* Read and drop whatever the client still sends, until its FIN (bounded per event). */
  for (int i = 0; i < MOVES_PER_EVENT && c->cs->readable; i++) {
    uint8_t buf[COPY_CHUNK];
    ssize_t n = recv(c->cs->fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      c->from_client += (double)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && would_block(errno)) {
      c->cs->readable = false;
      return;
    }
    return conn_close(c, R_RESPONDED, n == 0 ? 0 : errno, true);
  }
  if (c->cs->readable) ready_later(c);
}

static void linger_cb(uv_timer_t *t) {
  conn_t *c = (conn_t *)t->data;
  js_scope s;
  enter_js(&s);
  conn_close(c, R_RESPONDED, 0, true);
  leave_js(&s);
}

/* ---- connecting ------------------------------------------------------------------------------ */

static void report_connected(conn_t *c, int err) {
  napi_value argv[2] = {num(c->id), num(err)};
  call_js(h_connected, 2, argv);
}

static void connect_failed(conn_t *c, int err) {
  uv_timer_stop(&c->timer);
  sock_close(&c->bs);
  c->state = S_PAUSED;
  report_connected(c, err);
}

static void connect_timeout_cb(uv_timer_t *t) {
  conn_t *c = (conn_t *)t->data;
  js_scope s;
  enter_js(&s);
  if (c->state == S_CONNECTING) connect_failed(c, c->connect_errno != 0 ? c->connect_errno : -1);
  leave_js(&s);
}

static void connect_ready(conn_t *c) {
  int err = socket_error(c->bs->fd);
  if (err != 0) return connect_failed(c, err);
  uv_timer_stop(&c->timer);
  c->state = S_CONNECTED;
  report_connected(c, 0);
}

/* ---- events ---------------------------------------------------------------------------------- */

static void accept_ready(listener_t *l);

/* What a connection does when one of its sockets became ready (or a budget left it work). */
static void conn_run(conn_t *c) {
  switch (c->state) {
    case S_INSPECT:
      if (c->cs->readable && !c->up.eof) read_for_js(c);
      return;
    case S_CONNECTING:
      if (c->bs != NULL && c->bs->writable) connect_ready(c);
      return;
    case S_RELAY:
      return relay_run(c);
    case S_RESPOND:
      return respond_run(c);
    default:
      return;
  }
}

static void epoll_cb(uv_poll_t *p, int status, int events) {
  (void)p;
  (void)status;
  (void)events;
  js_scope s;
  enter_js(&s);
  struct epoll_event ev[EVENTS_PER_BATCH];
  int n;
  do n = epoll_wait(g_epfd, ev, EVENTS_PER_BATCH, 0);
  while (n < 0 && errno == EINTR);
  g_in_batch = true;
  for (int i = 0; i < n; i++) {
    sock_t *k = (sock_t *)ev[i].data.ptr;
    conn_t *c = k->conn;
    if (k->fd < 0 || c == NULL || c->state == S_CLOSED) continue; /* closed earlier in this batch */
    uint32_t e = ev[i].events;
    if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) k->readable = true;
    if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) k->writable = true;
    conn_run(c);
  }
  g_in_batch = false;
  while (g_dead_socks != NULL) {
    sock_t *k = g_dead_socks;
    g_dead_socks = k->next_free;
    free(k);
  }
  leave_js(&s);
}

/* The connections a budget cut short, once per loop turn: each gets one more bounded run. */
static void ready_cb(uv_idle_t *h) {
  (void)h;
  js_scope s;
  enter_js(&s);
  conn_t *list = g_ready;
  g_ready = NULL;
  while (list != NULL) {
    conn_t *c = list;
    list = c->next_ready;
    c->in_ready = false;
    if (c->state != S_CLOSED) conn_run(c);
    conn_handle_closed(c);
  }
  if (g_ready == NULL) uv_idle_stop(&g_ready_idle);
  leave_js(&s);
}

static void poll_cb(uv_poll_t *p, int status, int events) {
  (void)status;
  (void)events;
  watch_t *w = (watch_t *)p->data;
  js_scope s;
  enter_js(&s);
  accept_ready(w->listener);
  leave_js(&s);
}

/* ---- accepting ------------------------------------------------------------------------------- */

static napi_value address_string(const struct sockaddr_storage *ss, int *port) {
  char text[INET6_ADDRSTRLEN] = "";
  *port = 0;
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
    inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
    *port = ntohs(a->sin_port);
  } else if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
    inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
    *port = ntohs(a->sin6_port);
  }
  napi_value out;
  napi_create_string_latin1(g_env, text, NAPI_AUTO_LENGTH, &out);
  return out;
}

static void new_conn(listener_t *l, int fd, const struct sockaddr_storage *peer) {
  conn_t *c = calloc(1, sizeof *c);
  if (c == NULL || !alloc_slot(c)) {
    free(c);
    close_socket(&fd);
    return;
  }
  dir_init(&c->up);
  dir_init(&c->down);
  c->state = S_INSPECT;
  if (g_open++ == 0) uv_ref((uv_handle_t *)&g_epoll_watch);
  uv_timer_init(g_loop, &c->timer);
  c->timer.data = c;
  c->handles = 1;
  c->cs = sock_open(c, fd);
  if (c->cs == NULL) {
    close_socket(&fd);
    conn_close(c, R_CLIENT_ERROR, ENOMEM, false);
    return;
  }
  (void)set_int_opt(fd, IPPROTO_TCP, TCP_NODELAY, 1); /* optional: never fails a connection */
  struct sockaddr_storage local;
  socklen_t len = sizeof local;
  memset(&local, 0, sizeof local);
  if (getsockname(fd, (struct sockaddr *)&local, &len) != 0) local.ss_family = AF_UNSPEC;
  touch(c);
  int peer_port, local_port;
  napi_value peer_addr = address_string(peer, &peer_port);
  napi_value local_addr = address_string(&local, &local_port);
  napi_value argv[6] = {num(l->id), num(c->id), peer_addr, num(peer_port), local_addr, num(local_port)};
  call_js(h_accept, 6, argv);
  /* A client's first bytes usually arrive with its handshake: read them now rather than a loop turn later. */
  if (c->state == S_INSPECT) {
    c->cs->readable = true;
    read_for_js(c);
  }
}

static void backoff_cb(uv_timer_t *t) {
  listener_t *l = (listener_t *)t->data;
  if (l->open && l->accepting) watch_set(l->w, UV_READABLE);
}

static void report_accept_error(listener_t *l, int err) {
  napi_value argv[2] = {num(l->id), num(err)};
  call_js(h_accept_error, 2, argv);
}

/*
 * Out of descriptors: give up the reserve one, accept and close what waits in the queue (its
 * clients see a close now, not a hang until their timeout), then take the reserve back. The
 * node:net path does the same (libuv's trick), and so do nginx and HAProxy in spirit.
 */
static bool shed_queue(listener_t *l) {
  if (g_reserve_fd < 0) return false;
  close_socket(&g_reserve_fd);
  for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
    int fd = accept4(l->w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      break;
    }
    close_socket(&fd);
  }
  g_reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  return true;
}

static void accept_ready(listener_t *l) {
  for (int i = 0; i < ACCEPTS_PER_EVENT && l->open; i++) {
    struct sockaddr_storage peer;
    socklen_t len = sizeof peer;
    memset(&peer, 0, sizeof peer);
    int fd = accept4(l->w->fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      new_conn(l, fd, &peer);
      continue;
    }
    int e = errno;
    if (e == EINTR || e == ECONNABORTED || e == EPROTO) continue;
    if (would_block(e)) return;
    if ((e == EMFILE || e == ENFILE) && shed_queue(l)) {
      report_accept_error(l, e);
      return;
    }
    if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
      /* Out of descriptors or memory: stop accepting a moment instead of spinning on the queue. */
      watch_set(l->w, 0);
      uv_timer_start(&l->backoff, backoff_cb, ACCEPT_BACKOFF_MS, 0);
    }
    report_accept_error(l, e);
    return;
  }
}

/* ---- arguments ------------------------------------------------------------------------------- */

#define MAX_ARGS 6

static bool get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
    napi_throw_type_error(env, "PORTPLEX_ERR_NATIVE_ARGS", "portplex addon: too few arguments");
    return false;
  }
  return true;
}

static bool get_num(napi_env env, napi_value v, double *out) {
  if (napi_get_value_double(env, v, out) == napi_ok) return true;
  napi_throw_type_error(env, "PORTPLEX_ERR_NATIVE_ARGS", "portplex addon: a number was expected");
  return false;
}

static bool get_u32(napi_env env, napi_value v, uint32_t max, uint32_t *out) {
  double d;
  if (!get_num(env, v, &d)) return false;
  if (!(d >= 0 && d <= (double)max)) {
    napi_throw_range_error(env, "PORTPLEX_ERR_NATIVE_ARGS", "portplex addon: a number is out of range");
    return false;
  }
  *out = (uint32_t)d;
  return true;
}

/* A Buffer (its bytes are copied: JS may reuse it) or null. */
static bool get_bytes(napi_env env, napi_value v, void **data, size_t *len) {
  napi_valuetype t;
  *data = NULL;
  *len = 0;
  if (napi_typeof(env, v, &t) != napi_ok) return false;
  if (t == napi_null || t == napi_undefined) return true;
  bool is;
  if (napi_is_buffer(env, v, &is) == napi_ok && is && napi_get_buffer_info(env, v, data, len) == napi_ok) return true;
  napi_throw_type_error(env, "PORTPLEX_ERR_NATIVE_ARGS", "portplex addon: a Buffer or null was expected");
  return false;
}

static bool get_string(napi_env env, napi_value v, char *buf, size_t cap) {
  size_t n;
  if (napi_get_value_string_utf8(env, v, buf, cap, &n) != napi_ok || n + 1 >= cap) {
    napi_throw_type_error(env, "PORTPLEX_ERR_NATIVE_ARGS", "portplex addon: a short string was expected");
    return false;
  }
  return true;
}

static napi_value undefined_value(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

static const char *errno_name(int e) {
  const char *name = e > 0 ? strerrorname_np(e) : NULL;
  return name != NULL ? name : "EUNKNOWN";
}

static void throw_errno(napi_env env, int e, const char *what) {
  char msg[320];
  snprintf(msg, sizeof msg, "%s: %s (%s)", what, strerror(e), errno_name(e));
  napi_value code, message, error;
  napi_create_string_utf8(env, errno_name(e), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_value errnum;
  napi_create_int32(env, -e, &errnum);
  napi_set_named_property(env, error, "errno", errnum);
  napi_throw(env, error);
}

/* A numeric IPv4 or IPv6 address (with %scope) and a port; no name lookups here. */
static int numeric_address(const char *host, uint32_t port, struct sockaddr_storage *out, socklen_t *len) {
  /* inet_pton first: it runs once per backend connect, and getaddrinfo costs several microseconds
     even for a literal. Only a scoped IPv6 address (fe80::1%eth0) needs getaddrinfo. */
  memset(out, 0, sizeof *out);
  struct sockaddr_in *v4 = (struct sockaddr_in *)out;
  if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)port);
    *len = sizeof *v4;
    return 0;
  }
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
  if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)port);
    *len = sizeof *v6;
    return 0;
  }
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  hints.ai_socktype = SOCK_STREAM;
  char service[8];
  snprintf(service, sizeof service, "%u", port);
  if (getaddrinfo(host, service, &hints, &res) != 0 || res == NULL) return EINVAL;
  if (res->ai_addrlen > sizeof *out) {
    freeaddrinfo(res);
    return EINVAL;
  }
  memcpy(out, res->ai_addr, res->ai_addrlen);
  *len = res->ai_addrlen;
  freeaddrinfo(res);
  return 0;
}

/*
 * Transparent mode: the backend socket takes the client's address as its source (HAProxy's
 * `usesrc clientip`). IP_TRANSPARENT / IPV6_TRANSPARENT (ip(7), ipv6(7); CAP_NET_ADMIN) let it bind
 * an address that is not local; IP_BIND_ADDRESS_NO_PORT leaves the port to connect(), which picks
 * one unique for the 4-tuple instead of reserving one per source address at bind. Returns 0 or
 * an errno (EAFNOSUPPORT: the client's family is not the server's).
 */
static int bind_transparent(int fd, int family, const char *source) {
  struct sockaddr_storage src;
  socklen_t slen;
  if (numeric_address(source, 0, &src, &slen) != 0) return EINVAL;
  if (src.ss_family != family) return EAFNOSUPPORT;
  int r = family == AF_INET6 ? set_int_opt(fd, SOL_IPV6, IPV6_TRANSPARENT, 1) : set_int_opt(fd, SOL_IP, IP_TRANSPARENT, 1);
  if (r != 0) return errno;
  (void)set_int_opt(fd, SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1); /* an older kernel binds a port: still correct */
  if (bind(fd, (struct sockaddr *)&src, slen) != 0) return errno;
  return 0;
}

static conn_t *conn_arg(napi_env env, napi_value v) {
  double id;
  if (!get_num(env, v, &id)) return NULL;
  return conn_of(id);
}

static bool ready(napi_env env) {
  if (g_inited) return true;
  napi_throw_error(env, "PORTPLEX_ERR_NATIVE_ARGS", "portplex addon: init() was not called");
  return false;
}

/* ---- exported: setup ------------------------------------------------------------------------- */

static bool handler_ref(napi_env env, napi_value handlers, const char *name, napi_ref *out) {
  napi_value fn;
  napi_valuetype t;
  if (napi_get_named_property(env, handlers, name, &fn) != napi_ok || napi_typeof(env, fn, &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, "PORTPLEX_ERR_NATIVE_ARGS", "portplex addon: a handler is missing");
    return false;
  }
  return napi_create_reference(env, fn, 1, out) == napi_ok;
}

static napi_value js_init(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  if (g_inited) {
    napi_throw_error(env, "PORTPLEX_ERR_NATIVE_ARGS", "portplex addon: init() was already called");
    return NULL;
  }
  void *buf;
  size_t len;
  bool is;
  if (napi_is_buffer(env, argv[1], &is) != napi_ok || !is || napi_get_buffer_info(env, argv[1], &buf, &len) != napi_ok || len == 0) {
    napi_throw_type_error(env, "PORTPLEX_ERR_NATIVE_ARGS", "portplex addon: the read buffer must be a non-empty Buffer");
    return NULL;
  }
  napi_typedarray_type tt;
  size_t count;
  void *counters;
  napi_value ab;
  size_t offset;
  if (napi_get_typedarray_info(env, argv[2], &tt, &count, &counters, &ab, &offset) != napi_ok || tt != napi_float64_array || count < 2) {
    napi_throw_type_error(env, "PORTPLEX_ERR_NATIVE_ARGS", "portplex addon: counters must be a Float64Array of 2 or more");
    return NULL;
  }
  if (!handler_ref(env, argv[0], "accept", &h_accept) || !handler_ref(env, argv[0], "data", &h_data) || !handler_ref(env, argv[0], "end", &h_end) ||
      !handler_ref(env, argv[0], "connected", &h_connected) || !handler_ref(env, argv[0], "closed", &h_closed) ||
      !handler_ref(env, argv[0], "acceptError", &h_accept_error))
    return NULL;
  napi_create_reference(env, argv[0], 1, &g_handlers);
  napi_create_reference(env, argv[1], 1, &g_read_buf_ref);
  napi_create_reference(env, argv[2], 1, &g_counters_ref);
  g_read_buf = buf;
  g_read_len = len;
  g_counters = counters;
  napi_value resource, name;
  napi_create_object(env, &resource);
  napi_create_reference(env, resource, 1, &g_resource);
  napi_create_string_utf8(env, "portplex:native", NAPI_AUTO_LENGTH, &name);
  if (napi_async_init(env, resource, name, &g_async) != napi_ok || napi_get_uv_event_loop(env, &g_loop) != napi_ok) {
    napi_throw_error(env, "PORTPLEX_ERR_NATIVE_ARGS", "portplex addon: no event loop");
    return NULL;
  }
  g_env = env;
  uv_timer_init(g_loop, &g_flush_timer);
  uv_unref((uv_handle_t *)&g_flush_timer);
  g_reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  g_epfd = epoll_create1(EPOLL_CLOEXEC);
  if (g_epfd < 0 || uv_poll_init(g_loop, &g_epoll_watch, g_epfd) != 0 || uv_poll_start(&g_epoll_watch, UV_READABLE, epoll_cb) != 0) {
    throw_errno(env, g_epfd < 0 ? errno : EIO, "portplex addon: epoll");
    return NULL;
  }
  /* The epoll watch alone does not keep the process alive: listeners and connection timers do, as with node:net. */
  uv_unref((uv_handle_t *)&g_epoll_watch);
  uv_idle_init(g_loop, &g_ready_idle);
  uv_unref((uv_handle_t *)&g_ready_idle);
  g_inited = true;
  return undefined_value(env);
}

/* ---- exported: listeners --------------------------------------------------------------------- */

static listener_t *listener_of(double id) {
  if (!(id >= 0) || id > 9007199254740991.0) return NULL;
  uint64_t v = (uint64_t)id;
  uint32_t index = (uint32_t)(v % MAX_LISTENERS);
  listener_t *l = g_listeners[index];
  if (l == NULL || l->id != id || !l->open) return NULL;
  return l;
}

static napi_value js_listen(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  char host[INET6_ADDRSTRLEN + 64];
  uint32_t port, backlog;
  bool v6only;
  if (!ready(env) || !get_args(env, info, 4, argv) || !get_string(env, argv[0], host, sizeof host) || !get_u32(env, argv[1], 65535, &port) ||
      !get_u32(env, argv[2], 65535, &backlog))
    return NULL;
  if (napi_get_value_bool(env, argv[3], &v6only) != napi_ok) v6only = false;
  uint32_t index = 0;
  while (index < MAX_LISTENERS && g_listeners[index] != NULL) index++;
  if (index == MAX_LISTENERS) {
    throw_errno(env, EMFILE, "listen: too many listeners");
    return NULL;
  }
  struct sockaddr_storage addr;
  socklen_t len;
  if (numeric_address(host, port, &addr, &len) != 0) {
    throw_errno(env, EINVAL, "listen: not a numeric address");
    return NULL;
  }
  int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw_errno(env, errno, "listen: socket");
    return NULL;
  }
  int e = 0;
  const char *step = "setsockopt";
  if (set_int_opt(fd, SOL_SOCKET, SO_REUSEADDR, 1) != 0 || set_int_opt(fd, SOL_SOCKET, SO_REUSEPORT, 1) != 0 ||
      (addr.ss_family == AF_INET6 && set_int_opt(fd, IPPROTO_IPV6, IPV6_V6ONLY, v6only ? 1 : 0) != 0))
    e = errno;
  else if ((step = "bind", bind(fd, (struct sockaddr *)&addr, len)) != 0)
    e = errno;
  else if ((step = "listen", listen(fd, (int)backlog)) != 0)
    e = errno;
  if (e != 0) {
    close_socket(&fd);
    char what[INET6_ADDRSTRLEN + 96];
    snprintf(what, sizeof what, "%s %s:%u", step, host, port);
    throw_errno(env, e, what);
    return NULL;
  }
  listener_t *l = calloc(1, sizeof *l);
  watch_t *w = l == NULL ? NULL : watch_new(fd);
  if (w == NULL) {
    free(l);
    close_socket(&fd);
    throw_errno(env, ENOMEM, "listen");
    return NULL;
  }
  w->listener = l;
  l->w = w;
  l->index = index;
  l->handles = 2;
  l->open = true;
  l->id = (double)((uint64_t)g_listener_gen[index]++ * MAX_LISTENERS + index);
  uv_timer_init(g_loop, &l->backoff);
  l->backoff.data = l;
  g_listeners[index] = l;
  /* Not accepting yet: JS first drops privileges and puts the listener in force (acceptOn). */
  return num(l->id);
}

static napi_value js_accept_on(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  double id;
  if (!get_args(env, info, 1, argv) || !get_num(env, argv[0], &id)) return NULL;
  listener_t *l = listener_of(id);
  if (l != NULL && l->open && !l->accepting) {
    l->accepting = true;
    watch_set(l->w, UV_READABLE);
  }
  return undefined_value(env);
}

static napi_value js_listener_port(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  double id;
  if (!get_args(env, info, 1, argv) || !get_num(env, argv[0], &id)) return NULL;
  listener_t *l = listener_of(id);
  if (l == NULL) return num(0);
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  int port = 0;
  if (getsockname(l->w->fd, (struct sockaddr *)&ss, &len) == 0) (void)address_string(&ss, &port);
  return num(port);
}

static void backoff_closed(uv_handle_t *h) { listener_handle_closed((listener_t *)h->data); }

static napi_value js_close_listener(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  double id;
  if (!get_args(env, info, 1, argv) || !get_num(env, argv[0], &id)) return NULL;
  listener_t *l = listener_of(id);
  if (l == NULL) return undefined_value(env);
  l->open = false;
  g_listeners[l->index] = NULL;
  watch_close(&l->w);
  uv_close((uv_handle_t *)&l->backoff, backoff_closed);
  return undefined_value(env);
}

/* ---- exported: connections ------------------------------------------------------------------- */

static napi_value js_pause_client(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  conn_t *c = conn_arg(env, argv[0]);
  if (c != NULL && c->state == S_INSPECT) c->state = S_PAUSED; /* its bytes wait in the kernel; readiness is kept */
  return undefined_value(env);
}

static void defer_connect_report(conn_t *c, int err) {
  c->connect_errno = err;
  c->state = S_CONNECTING;
  uv_timer_start(&c->timer, connect_timeout_cb, 0, 0);
}

static napi_value js_connect(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  char host[INET6_ADDRSTRLEN + 64];
  char source[INET6_ADDRSTRLEN + 64];
  uint32_t port, timeout_ms, keepalive_ms;
  if (!get_args(env, info, 6, argv)) return NULL;
  conn_t *c = conn_arg(env, argv[0]);
  if (c == NULL) return undefined_value(env);
  if (!get_string(env, argv[1], host, sizeof host) || !get_u32(env, argv[2], 65535, &port) || !get_u32(env, argv[3], 0x7fffffff, &timeout_ms) ||
      !get_u32(env, argv[4], 0x7fffffff, &keepalive_ms) || !get_string(env, argv[5], source, sizeof source))
    return NULL;
  if (c->state != S_INSPECT && c->state != S_PAUSED) {
    napi_throw_error(env, "PORTPLEX_ERR_NATIVE_ARGS", "portplex addon: connect() while a backend is already connecting or connected");
    return NULL;
  }
  c->state = S_PAUSED;
  c->connect_errno = 0;
  struct sockaddr_storage addr;
  socklen_t len;
  if (numeric_address(host, port, &addr, &len) != 0) {
    defer_connect_report(c, EINVAL);
    return undefined_value(env);
  }
  int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    defer_connect_report(c, errno);
    return undefined_value(env);
  }
  (void)set_int_opt(fd, IPPROTO_TCP, TCP_NODELAY, 1);
  if (keepalive_ms > 0) {
    int idle = (int)(keepalive_ms / 1000 > 0 ? keepalive_ms / 1000 : 1);
    (void)set_int_opt(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
    (void)set_int_opt(fd, IPPROTO_TCP, TCP_KEEPIDLE, idle);
  }
  if (source[0] != '\0') {
    int e = bind_transparent(fd, addr.ss_family, source);
    if (e != 0) {
      close_socket(&fd);
      defer_connect_report(c, e);
      return undefined_value(env);
    }
  }
  int r = connect(fd, (struct sockaddr *)&addr, len);
  if (r != 0 && errno != EINPROGRESS && errno != EINTR) {
    int e = errno;
    close_socket(&fd);
    defer_connect_report(c, e);
    return undefined_value(env);
  }
  c->bs = sock_open(c, fd);
  if (c->bs == NULL) {
    int e = errno;
    close_socket(&fd);
    defer_connect_report(c, e);
    return undefined_value(env);
  }
  /* Writable means the connect ended, either way (SO_ERROR tells); also when it succeeded at once. */
  c->state = S_CONNECTING;
  uv_timer_start(&c->timer, connect_timeout_cb, timeout_ms, 0);
  return undefined_value(env);
}

static napi_value js_abort_connect(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  conn_t *c = conn_arg(env, argv[0]);
  if (c != NULL && (c->state == S_CONNECTING || c->state == S_CONNECTED)) {
    uv_timer_stop(&c->timer);
    sock_close(&c->bs);
    c->state = S_PAUSED;
  }
  return undefined_value(env);
}

static napi_value js_relay(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!get_args(env, info, 5, argv)) return NULL;
  conn_t *c = conn_arg(env, argv[0]);
  if (c == NULL) return undefined_value(env);
  void *tb, *tc;
  size_t tbl, tcl;
  uint32_t idle_ms;
  bool hold;
  if (!get_bytes(env, argv[1], &tb, &tbl) || !get_bytes(env, argv[2], &tc, &tcl) || !get_u32(env, argv[3], 0x7fffffff, &idle_ms)) return NULL;
  if (napi_get_value_bool(env, argv[4], &hold) != napi_ok) hold = false;
  if (c->state != S_CONNECTED) {
    napi_throw_error(env, "PORTPLEX_ERR_NATIVE_ARGS", "portplex addon: relay() before the backend connected");
    return NULL;
  }
  if (!append_pending(&c->up, tb, tbl) || !append_pending(&c->down, tc, tcl)) {
    conn_close(c, R_BACKEND_ERROR, ENOMEM, true);
    return undefined_value(env);
  }
  c->state = S_RELAY;
  c->hold = hold;
  c->answer_first = tcl > 0;
  c->idle_ms = idle_ms;
  touch(c);
  if (idle_ms > 0) uv_timer_start(&c->timer, idle_cb, idle_ms, 0);
  relay_run(c);
  return undefined_value(env);
}

static napi_value js_release(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  conn_t *c = conn_arg(env, argv[0]);
  void *held;
  size_t len;
  if (c == NULL) return undefined_value(env);
  if (!get_bytes(env, argv[1], &held, &len)) return NULL;
  if (c->state != S_RELAY || !c->hold) return undefined_value(env);
  if (!append_pending(&c->up, held, len)) {
    conn_close(c, R_BACKEND_ERROR, ENOMEM, true);
    return undefined_value(env);
  }
  c->hold = false;
  relay_run(c);
  return undefined_value(env);
}

static napi_value js_respond(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  conn_t *c = conn_arg(env, argv[0]);
  void *bytes;
  size_t len;
  uint32_t linger_ms;
  if (c == NULL) return undefined_value(env);
  if (!get_bytes(env, argv[1], &bytes, &len) || !get_u32(env, argv[2], 0x7fffffff, &linger_ms)) return NULL;
  if (c->state == S_RELAY || c->state == S_RESPOND) {
    napi_throw_error(env, "PORTPLEX_ERR_NATIVE_ARGS", "portplex addon: respond() on a relayed connection");
    return NULL;
  }
  uv_timer_stop(&c->timer);
  sock_close(&c->bs);
  dir_free(&c->down);
  if (!append_pending(&c->down, bytes, len)) {
    conn_close(c, R_RESPONDED, ENOMEM, true);
    return undefined_value(env);
  }
  c->state = S_RESPOND;
  uv_timer_start(&c->timer, linger_cb, linger_ms, 0);
  respond_run(c);
  return undefined_value(env);
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  conn_t *c = conn_arg(env, argv[0]);
  if (c != NULL) conn_close(c, R_DONE, 0, false);
  return undefined_value(env);
}

static napi_value js_counters(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  if (!get_args(env, info, 1, argv)) return NULL;
  conn_t *c = conn_arg(env, argv[0]);
  if (c != NULL) {
    g_counters[0] = c->from_client;
    g_counters[1] = c->to_client;
  }
  napi_get_boolean(env, c != NULL, &out);
  return out;
}

static napi_value js_stats(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value arr;
  double v[4] = {g_open, g_pool_n, g_pipes_in_use, g_pipes_created};
  napi_create_array_with_length(env, 4, &arr);
  for (uint32_t i = 0; i < 4; i++) {
    napi_value n;
    napi_create_double(env, v[i], &n);
    napi_set_element(env, arr, i, n);
  }
  return arr;
}

static napi_value js_errno_name(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  double e;
  if (!get_args(env, info, 1, argv) || !get_num(env, argv[0], &e)) return NULL;
  napi_create_string_utf8(env, e >= 1 && e <= 4095 ? errno_name((int)e) : "EUNKNOWN", NAPI_AUTO_LENGTH, &out);
  return out;
}

/*
 * Keeping a capability across the switch of user (HAProxy's `setcap`): transparent mode needs
 * CAP_NET_ADMIN for every connect, long after the drop from root. keepCapabilities(true) before
 * setuid keeps the permitted set (prctl(2) PR_SET_KEEPCAPS), then setCapabilities(mask) makes
 * exactly `mask` (capabilities 0-31) permitted and effective, inheritable none (capset(2)), and
 * keepCapabilities(false) ends it. A failure throws with the errno: the caller stops the start.
 */
static napi_value js_keep_capabilities(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  bool on = false;
  if (!get_args(env, info, 1, argv) || napi_get_value_bool(env, argv[0], &on) != napi_ok) {
    napi_throw_type_error(env, "PORTPLEX_ERR_NATIVE_ARGS", "portplex addon: keepCapabilities(boolean)");
    return NULL;
  }
  if (prctl(PR_SET_KEEPCAPS, on ? 1UL : 0UL, 0UL, 0UL, 0UL) != 0) {
    throw_errno(env, errno, "portplex addon: prctl(PR_SET_KEEPCAPS)");
    return NULL;
  }
  return undefined_value(env);
}

static napi_value js_set_capabilities(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  uint32_t mask;
  if (!get_args(env, info, 1, argv) || !get_u32(env, argv[0], 0xffffffffu, &mask)) return NULL;
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
  memset(data, 0, sizeof data);
  data[0].permitted = mask;
  data[0].effective = mask;
  if (syscall(SYS_capset, &header, data) != 0) {
    throw_errno(env, errno, "portplex addon: capset");
    return NULL;
  }
  return undefined_value(env);
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"init", NULL, js_init, NULL, NULL, NULL, napi_enumerable, NULL},
      {"listen", NULL, js_listen, NULL, NULL, NULL, napi_enumerable, NULL},
      {"acceptOn", NULL, js_accept_on, NULL, NULL, NULL, napi_enumerable, NULL},
      {"listenerPort", NULL, js_listener_port, NULL, NULL, NULL, napi_enumerable, NULL},
      {"closeListener", NULL, js_close_listener, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pauseClient", NULL, js_pause_client, NULL, NULL, NULL, napi_enumerable, NULL},
      {"connect", NULL, js_connect, NULL, NULL, NULL, napi_enumerable, NULL},
      {"abortConnect", NULL, js_abort_connect, NULL, NULL, NULL, napi_enumerable, NULL},
      {"relay", NULL, js_relay, NULL, NULL, NULL, napi_enumerable, NULL},
      {"release", NULL, js_release, NULL, NULL, NULL, napi_enumerable, NULL},
      {"respond", NULL, js_respond, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"counters", NULL, js_counters, NULL, NULL, NULL, napi_enumerable, NULL},
      {"stats", NULL, js_stats, NULL, NULL, NULL, napi_enumerable, NULL},
      {"errnoName", NULL, js_errno_name, NULL, NULL, NULL, napi_enumerable, NULL},
      {"keepCapabilities", NULL, js_keep_capabilities, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setCapabilities", NULL, js_set_capabilities, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
