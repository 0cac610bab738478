// The one default for "how many threads": the machine's physical cores (hyper-threads share the FPU and the
// memory bandwidth that decode and quantization are bound by). Every command's --threads 0 means this.
#pragma once

namespace lp {

// Distinct (package, core id) pairs from /proc/cpuinfo, capped by the online CPUs; online CPUs when unknown.
int physical_cores();

// `requested` when > 0, else physical_cores().
inline int thread_count(int requested) { return requested > 0 ? requested : physical_cores(); }

}  // namespace lp
