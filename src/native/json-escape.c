/*
 * JSON escaping of captured output (--json, batch): no kernel work beyond
 * writing, kept apart from the sandbox code.
 */
#include "sbx.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <unistd.h>

static void close_pipe(int p[2]) {
  close(p[0]);
  close(p[1]);
}

#define ONES 0x0101010101010101UL
#define HIGHS 0x8080808080808080UL

/* Whether any byte of `w` needs escaping: below 0x20, '"' or '\\'. Exact
 * (the "has a byte less than n" and "has a zero byte" bit tricks). */
static unsigned long needs_escape(unsigned long w) {
  unsigned long quote = w ^ (ONES * '"');
  unsigned long backslash = w ^ (ONES * '\\');
  return ((w - ONES * 0x20) & ~w & HIGHS) | ((quote - ONES) & ~quote & HIGHS) | ((backslash - ONES) & ~backslash & HIGHS);
}

/* The body of a JSON string for UTF-8 bytes, byte for byte as JSON.stringify
 * writes it (", \ and control characters escaped; everything else as it is).
 * --json and batch pass captured output through here, gigabytes at times:
 * eight bytes at a time while none needs escaping. `out` has room for 6
 * bytes per input byte; returns the bytes written. Unaligned 8-byte loads and
 * stores: x86_64 and aarch64 allow them (built with -fno-strict-aliasing). */
static unsigned char *escape_byte(unsigned char b, unsigned char *o) {
  static const char hex[] = "0123456789abcdef";
  o[0] = '\\';
  switch (b) {
  case '"': o[1] = '"'; return o + 2;
  case '\\': o[1] = '\\'; return o + 2;
  case '\b': o[1] = 'b'; return o + 2;
  case '\t': o[1] = 't'; return o + 2;
  case '\n': o[1] = 'n'; return o + 2;
  case '\f': o[1] = 'f'; return o + 2;
  case '\r': o[1] = 'r'; return o + 2;
  default:
    o[1] = 'u';
    o[2] = '0';
    o[3] = '0';
    o[4] = (unsigned char)hex[b >> 4];
    o[5] = (unsigned char)hex[b & 15];
    return o + 6;
  }
}

#define SAFE(b) ((b) >= 0x20 && (b) != '"' && (b) != '\\')

long sbx_json_escape(const unsigned char *src, long n, unsigned char *out) {
  unsigned char *o = out;
  long i = 0;
  while (i < n) {
    /* Text: whole words while none of their bytes needs escaping. */
    while (i + 8 <= n) {
      unsigned long w = *(const unsigned long *)(src + i);
      if (needs_escape(w)) break;
      *(unsigned long *)o = w;
      o += 8;
      i += 8;
    }
    /* Then byte by byte up to the next byte that needs escaping, and through
     * the run of those (NULs of binary output, say) without word checks. */
    while (i < n && SAFE(src[i])) {
      *o++ = src[i++];
      if (i + 8 <= n && (i & 7) == 0) break;
    }
    while (i < n && !SAFE(src[i])) o = escape_byte(src[i++], o);
  }
  return (long)(o - out);
}

/* ---- escaped output, escaping and writing side by side ----
 *
 * --json of a big output writes its escaped form: 6 GiB for 1 GiB of NULs.
 * Escaping a chunk while a writer thread writes the one before takes the
 * longer of the two instead of both. The two buffers pass between the
 * threads as tokens on pipes. */

struct escaped_writer {
  int fd;
  unsigned char *buf[2];
  long len[2];
  int filled[2]; /* caller -> writer: index of a filled buffer; -1 ends */
  int emptied[2]; /* writer -> caller: index of a buffer written */
  long err;      /* the first write error, as -errno */
};

/* Writes all of `p`; returns 0 or -errno (EAGAIN waits for room). */
static long write_fully(int fd, const unsigned char *p, long n) {
  while (n > 0) {
    ssize_t w = write(fd, p, (size_t)n);
    if (w > 0) {
      p += w;
      n -= w;
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) {
      sbx_poll_one(fd, POLLOUT, -1);
      continue;
    }
    return w < 0 ? -(long)errno : -EPIPE;
  }
  return 0;
}

static void *escaped_writer_main(void *arg) {
  struct escaped_writer *ew = (struct escaped_writer *)arg;
  for (;;) {
    int which;
    if (read(ew->filled[0], &which, sizeof which) != (long)sizeof which) {
      if (errno == EINTR) continue;
      return 0;
    }
    if (which < 0) return 0;
    /* After an error, buffers still come back so that the caller finishes. */
    if (ew->err == 0) ew->err = write_fully(ew->fd, ew->buf[which], ew->len[which]);
    while (write(ew->emptied[1], &which, sizeof which) < 0 && errno == EINTR) {
    }
  }
}

/* Writes the JSON-escaped form of `src` (sbx_json_escape) to `fd`, `chunk`
 * input bytes at a time; `scratch` has room for 12 * chunk bytes (two
 * escaped chunks), or 6 * chunk when n <= chunk. Returns 0, or -errno of the first failed write. For one
 * chunk, or without a writer thread (none could start), it escapes and
 * writes in turn. */
long sbx_write_escaped(long fd, const unsigned char *src, long n, unsigned char *scratch, long chunk) {
  struct escaped_writer ew;
  ew.fd = (int)fd;
  ew.buf[0] = scratch;
  ew.buf[1] = scratch + 6 * chunk;
  ew.err = 0;
  unsigned long tid = 0;
  /* One chunk or less: nothing to overlap. */
  int threaded = n > chunk && pipe2(ew.filled, O_CLOEXEC) == 0;
  if (threaded && pipe2(ew.emptied, O_CLOEXEC) != 0) {
    close_pipe(ew.filled);
    threaded = 0;
  }
  if (threaded && sbx_start_thread(&tid, escaped_writer_main, &ew) != 0) {
    close_pipe(ew.filled);
    close_pipe(ew.emptied);
    threaded = 0;
  }
  long err = 0;
  int busy[2] = {0, 0};
  int which = 0;
  for (long off = 0; off < n && err == 0; off += chunk) {
    if (busy[which]) {
      int back;
      long got;
      while ((got = read(ew.emptied[0], &back, sizeof back)) < 0 && errno == EINTR) {
      }
      if (got != (long)sizeof back) {
        err = got < 0 ? -(long)errno : -EPIPE;
        break;
      }
      busy[back] = 0;
      err = ew.err;
      if (err) break;
    }
    long len = n - off < chunk ? n - off : chunk;
    ew.len[which] = sbx_json_escape(src + off, len, ew.buf[which]);
    if (!threaded) {
      err = write_fully(ew.fd, ew.buf[which], ew.len[which]);
      continue;
    }
    busy[which] = 1;
    while (write(ew.filled[1], &which, sizeof which) < 0 && errno == EINTR) {
    }
    which ^= 1;
  }
  if (threaded) {
    int end = -1;
    while (write(ew.filled[1], &end, sizeof end) < 0 && errno == EINTR) {
    }
    pthread_join((pthread_t)tid, NULL);
    if (err == 0) err = ew.err;
    close_pipe(ew.filled);
    close_pipe(ew.emptied);
  }
  return err;
}
