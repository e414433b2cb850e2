// TensorBoard event files, so `tensorboard --logdir RUNS` shows bcp runs as it shows the authors'.
// The format is TFRecord framing (length, masked CRC32C of the length, data, masked CRC32C of the
// data) around protocol-buffer `Event` messages; bcp writes only scalar summaries, so the two
// messages involved are encoded here by hand rather than pulling in protobuf and TensorFlow's
// .proto files.
#pragma once
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace bcp::io {

/// CRC-32C (Castagnoli), as TFRecord uses it.
uint32_t crc32c(const void* data, size_t size);
/// TFRecord's masked form of a CRC-32C.
uint32_t masked_crc32c(const void* data, size_t size);

/// Appends events to a new file DIR/events.out.tfevents.<seconds>.<host>.<pid> (created with its
/// folder; the first record is the file-version event). Every call is flushed, so TensorBoard
/// sees a live run; a file cut short by a crash loses at most its last record (TensorBoard skips
/// it; read_events reports it).
class EventWriter {
 public:
  explicit EventWriter(const std::string& dir);
  /// One scalar (stored as float32, as TensorBoard's simple_value is).
  void scalar(const std::string& tag, double value, int64_t step);
  const std::string& path() const { return path_; }

 private:
  void write_record(const std::string& event);
  std::string path_;
  std::ofstream out_;
};

/// One event read back: the file-version event has `file_version` set; scalar events `tag` and
/// `value`.
struct Event {
  double wall_time = 0;
  int64_t step = 0;
  std::string file_version;
  std::string tag;
  float value = 0;
};

/// Reads every record of an event file, checking both CRCs of each, and decodes its event.
/// Throws std::runtime_error naming the file and the record for a bad length or CRC, or a
/// truncated record.
std::vector<Event> read_events(const std::string& path);

}  // namespace bcp::io
