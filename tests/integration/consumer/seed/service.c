#include "service.h"

#include <stdio.h>

/* Says hello once, then ends: the daemon exits right after it. */
int initialize_service(void* data) { return data != NULL ? TRUE : FALSE; }

int run_service(void* data) {
  const char* name = data;
  return name[0] == 'w' ? 0 : 1;
}
