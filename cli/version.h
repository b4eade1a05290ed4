// What build this is (`cannonball --version` / `-v`) and which VM types it runs (`list`),
// as multicannon offers them to op-challenger.
#pragma once
#include <string>

namespace cb::cli {

// The project version (CMake's project VERSION) and the full git commit, embedded at build
// time ("unknown" outside a git checkout, a "-dirty" suffix when tracked files differed).
const char* build_version();
const char* build_commit();
// `cannonball --version` / `-v`: urfave/cli's "NAME version VERSION" line (the version in
// multicannon's FormatVersion form: VERSION-COMMIT[:8]) and the full commit on a second line.
int version_main();
// `cannonball list`: multicannon's list format for the one VM type this build runs.
int list_main(int argc, char** argv);

}  // namespace cb::cli
