/* Built with `pkg-config --cflags --libs welld`. */
#include <string.h>
#include <welld/welld.h>

int main(void) { return strcmp(welld_strstep(12), "pidfile") == 0 ? 0 : 1; }
