// `cannonball window`: measures this machine on a guest (interpreter, JIT, JIT with
// checkpoints, proving a random step from the nearest checkpoint, memory and disk) and reports
// how long a trace each mode can produce within a dispute game's deadline (scheduler/window.h).
#pragma once

namespace cb::cli {
int window_main(int argc, char** argv);
}
