#include "cli/commands.h"

// load-elf and witness (reference: cannon/cmd/load_elf.go, witness.go); run is in run.cpp.
#include <cstdio>
#include <cstring>

#include "cli/common.h"
#include "cli/console.h"
#include "host/file_io.h"
#include "interp/elf_loader.h"
#include "interp/state.h"

namespace cb::cli {

void print_error(const std::string& msg) { Console::get().line(stderr, "error: " + msg); }

int load_elf_main(int argc, char** argv) {
  CLI::App app{"Load ELF file into Cannon state", "load-elf"};
  app.option_defaults()->multi_option_policy(
      CLI::MultiOptionPolicy::TakeLast);  // Go flag: last wins
  std::string type, path, out = "state.bin.gz", meta = "meta.json";
  app.add_option("--type", type, "VM type to create state for. Valid options: multithreaded64-5")
      ->required();
  app.add_option("--path", path,
                 "Path to 64-bit big-endian MIPS ELF file (at most 1 GiB; segments at most 16 GiB "
                 "of memory)")
      ->required();
  app.add_option("--out", out, "Output state path ('-' stdout, '' none; .bin or .bin.gz)");
  app.add_option("--meta", meta, "Metadata file for symbol lookup; none if empty");
  if (auto rc = parse_flags(app, argc, argv)) return *rc;
  try {
    if (type != kStateVersionName)
      throw std::runtime_error("unsupported state version \"" + type +
                               "\": cannonball supports only " + kStateVersionName);
    // Checked before anything is written (the reference finds out only after writing meta).
    if (!out.empty() && out != "-" && !is_binary_name(out))
      throw std::runtime_error(
          "invalid --out file format: cannonball writes only .bin and .bin.gz states");
    std::vector<uint8_t> elf;
    try {
      ReadLimits limits;
      limits.max_bytes = kMaxElfFileBytes;
      limits.extent = [](std::span<const uint8_t> b) -> uint64_t {
        // Refuse a non-ELF (e.g. /dev/zero) from its first bytes, with the loader's message.
        if (b.size() >= 4 && std::memcmp(b.data(),
                                         "\x7f"
                                         "ELF",
                                         4) != 0)
          (void)load_elf(b);
        return 0;
      };
      elf = read_file(path, limits);
    } catch (const IoError& e) {
      throw std::runtime_error("failed to open ELF file \"" + path + "\": " + e.what());
    }
    State s = load_elf(elf);
    Metadata m = elf_metadata(elf);
    std::string mj = m.to_json();
    write_output(meta,
                 std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(mj.data()), mj.size()));
    write_state(out, s);
  } catch (const std::exception& e) {
    print_error(e.what());
    return kExitError;
  }
  return kExitOk;
}

int witness_main(int argc, char** argv) {
  CLI::App app{"Print the witness and hash of a state file", "witness"};
  app.option_defaults()->multi_option_policy(
      CLI::MultiOptionPolicy::TakeLast);  // Go flag: last wins
  std::string input, output;
  app.add_option("--input", input,
                 "path of input binary state (read up to the state's end, at most 10 GiB)")
      ->required();
  app.add_option("--output", output, "path to write binary witness");
  if (auto rc = parse_flags(app, argc, argv)) return *rc;
  try {
    State s;
    try {
      s = load_state(input);
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string("failed to load state: ") + e.what());
    }
    auto w = s.encode_witness();
    Hash32 h = state_hash_from_witness(w);
    if (!output.empty()) write_file_atomic(output, w);
    std::string j = "{\n  \"stateVersion\": " + std::to_string(kStateVersion) +
                    ",\n  \"witnessHash\": \"" + hex(h) + "\",\n  \"witness\": \"" + hex(w) +
                    "\",\n  \"step\": " + std::to_string(s.step) +
                    ",\n  \"exited\": " + (s.exited ? "true" : "false") +
                    ",\n  \"exitCode\": " + std::to_string(s.exit_code) + "\n}\n\n";
    std::fwrite(j.data(), 1, j.size(), stdout);
  } catch (const std::exception& e) {
    print_error(std::string("invalid input state (") + input + "): " + e.what());
    return kExitError;
  }
  return kExitOk;
}

}  // namespace cb::cli
