// Internal: a byte trie over vocabulary entries for greedy longest-match
// WordPiece. Built once, read-only afterwards (safe to share across threads).
#ifndef SENSE_TEXT_SRC_PIECE_TRIE_H_
#define SENSE_TEXT_SRC_PIECE_TRIE_H_

#include <cstdint>
#include <string_view>
#include <vector>

namespace sense::text::internal {

class PieceTrie {
 public:
  static constexpr uint32_t kRoot = 0;
  static constexpr uint32_t kNone = 0xFFFFFFFFu;

  PieceTrie();
  // Adds `key` with `value` (>= 0); a later Insert of the same key wins.
  void Insert(std::string_view key, int value);
  // Freezes the trie for lookups; call once after all inserts.
  void Build();

  // The node reached from `node` by `bytes`, or kNone.
  uint32_t Walk(uint32_t node, std::string_view bytes) const;
  // The value stored at `node` (-1: none).
  int Value(uint32_t node) const { return nodes_[node].value; }

  // Longest entry that is a prefix of `s`, starting from `node`, and ends at
  // a position where is_boundary(end) holds. Returns its value (or -1) and
  // sets *length to its byte length.
  template <typename Boundary>
  int LongestPrefix(uint32_t node, std::string_view s, Boundary is_boundary, std::size_t* length) const {
    int best = -1;
    std::size_t best_len = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
      node = Child(node, static_cast<uint8_t>(s[i]));
      if (node == kNone) break;
      const int v = nodes_[node].value;
      if (v >= 0 && is_boundary(i + 1)) {
        best = v;
        best_len = i + 1;
      }
    }
    *length = best_len;
    return best;
  }

  uint32_t Child(uint32_t node, uint8_t byte) const {
    const Node& n = nodes_[node];
    if (n.dense != kNone) {
      return dense_[static_cast<std::size_t>(n.dense) * 256 + byte];
    }
    const uint8_t* labels = labels_.data() + n.first_edge;
    for (uint32_t k = 0; k < n.num_edges; ++k) {
      if (labels[k] == byte) return children_[n.first_edge + k];
    }
    return kNone;
  }

 private:
  struct Node {
    int value = -1;
    uint32_t first_edge = 0;
    uint32_t num_edges = 0;
    uint32_t dense = kNone;  // index of a 256-entry child table for wide nodes
  };
  // Build-time representation: per node, (label, child) pairs.
  std::vector<std::vector<std::pair<uint8_t, uint32_t>>> build_edges_;
  std::vector<Node> nodes_;
  std::vector<uint8_t> labels_;
  std::vector<uint32_t> children_;
  std::vector<uint32_t> dense_;
};

}  // namespace sense::text::internal

#endif  // SENSE_TEXT_SRC_PIECE_TRIE_H_
