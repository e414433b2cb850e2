#include "bcp/io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace bcp::io {
namespace fs = std::filesystem;

std::string unique_temp_path(const std::string& target) {
  static std::atomic<unsigned long> counter{0};
  return target + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
}

void fsync_path(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw std::runtime_error(path + ": cannot open to sync: " + std::strerror(errno));
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw std::runtime_error(path + ": fsync failed: " + std::strerror(errno));
}

void commit_temp_file(const std::string& tmp, const std::string& target) {
  std::error_code ec;
  fs::rename(tmp, target, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw std::runtime_error(target +
                             ": cannot rename the finished file into place: " + ec.message());
  }
  const fs::path dir = fs::path(target).parent_path();
  fsync_path(dir.empty() ? "." : dir.string());
}

void commit_directory(const std::string& staged, const std::string& target) {
  std::error_code ec;
  fs::rename(staged, target, ec);
  if (ec)
    throw std::runtime_error(staged + ": cannot rename the finished folder to " + target + ": " +
                             ec.message());
  const fs::path dir = fs::path(target).parent_path();
  fsync_path(dir.empty() ? "." : dir.string());
}

void write_file_atomically(const std::string& target, const std::string& bytes) {
  const std::string tmp = unique_temp_path(target);
  try {
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      if (!out) throw std::runtime_error(tmp + ": cannot open for writing");
      out << bytes;
      out.flush();
      if (!out) throw std::runtime_error(tmp + ": write failed");
    }
    fsync_path(tmp);
  } catch (...) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw;
  }
  commit_temp_file(tmp, target);
}

}  // namespace bcp::io
