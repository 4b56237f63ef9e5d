#include "zip_archive.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>
#include <new>

#include "sense/inference/error.h"

namespace sense::internal {

namespace {

std::uint64_t Le(const unsigned char* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

class File {
 public:
  explicit File(const std::string& path) : path_(path), in_(path, std::ios::binary) {}
  bool ok() const { return static_cast<bool>(in_); }
  // Reads exactly n bytes at `offset` or throws a format error naming `what`.
  void ReadAt(std::uint64_t offset, void* out, std::size_t n, const char* what) {
    in_.clear();
    in_.seekg(static_cast<std::streamoff>(offset));
    in_.read(static_cast<char*>(out), static_cast<std::streamsize>(n));
    if (static_cast<std::size_t>(in_.gcount()) != n)
      throw Error(ErrorCode::kModelFormat, path_ + ": corrupt or truncated TorchScript archive (" + what +
                                               " past the end of the file)");
  }

 private:
  std::string path_;
  std::ifstream in_;
};

[[noreturn]] void Corrupt(const std::string& path, const std::string& why) {
  throw Error(ErrorCode::kModelFormat, path + ": corrupt or truncated TorchScript archive (" + why + ")");
}

}  // namespace

std::uint32_t Crc32(const void* data, std::size_t size) {
  uLong crc = crc32(0L, Z_NULL, 0);
  const auto* p = static_cast<const Bytef*>(data);
  while (size > 0) {  // zlib takes uInt lengths
    const uInt n = static_cast<uInt>(std::min<std::size_t>(size, 1u << 30));
    crc = crc32(crc, p, n);
    p += n;
    size -= n;
  }
  return static_cast<std::uint32_t>(crc);
}

ZipArchive::ZipArchive(std::string path) : path_(std::move(path)) {
  File f(path_);
  if (!f.ok()) throw Error(ErrorCode::kFile, path_ + ": cannot open the file");
  {
    std::ifstream s(path_, std::ios::binary | std::ios::ate);
    file_size_ = static_cast<std::uint64_t>(s.tellg());
  }
  // End of central directory: 22 bytes plus a comment of at most 65535.
  if (file_size_ < 22) Corrupt(path_, "shorter than a zip end record");
  const std::uint64_t tail = std::min<std::uint64_t>(file_size_, 22 + 65535 + 20);
  std::vector<unsigned char> buf(static_cast<std::size_t>(tail));
  f.ReadAt(file_size_ - tail, buf.data(), buf.size(), "end record");
  std::int64_t eocd = -1;
  for (std::int64_t i = static_cast<std::int64_t>(tail) - 22; i >= 0; --i)
    if (buf[i] == 'P' && buf[i + 1] == 'K' && buf[i + 2] == 5 && buf[i + 3] == 6) {
      eocd = i;
      break;
    }
  if (eocd < 0) Corrupt(path_, "no zip end-of-central-directory record");
  const unsigned char* e = buf.data() + eocd;
  std::uint64_t count = Le(e + 10, 2), cd_size = Le(e + 12, 4), cd_offset = Le(e + 16, 4);
  // zip64: a locator right before the end record points at the zip64 end record
  if (eocd >= 20 && Le(buf.data() + eocd - 20, 4) == 0x07064b50u) {
    const std::uint64_t z64 = Le(buf.data() + eocd - 20 + 8, 8);
    unsigned char r[56];
    if (z64 + sizeof r > file_size_) Corrupt(path_, "zip64 end record past the end of the file");
    f.ReadAt(z64, r, sizeof r, "zip64 end record");
    if (Le(r, 4) != 0x06064b50u) Corrupt(path_, "bad zip64 end record");
    count = Le(r + 32, 8);
    cd_size = Le(r + 40, 8);
    cd_offset = Le(r + 48, 8);
  }
  if (cd_offset > file_size_ || cd_size > file_size_ - cd_offset) Corrupt(path_, "central directory past the end of the file");
  if (count > cd_size / 46) Corrupt(path_, "more records than the central directory holds");
  std::vector<unsigned char> cd(static_cast<std::size_t>(cd_size));
  f.ReadAt(cd_offset, cd.data(), cd.size(), "central directory");
  std::size_t at = 0;
  for (std::uint64_t n = 0; n < count; ++n) {
    if (at + 46 > cd.size() || Le(&cd[at], 4) != 0x02014b50u) Corrupt(path_, "bad central directory entry");
    const unsigned char* c = &cd[at];
    Entry entry;
    entry.method = static_cast<std::uint16_t>(Le(c + 10, 2));
    entry.crc = static_cast<std::uint32_t>(Le(c + 16, 4));
    entry.compressed = Le(c + 20, 4);
    entry.size = Le(c + 24, 4);
    const std::size_t name_len = Le(c + 28, 2), extra_len = Le(c + 30, 2), comment_len = Le(c + 32, 2);
    entry.local_offset = Le(c + 42, 4);
    if (at + 46 + name_len + extra_len + comment_len > cd.size()) Corrupt(path_, "bad central directory entry");
    std::string name(reinterpret_cast<const char*>(c + 46), name_len);
    // zip64 extended information: the 0xFFFFFFFF fields, in this order
    for (std::size_t x = 0; x + 4 <= extra_len;) {
      const unsigned char* h = c + 46 + name_len + x;
      const std::size_t id = Le(h, 2), len = Le(h + 2, 2);
      if (x + 4 + len > extra_len) break;
      if (id == 1) {
        std::size_t k = 0;
        for (std::uint64_t* field : {&entry.size, &entry.compressed, &entry.local_offset})
          if (*field == 0xFFFFFFFFu && k + 8 <= len) {
            *field = Le(h + 4 + k, 8);
            k += 8;
          }
      }
      x += 4 + len;
    }
    at += 46 + name_len + extra_len + comment_len;
    const std::size_t slash = name.find('/');
    if (slash == std::string::npos || name.back() == '/') continue;  // a folder entry
    name = name.substr(slash + 1);
    if (entries_.emplace(name, entry).second) names_.push_back(name);
  }
}

std::string ZipArchive::Read(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) Corrupt(path_, "no record '" + name + "'");
  const Entry& e = it->second;
  File f(path_);
  unsigned char local[30];
  if (e.local_offset > file_size_) Corrupt(path_, "record '" + name + "' past the end of the file");
  f.ReadAt(e.local_offset, local, sizeof local, "record header");
  if (Le(local, 4) != 0x04034b50u) Corrupt(path_, "bad header of record '" + name + "'");
  const std::uint64_t data = e.local_offset + 30 + Le(local + 26, 2) + Le(local + 28, 2);
  if (data > file_size_ || e.compressed > file_size_ - data) Corrupt(path_, "record '" + name + "' past the end of the file");
  if (e.size > std::numeric_limits<std::size_t>::max() / 2) throw Error(ErrorCode::kResource, path_ + ": record '" + name + "' is too large");
  std::string out;
  try {
    if (e.method == 0) {
      if (e.size != e.compressed) Corrupt(path_, "stored record '" + name + "' with two sizes");
      out.resize(static_cast<std::size_t>(e.size));
      if (!out.empty()) f.ReadAt(data, out.data(), out.size(), "record");
    } else if (e.method == 8) {
      std::string packed(static_cast<std::size_t>(e.compressed), '\0');
      if (!packed.empty()) f.ReadAt(data, packed.data(), packed.size(), "record");
      out.resize(static_cast<std::size_t>(e.size));
      z_stream z{};
      if (inflateInit2(&z, -MAX_WBITS) != Z_OK) throw Error(ErrorCode::kResource, path_ + ": zlib inflateInit failed");
      z.next_in = reinterpret_cast<Bytef*>(packed.data());
      z.avail_in = static_cast<uInt>(packed.size());
      z.next_out = reinterpret_cast<Bytef*>(out.data());
      z.avail_out = static_cast<uInt>(out.size());
      const int rc = inflate(&z, Z_FINISH);
      const std::uint64_t produced = z.total_out;
      inflateEnd(&z);
      if (rc != Z_STREAM_END || produced != e.size) Corrupt(path_, "record '" + name + "' does not inflate to its size");
    } else {
      Corrupt(path_, "record '" + name + "' uses compression method " + std::to_string(e.method) +
                         " (expected 0, stored, or 8, deflate)");
    }
  } catch (const std::bad_alloc&) {
    throw Error(ErrorCode::kResource, path_ + ": out of memory reading record '" + name + "'");
  }
  if (Crc32(out.data(), out.size()) != e.crc) Corrupt(path_, "CRC-32 mismatch in record '" + name + "'");
  return out;
}

}  // namespace sense::internal
