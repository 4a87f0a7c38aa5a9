/* arg_long(TEXT): the decimal number TEXT, or exit(2) with a one-line error
 * when TEXT is not one (empty, trailing characters, out of range). The bench
 * programs take their counts, ports and delays from the command line. */
#ifndef WELLD_BENCH_ARG_H
#define WELLD_BENCH_ARG_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static inline long arg_long(const char* text) {
  char* end = NULL;
  errno = 0;
  long value = strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0') {
    fprintf(stderr, "not a number: %s\n", text);
    exit(2);
  }
  return value;
}

#endif
