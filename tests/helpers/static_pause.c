/* static_pause — a statically linked program that waits for a signal: it runs
 * inside an empty chroot, where no shared library can be found. */
#include <unistd.h>

int main(void) {
  for (;;) pause();
}
