#include "bcp/io/tensorboard.h"

#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "bcp/io/output_path.h"

namespace bcp::io {
namespace {

std::array<uint32_t, 256> crc_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0x82F63B78u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}

// Protocol-buffer wire format: the few pieces an Event of scalars needs.
void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void put_key(std::string& out, int field, int wire_type) {
  put_varint(out, static_cast<uint64_t>(field) << 3 | static_cast<uint64_t>(wire_type));
}
void put_bytes(std::string& out, int field, const std::string& bytes) {
  put_key(out, field, 2);
  put_varint(out, bytes.size());
  out += bytes;
}
template <typename T>
void put_fixed(std::string& out, int field, T value) {
  put_key(out, field, sizeof(T) == 8 ? 1 : 5);
  char raw[sizeof(T)];
  std::memcpy(raw, &value, sizeof(T));  // little-endian machines only, as LibTorch's CPU builds
  out.append(raw, sizeof(T));
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Event: wall_time = 1 (double), step = 2 (int64), file_version = 3 (string), summary = 5.
// Summary: value = 1 (repeated Value). Value: tag = 1 (string), simple_value = 2 (float).
std::string event_bytes(int64_t step, const std::string& file_version, const std::string& summary) {
  std::string e;
  put_fixed<double>(e, 1, now_seconds());
  put_key(e, 2, 0);
  put_varint(e, static_cast<uint64_t>(step));
  if (!file_version.empty()) put_bytes(e, 3, file_version);
  if (!summary.empty()) put_bytes(e, 5, summary);
  return e;
}

/// Reads protocol-buffer fields from [p, end).
struct Reader {
  const unsigned char* p;
  const unsigned char* end;
  bool ok = true;
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && p < end; shift += 7) {
      const unsigned char b = *p++;
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    ok = false;
    return 0;
  }
  std::string bytes() {
    const uint64_t n = varint();
    if (!ok || n > static_cast<uint64_t>(end - p)) {
      ok = false;
      return {};
    }
    std::string s(reinterpret_cast<const char*>(p), n);
    p += n;
    return s;
  }
  template <typename T>
  T fixed() {
    T v{};
    if (static_cast<size_t>(end - p) < sizeof(T)) {
      ok = false;
      return v;
    }
    std::memcpy(&v, p, sizeof(T));
    p += sizeof(T);
    return v;
  }
  void skip(int wire_type) {
    if (wire_type == 0)
      varint();
    else if (wire_type == 1)
      fixed<double>();
    else if (wire_type == 2)
      bytes();
    else if (wire_type == 5)
      fixed<float>();
    else
      ok = false;
  }
};

Reader reader_of(const std::string& s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  return Reader{p, p + s.size()};
}

void decode_value(const std::string& bytes, Event& e) {
  Reader r = reader_of(bytes);
  while (r.ok && r.p < r.end) {
    const uint64_t key = r.varint();
    if (key >> 3 == 1 && (key & 7) == 2)
      e.tag = r.bytes();
    else if (key >> 3 == 2 && (key & 7) == 5)
      e.value = r.fixed<float>();
    else
      r.skip(static_cast<int>(key & 7));
  }
}

bool decode_event(const std::string& bytes, Event& e) {
  Reader r = reader_of(bytes);
  while (r.ok && r.p < r.end) {
    const uint64_t key = r.varint();
    const int field = static_cast<int>(key >> 3), wire = static_cast<int>(key & 7);
    if (field == 1 && wire == 1) {
      e.wall_time = r.fixed<double>();
    } else if (field == 2 && wire == 0) {
      e.step = static_cast<int64_t>(r.varint());
    } else if (field == 3 && wire == 2) {
      e.file_version = r.bytes();
    } else if (field == 5 && wire == 2) {
      const std::string summary = r.bytes();  // the reader points into it
      Reader s = reader_of(summary);
      while (s.ok && s.p < s.end) {
        const uint64_t k = s.varint();
        if (k >> 3 == 1 && (k & 7) == 2)
          decode_value(s.bytes(), e);
        else
          s.skip(static_cast<int>(k & 7));
      }
      r.ok = r.ok && s.ok;
    } else {
      r.skip(wire);
    }
  }
  return r.ok;
}

}  // namespace

uint32_t crc32c(const void* data, size_t size) {
  static const std::array<uint32_t, 256> table = crc_table();
  const auto* p = static_cast<const unsigned char*>(data);
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

uint32_t masked_crc32c(const void* data, size_t size) {
  const uint32_t c = crc32c(data, size);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

EventWriter::EventWriter(const std::string& dir) {
  std::filesystem::create_directories(dir);
  char host[256] = "localhost";
  gethostname(host, sizeof host - 1);
  const auto seconds = static_cast<int64_t>(now_seconds());
  path_ = (std::filesystem::path(dir) / ("events.out.tfevents." + std::to_string(seconds) + "." +
                                         host + "." + std::to_string(::getpid())))
              .string();
  io::refuse_link(path_);
  out_.open(path_, std::ios::binary | std::ios::app);
  if (!out_) throw std::runtime_error(path_ + ": cannot open the TensorBoard event file");
  write_record(event_bytes(0, "brain.Event:2", ""));
}

void EventWriter::scalar(const std::string& tag, double value, int64_t step) {
  std::string v;
  put_bytes(v, 1, tag);
  put_fixed<float>(v, 2, static_cast<float>(value));
  std::string summary;
  put_bytes(summary, 1, v);
  write_record(event_bytes(step, "", summary));
}

void EventWriter::write_record(const std::string& event) {
  const uint64_t length = event.size();
  char header[12];
  std::memcpy(header, &length, 8);
  const uint32_t length_crc = masked_crc32c(header, 8);
  std::memcpy(header + 8, &length_crc, 4);
  const uint32_t data_crc = masked_crc32c(event.data(), event.size());
  out_.write(header, sizeof header);
  out_.write(event.data(), static_cast<std::streamsize>(event.size()));
  out_.write(reinterpret_cast<const char*>(&data_crc), 4);
  out_.flush();
  if (!out_) throw std::runtime_error(path_ + ": write failed");
}

std::vector<Event> read_events(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open");
  std::vector<Event> events;
  for (size_t index = 0;; ++index) {
    char header[12];
    in.read(header, sizeof header);
    if (in.gcount() == 0) break;
    const std::string where = path + ": record " + std::to_string(index);
    if (in.gcount() != sizeof header) throw std::runtime_error(where + " is truncated");
    uint64_t length;
    uint32_t length_crc;
    std::memcpy(&length, header, 8);
    std::memcpy(&length_crc, header + 8, 4);
    if (length_crc != masked_crc32c(header, 8))
      throw std::runtime_error(where + ": length CRC mismatch");
    if (length > (64u << 20)) throw std::runtime_error(where + ": implausible length");
    std::string data(length, '\0');
    uint32_t data_crc = 0;
    in.read(data.data(), static_cast<std::streamsize>(length));
    in.read(reinterpret_cast<char*>(&data_crc), 4);
    if (!in) throw std::runtime_error(where + " is truncated");
    if (data_crc != masked_crc32c(data.data(), data.size()))
      throw std::runtime_error(where + ": data CRC mismatch");
    Event e;
    if (!decode_event(data, e)) throw std::runtime_error(where + ": not a valid Event message");
    events.push_back(e);
  }
  return events;
}

}  // namespace bcp::io
