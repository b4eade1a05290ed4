// What build this is (`cannonball --version` / `-v`) and which VM types it runs (`list`),
// as multicannon offers them to op-challenger.
#pragma once
#include <string>

namespace cb::cli {

// "0.1.0 (commit 0123456789ab…, multithreaded64-5)" parts: the project version and the full
// git commit embedded at build time ("unknown" outside a git checkout, "-dirty" suffix when
// tracked files differed from it).
const char* build_version();
const char* build_commit();
// `cannonball --version` / `-v`: urfave/cli's "NAME version VERSION" line (the version in
// multicannon's FormatVersion form: VERSION-COMMIT[:8]) and the full commit on a second line.
int version_main();
// `cannonball list`: multicannon's list format for the one VM type this build runs.
int list_main(int argc, char** argv);

}  // namespace cb::cli
