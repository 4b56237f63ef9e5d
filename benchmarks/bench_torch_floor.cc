// The start-up floor of any program that links LibTorch: main() does nothing,
// but the dynamic loader still maps Debian's libtorch_cpu and its ~286
// libraries (linked with BIND_NOW) and runs their static initialisers (the
// operator registry). benchmarks/run_entities_bench.sh times it next to
// sense-entities, so that the start-up figure splits into what LibTorch costs
// before main() and what sense itself does (model load, checks, first result).
// Linked with --no-as-needed so that the library stays loaded although
// nothing here calls it.
#include <cstdio>

int main() {
  std::puts("ready");
  return 0;
}
