#include <stdio.h>

#include "daemonize.h"
#include "service.h"

int main(int argc, char** argv) {
  static char name[] = "world";
  DaemonStatus status;
  if (argc != 2) {
    fprintf(stderr, "usage: %s PIDFILE\n", argv[0]);
    return 100;
  }
  status = daemonize(argv[1], name, initialize_service, run_service);
  print_daemon_status(status, stderr);
  return status;
}
