// `cannonball check-elf` and `cannonball profile`: tools for the program being proven
// (tools/elf_check.h, tools/profile.h).
#pragma once
#include <string>
#include <vector>

namespace cb::cli {
int check_elf_main(int argc, char** argv);
int profile_main(int argc, char** argv);
}  // namespace cb::cli
