// Constants of the MT-Cannon v5 (multithreaded64-5) fault-proof VM, each defined once.
// Sources: specs/fault-proof/cannon-fault-proof-vm.md and the reference's mipsevm/arch/arch64.go,
// exec/mips_syscalls.go, multithreaded/state.go and thread.go.
#pragma once
#include <cstdint>

namespace cb {

constexpr uint8_t kStateVersion = 8;  // "multithreaded64-5", the first byte of a state file
constexpr const char* kStateVersionName = "multithreaded64-5";

// Memory layout.
constexpr uint64_t kAddressMask = 0xFFFFFFFFFFFFFFF8ULL;        // aligns to an 8-byte word
constexpr uint64_t kHeapStart = 0x0000100000000000ULL;          // initial mmap heap pointer
constexpr uint64_t kHeapEnd = 0x0000600000000000ULL;            // mmap beyond this fails (EINVAL)
constexpr uint64_t kProgramBreak = 0x0000400000000000ULL;       // what brk always returns
constexpr uint64_t kHighMemoryStart = 0x00007FFFFFFFF000ULL;    // initial stack pointer
constexpr uint64_t kElfAddressLimit = (uint64_t{1} << 48) - 1;  // last loadable ELF byte

// Scheduling.
constexpr uint64_t kSchedQuantum = 100000;  // steps before a forced preemption
constexpr uint64_t kHz = 10000000;          // clock_gettime(MONOTONIC) ticks: 1 step = 100 ns

// Syscall numbers (MIPS64 n64 Linux).
namespace sys {
constexpr uint64_t kRead = 5000, kWrite = 5001, kOpen = 5002, kMmap = 5009, kBrk = 5012,
                   kSchedYield = 5023, kNanosleep = 5034, kGetpid = 5038, kClone = 5055,
                   kExit = 5058, kFcntl = 5070, kGetTid = 5178, kFutex = 5194, kExitGroup = 5205,
                   kClockGetTime = 5222, kEventFd2 = 5284, kGetRandom = 5313;
// Accepted and ignored: v0 = v1 = 0 (the reference's noop list).
constexpr uint64_t kNoops[] = {5011 /*munmap*/,
                               5010 /*mprotect*/,
                               5196 /*sched_getaffinity*/,
                               5027 /*madvise*/,
                               5014 /*rt_sigprocmask*/,
                               5129 /*sigaltstack*/,
                               5013 /*rt_sigaction*/,
                               5297 /*prlimit64*/,
                               5003 /*close*/,
                               5016 /*pread64*/,
                               5004 /*stat*/,
                               5005 /*fstat*/,
                               5247 /*openat*/,
                               5087 /*readlink*/,
                               5257 /*readlinkat*/,
                               5015 /*ioctl*/,
                               5285 /*epoll_create1*/,
                               5287 /*pipe2*/,
                               5208 /*epoll_ctl*/,
                               5272 /*epoll_pwait*/,
                               5061 /*uname*/,
                               5100 /*getuid*/,
                               5102 /*getgid*/,
                               5026 /*mincore*/,
                               5225 /*tgkill*/,
                               5036 /*setitimer*/,
                               5216 /*timer_create*/,
                               5217 /*timer_settime*/,
                               5220 /*timer_delete*/,
                               5095 /*getrlimit*/,
                               5008 /*lseek*/};
// The numbers Vm::syscall handles itself (interp/vm.cpp); with kNoops, every number the VM
// implements: any other one panics ("unrecognized syscall"). Checked against the VM by
// tests/check_elf_test.cpp; `cannonball check-elf` reports constant syscall numbers outside it.
constexpr uint64_t kHandled[] = {
    kRead, kWrite, kOpen,   kMmap,  kBrk,       kSchedYield,   kNanosleep, kGetpid,   kClone,
    kExit, kFcntl, kGetTid, kFutex, kExitGroup, kClockGetTime, kEventFd2,  kGetRandom};
constexpr bool implemented(uint64_t n) {
  for (uint64_t x : kHandled)
    if (x == n) return true;
  for (uint64_t x : kNoops)
    if (x == n) return true;
  return false;
}
}  // namespace sys

// File descriptors the VM knows.
namespace fd {
constexpr uint64_t kStdin = 0, kStdout = 1, kStderr = 2, kHintRead = 3, kHintWrite = 4,
                   kPreimageRead = 5, kPreimageWrite = 6, kEventFd = 100;
}

// Errno values returned in v0 with v1 = kSysErrorSignal.
constexpr uint64_t kSysErrorSignal = ~uint64_t{0};
constexpr uint64_t kEBADF = 0x9, kEINVAL = 0x16, kEAGAIN = 0xb;

constexpr uint64_t kFutexWaitPrivate = 128, kFutexWakePrivate = 129;
constexpr uint64_t kValidCloneFlags = 0x00050f00;  // VM|FS|FILES|SIGHAND|SYSVSEM|THREAD
constexpr uint64_t kEfdNonblock = 0x80;
constexpr uint64_t kClockRealtime = 0, kClockMonotonic = 1;

// Registers.
constexpr unsigned kRegV0 = 2, kRegV1 = 3, kRegA0 = 4, kRegA1 = 5, kRegA2 = 6, kRegA3 = 7,
                   kRegSP = 29, kRegRA = 31;

// VM status (first byte of the state hash).
constexpr uint8_t kVmValid = 0, kVmInvalid = 1, kVmPanic = 2, kVmUnfinished = 3;

// Witness sizes.
constexpr size_t kStateWitnessSize = 188;
// memRoot 32, preimageKey 32, preimageOffset 8, heap 8, llStatus 1, llAddress 8, llOwner 8:
constexpr size_t kWitnessExitCodeOffset = 97;
constexpr size_t kWitnessExitedOffset = 98;
constexpr size_t kThreadSize = 298;              // serialized thread
constexpr size_t kThreadWitnessSize = 298 + 32;  // + root of the rest of its stack
// Root of an empty thread stack: keccak256 of 64 zero bytes (= zero_hash(1)).
constexpr const char* kEmptyThreadsRootHex =
    "ad3228b676f7d3cd4284a5443f17f1962b36e491b30a40b2405849e597ba5fb5";

}  // namespace cb
