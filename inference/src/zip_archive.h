// Internal: the records of a zip archive as PyTorch's serializer writes them
// (a TorchScript bundle), read without LibTorch. Not installed.
//
// Why: reading a bundle's metadata (sense.json, assets) and the weights of a
// model that the native backend runs should not cost LibTorch's start-up
// (about half a second of static initialisers on this machine).
//
// Contract: zip and zip64 archives; stored (method 0) and deflated (method 8)
// records; every record read is checked against its CRC-32. Record names are
// given without the archive's top folder ("extra/sense.json" for
// "ner-conll2003/extra/sense.json"), as LibTorch's reader gives them. A
// truncated, corrupt or non-zip file is Error(kModelFormat) naming the file;
// a record larger than memory is Error(kResource).
// Thread safety: const methods may run on several threads at once (each read
// opens its own stream).
#ifndef SENSE_INFERENCE_SRC_ZIP_ARCHIVE_H_
#define SENSE_INFERENCE_SRC_ZIP_ARCHIVE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sense::internal {

class ZipArchive {
 public:
  // Reads the central directory. Throws Error(kModelFormat) for a file that
  // is not a readable zip archive.
  explicit ZipArchive(std::string path);

  const std::string& path() const { return path_; }
  // Record names in archive order, top folder stripped.
  const std::vector<std::string>& names() const { return names_; }
  bool Contains(const std::string& name) const { return entries_.count(name) > 0; }
  // The record's bytes. Throws Error(kModelFormat) for a missing record, an
  // unsupported compression method, a record past the end of the file or a
  // CRC mismatch.
  std::string Read(const std::string& name) const;

 private:
  struct Entry {
    std::uint64_t local_offset = 0, compressed = 0, size = 0;
    std::uint32_t crc = 0;
    std::uint16_t method = 0;
  };
  std::string path_;
  std::uint64_t file_size_ = 0;
  std::map<std::string, Entry> entries_;
  std::vector<std::string> names_;
};

// CRC-32 (ISO-HDLC, as zip uses it) of `size` bytes.
std::uint32_t Crc32(const void* data, std::size_t size);

}  // namespace sense::internal

#endif  // SENSE_INFERENCE_SRC_ZIP_ARCHIVE_H_
