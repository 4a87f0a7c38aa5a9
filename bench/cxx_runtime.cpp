// cxx_runtime — an empty program that includes <iostream> (as CLI11 does),
// linked like welld. bench/run times it next to /bin/true to show what the
// C++ runtime's start-up costs before welld runs any code of its own.
#include <iostream>

int main() { return 0; }
