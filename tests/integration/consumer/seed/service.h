/* A program written for the seed's daemonize() library, left as it was:
 * tests/integration/consumer builds it against the installed welld with
 * `cc *.c $(pkg-config --cflags --libs welld-daemonize)` and with CMake's
 * welld::daemonize target, then runs it. */
#ifndef SERVICE_H
#define SERVICE_H

#define TRUE 1
#define FALSE 0

int initialize_service(void* data);
int run_service(void* data);

#endif
