/* rt.c - memory helpers and line output for the bundled guests (see sys.h). */
#include "sys.h"

void *memcpy(void *dst, const void *src, size_t n) {
  uint8_t *d = dst;
  const uint8_t *s = src;
  while (n--) *d++ = *s++;
  return dst;
}

void *memmove(void *dst, const void *src, size_t n) {
  uint8_t *d = dst;
  const uint8_t *s = src;
  if (d < s) {
    while (n--) *d++ = *s++;
  } else {
    while (n--) d[n] = s[n];
  }
  return dst;
}

void *memset(void *dst, int c, size_t n) {
  uint8_t *d = dst;
  while (n--) *d++ = (uint8_t)c;
  return dst;
}

int memcmp(const void *a, const void *b, size_t n) {
  const uint8_t *x = a;
  const uint8_t *y = b;
  for (; n; n--, x++, y++) {
    if (*x != *y) return *x < *y ? -1 : 1;
  }
  return 0;
}

size_t strlen(const char *s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}

static void line_char(struct line *l, char c) {
  if (l->len < sizeof l->buf) l->buf[l->len++] = c;
}

void line_str(struct line *l, const char *s) {
  while (*s) line_char(l, *s++);
}

void line_hex(struct line *l, uint64_t v, int digits) {
  static const char kHex[] = "0123456789abcdef";
  for (int i = digits - 1; i >= 0; i--) line_char(l, kHex[(v >> (4 * i)) & 0xf]);
}

void line_dec(struct line *l, uint64_t v) {
  char tmp[20];
  int n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n) line_char(l, tmp[--n]);
}

void line_bytes_hex(struct line *l, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) line_hex(l, p[i], 2);
}

void line_flush(struct line *l) {
  size_t done = 0;
  while (done < l->len) {
    long r = sys_write(FD_STDOUT, l->buf + done, l->len - done);
    if (r <= 0) break;
    done += (size_t)r;
  }
  l->len = 0;
}
