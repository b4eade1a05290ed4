// read_file / write_output: gzip by name as the reference's ioutil, atomic writes, and clean
// errors for every broken gzip (never short data).
#include "host/file_io.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace cb {
namespace {

using Bytes = std::vector<uint8_t>;

class FileIo : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = ::testing::TempDir() + "/cb_file_io_XXXXXX";
    ASSERT_NE(::mkdtemp(templ.data()), nullptr);
    m_dir = templ;
  }
  void TearDown() override {
    ::chmod(m_dir.c_str(), 0755);
    std::system(("rm -rf '" + m_dir + "'").c_str());
  }
  std::string path(const std::string& name) const { return m_dir + "/" + name; }
  std::vector<std::string> list_dir(const std::string& d) const {
    std::vector<std::string> names;
    if (DIR* dp = ::opendir(d.c_str())) {
      while (dirent* e = ::readdir(dp)) {
        const std::string n = e->d_name;
        if (n != "." && n != "..") names.push_back(n);
      }
      ::closedir(dp);
    }
    return names;
  }
  static void put(const std::string& p, const Bytes& data) {
    std::ofstream(p, std::ios::binary)
        .write(reinterpret_cast<const char*>(data.data()),
               static_cast<std::streamsize>(data.size()));
  }
  static Bytes get(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), {});
  }
  std::string m_dir;
};

Bytes sample(size_t n, uint32_t seed = 1) {
  // Half random (incompressible: stored blocks), half repetitive (real deflate).
  std::mt19937 rng(seed);
  Bytes b(n);
  for (size_t i = 0; i < n; ++i)
    b[i] = i < n / 2 ? static_cast<uint8_t>(rng()) : static_cast<uint8_t>(i % 7);
  return b;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const IoError& e) {
    return e.what();
  }
  return "<no error>";
}

TEST_F(FileIo, GzipRuleIsTheSuffix) {
  EXPECT_TRUE(is_gzip_path("state.bin.gz"));
  EXPECT_TRUE(is_gzip_path(".gz"));
  EXPECT_FALSE(is_gzip_path("state.bin"));
  EXPECT_FALSE(is_gzip_path("state.GZ"));
  EXPECT_FALSE(is_gzip_path("state.gz.bin"));
  EXPECT_FALSE(is_gzip_path("-"));
}

TEST_F(FileIo, RawRoundTrip) {
  for (size_t n : {size_t{0}, size_t{1}, size_t{4096}, size_t{3} << 20}) {
    const Bytes data = sample(n);
    write_file_atomic(path("raw.bin"), data);
    EXPECT_EQ(get(path("raw.bin")), data);
    EXPECT_EQ(read_file(path("raw.bin")), data);
  }
}

TEST_F(FileIo, GzipRoundTripWithReferenceHeader) {
  for (size_t n : {size_t{0}, size_t{1}, size_t{100000}, size_t{5} << 20}) {
    const Bytes data = sample(n, static_cast<uint32_t>(n));
    write_file_atomic(path("s.bin.gz"), data);
    const Bytes raw = get(path("s.bin.gz"));
    ASSERT_GE(raw.size(), 18u);
    // Go's compress/gzip default header: magic, deflate, no flags, mtime 0, XFL 0, OS 255.
    const Bytes header = {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff};
    EXPECT_EQ(Bytes(raw.begin(), raw.begin() + 10), header);
    EXPECT_EQ(read_file(path("s.bin.gz")), data);
    EXPECT_EQ(gunzip_bytes(raw, "x"), data);
    // Deterministic: same bytes every time.
    EXPECT_EQ(gzip_bytes(data), raw);
  }
}

TEST_F(FileIo, GzipWrittenByOthersIsRead) {
  const Bytes data = sample(300000);
  put(path("plain.bin"), data);
  ASSERT_EQ(std::system(("gzip -9 -k -n '" + path("plain.bin") + "'").c_str()), 0);
  EXPECT_EQ(read_file(path("plain.bin.gz")), data);
}

TEST_F(FileIo, ReferenceStateFile) {
#ifdef CB_SOURCE_DIR
  const std::string p =
      std::string(CB_SOURCE_DIR) + "/../shared/reference/vectors/oracle/final.bin.gz";
  if (::access(p.c_str(), R_OK) != 0) GTEST_SKIP() << "no reference vectors at " << p;
  const Bytes state = read_file(p);
  ASSERT_FALSE(state.empty());
  EXPECT_EQ(state[0], 8);  // the state version byte (multithreaded64-5), per the vectors README
#else
  GTEST_SKIP() << "CB_SOURCE_DIR is not defined: cannot find the shared reference vectors";
#endif
}

TEST_F(FileIo, GzipWithoutSuffixIsReadRaw) {
  const Bytes gz = gzip_bytes(sample(1000));
  put(path("state.bin"), gz);
  EXPECT_EQ(read_file(path("state.bin")), gz);  // as the reference: no sniffing
}

TEST_F(FileIo, NonGzipWithSuffixIsAnError) {
  put(path("bad.gz"), Bytes{'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', '\n'});
  const std::string err = error_of([&] { read_file(path("bad.gz")); });
  EXPECT_NE(err.find("corrupt gzip data"), std::string::npos) << err;
  EXPECT_NE(err.find(path("bad.gz")), std::string::npos) << err;
}

TEST_F(FileIo, EveryTruncationIsAnError) {
  const Bytes data = sample(20000);
  const Bytes gz = gzip_bytes(data);
  for (size_t cut = 0; cut < gz.size(); ++cut) {
    const std::string err = error_of([&] { gunzip_bytes(std::span(gz).first(cut), "t.gz"); });
    EXPECT_NE(err.find("truncated gzip"), std::string::npos) << "cut at " << cut << ": " << err;
  }
  for (size_t cut : {size_t{0}, size_t{5}, size_t{10}, gz.size() / 2, gz.size() - 1}) {
    put(path("t.gz"), Bytes(gz.begin(), gz.begin() + static_cast<long>(cut)));
    const std::string err = error_of([&] { read_file(path("t.gz")); });
    EXPECT_NE(err.find("truncated gzip"), std::string::npos) << "cut at " << cut << ": " << err;
    EXPECT_NE(err.find(path("t.gz")), std::string::npos) << err;
  }
}

TEST_F(FileIo, CorruptionIsAnError) {
  const Bytes data = sample(20000);
  const Bytes gz = gzip_bytes(data);
  // CRC32 and ISIZE trailer, and a byte inside a stored (random-data) block.
  for (size_t at : {gz.size() - 1, gz.size() - 5, gz.size() - 8, size_t{5000}, size_t{2}}) {
    Bytes bad = gz;
    bad[at] ^= 0x55;
    const std::string err = error_of([&] { gunzip_bytes(bad, "c.gz"); });
    EXPECT_NE(err.find("corrupt gzip data"), std::string::npos) << "flip at " << at << ": " << err;
  }
}

TEST_F(FileIo, ConcatenatedMembersAndTrailingGarbage) {
  const Bytes a = sample(5000, 7), b = sample(7000, 8);
  Bytes both = gzip_bytes(a);
  const Bytes gb = gzip_bytes(b);
  both.insert(both.end(), gb.begin(), gb.end());
  Bytes want = a;
  want.insert(want.end(), b.begin(), b.end());
  EXPECT_EQ(gunzip_bytes(both, "m.gz"), want);  // Go's gzip.Reader is multistream

  Bytes garbage = both;
  for (int i = 0; i < 16; ++i) garbage.push_back('x');
  EXPECT_NE(error_of([&] { gunzip_bytes(garbage, "g.gz"); }).find("corrupt gzip data"),
            std::string::npos);
  Bytes zeros = both;
  zeros.push_back(0);
  zeros.push_back(0);
  EXPECT_NE(error_of([&] { gunzip_bytes(zeros, "z.gz"); }), "<no error>");
}

TEST_F(FileIo, DecompressedSizeCap) {
  const Bytes data(1000, 'a');
  const Bytes gz = gzip_bytes(data);
  EXPECT_EQ(gunzip_bytes(gz, "cap", 1001), data);
  // ioutil's limit: reaching the cap exactly is already an error.
  EXPECT_NE(error_of([&] { gunzip_bytes(gz, "cap", 1000); }).find("exceeds maximum allowed size"),
            std::string::npos);
  EXPECT_NE(error_of([&] { gunzip_bytes(gz, "cap", 10); }).find("exceeds maximum allowed size"),
            std::string::npos);
}

TEST_F(FileIo, EmptyFiles) {
  put(path("e.bin"), {});
  EXPECT_TRUE(read_file(path("e.bin")).empty());
  put(path("e.gz"), {});
  EXPECT_NE(error_of([&] { read_file(path("e.gz")); }).find("truncated gzip"), std::string::npos);
}

TEST_F(FileIo, OpenErrors) {
  EXPECT_EQ(error_of([&] { read_file(""); }), "no path specified");
  const std::string err = error_of([&] { read_file(path("missing.bin.gz")); });
  EXPECT_EQ(err,
            "failed to open file \"" + path("missing.bin.gz") + "\": No such file or directory");
  EXPECT_NE(error_of([&] { read_file(m_dir); }).find("Is a directory"), std::string::npos);
}

TEST_F(FileIo, ModeIsThePermNotTheUmask) {
  const mode_t old = ::umask(077);
  write_file_atomic(path("m.bin"), sample(10));
  write_file_atomic(path("p.bin"), sample(10), WriteOptions{.perm = 0640});
  ::umask(old);
  struct stat st {};
  ASSERT_EQ(::stat(path("m.bin").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);  // run.go OutFilePerm
  ASSERT_EQ(::stat(path("p.bin").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
}

TEST_F(FileIo, FailedWriteLeavesNothing) {
  // Directory that does not exist (the reference does not create it either).
  std::string err = error_of([&] { write_file_atomic(path("nodir/x.bin.gz"), sample(10)); });
  EXPECT_NE(err.find("nodir"), std::string::npos) << err;
  EXPECT_NE(err.find("No such file or directory"), std::string::npos) << err;
  // Directory without write permission. Root ignores permissions, so as root the attempt
  // runs in a child that dropped to "nobody".
  ::mkdir(path("ro").c_str(), 0555);
  ::chmod(path("ro").c_str(), 0555);
  ::chmod(m_dir.c_str(), 0755);
  auto try_read_only = [&] {
    const std::string e = error_of([&] { write_file_atomic(path("ro/x.bin"), sample(10)); });
    return e.find("Permission denied") != std::string::npos &&
           e.find(path("ro/x.bin")) != std::string::npos;
  };
  if (::geteuid() != 0) {
    EXPECT_TRUE(try_read_only());
  } else {
    fflush(nullptr);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      const bool dropped = ::setgid(65534) == 0 && ::setuid(65534) == 0;
      ::_exit(!dropped ? 2 : try_read_only() ? 0 : 1);
    }
    int st = 0;
    ASSERT_EQ(::waitpid(pid, &st, 0), pid);
    ASSERT_TRUE(WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), 0);
  }
  EXPECT_TRUE(list_dir(path("ro")).empty());
  // Rename onto a directory fails after the data was written: temp file removed.
  ::mkdir(path("target.bin").c_str(), 0755);
  err = error_of([&] { write_file_atomic(path("target.bin"), sample(10)); });
  EXPECT_NE(err.find("failed to rename"), std::string::npos) << err;
  const auto names = list_dir(m_dir);
  EXPECT_EQ(names.size(), 2u) << "only ro/ and target.bin/ may remain";
}

TEST_F(FileIo, AbandonedWriterKeepsTheOldFile) {
  const Bytes old_data = sample(100, 3);
  write_file_atomic(path("keep.bin.gz"), old_data);
  std::string temp;
  {
    AtomicFileWriter w(path("keep.bin.gz"));
    temp = w.temp_path();
    w.write(sample(5000, 4));
    if (temp.empty()) {
      // An anonymous O_TMPFILE: nothing is visible in the directory while writing.
      EXPECT_EQ(list_dir(m_dir).size(), 1u);
    } else {
      EXPECT_EQ(temp.rfind(m_dir + "/keep.bin.gz.tmp.", 0), 0u) << temp;  // same directory
      EXPECT_EQ(::access(temp.c_str(), F_OK), 0);
    }
  }  // no commit: as if an error unwound the stack
  if (!temp.empty()) EXPECT_NE(::access(temp.c_str(), F_OK), 0);
  EXPECT_EQ(read_file(path("keep.bin.gz")), old_data);
  EXPECT_EQ(list_dir(m_dir).size(), 1u);
}

TEST_F(FileIo, StreamingWriterMatchesOneShot) {
  const Bytes data = sample(3 << 20, 9);
  {
    AtomicFileWriter w(path("stream.bin.gz"));
    for (size_t off = 0; off < data.size(); off += 777777) {
      w.write(std::span(data).subspan(off, std::min<size_t>(777777, data.size() - off)));
    }
    w.commit();
  }
  EXPECT_EQ(read_file(path("stream.bin.gz")), data);
}

TEST_F(FileIo, OutputTargets) {
  EXPECT_FALSE(write_output("", sample(10)));  // NoOutputStream
  EXPECT_TRUE(list_dir(m_dir).empty());
  EXPECT_TRUE(write_output(path("o.bin"), sample(10)));
  EXPECT_EQ(read_file(path("o.bin")), sample(10));

  // "-": raw bytes on stdout.
  fflush(stdout);
  const int saved = ::dup(STDOUT_FILENO);
  const int fd = ::open(path("stdout.capture").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ::dup2(fd, STDOUT_FILENO);
  ::close(fd);
  const bool wrote = write_output("-", sample(5000));
  ::dup2(saved, STDOUT_FILENO);
  ::close(saved);
  EXPECT_TRUE(wrote);
  EXPECT_EQ(get(path("stdout.capture")), sample(5000));
}

}  // namespace
}  // namespace cb
