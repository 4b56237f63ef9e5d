#include "piece_trie.h"

#include <algorithm>

namespace sense::text::internal {

namespace {
constexpr uint32_t kDenseThreshold = 12;  // nodes with more children get a direct table
}

PieceTrie::PieceTrie() : build_edges_(1), nodes_(1) {}

void PieceTrie::Insert(std::string_view key, int value) {
  uint32_t node = kRoot;
  for (char ch : key) {
    const auto byte = static_cast<uint8_t>(ch);
    auto& edges = build_edges_[node];
    auto it = std::find_if(edges.begin(), edges.end(), [&](const auto& e) { return e.first == byte; });
    if (it != edges.end()) {
      node = it->second;
    } else {
      const auto child = static_cast<uint32_t>(nodes_.size());
      edges.emplace_back(byte, child);
      nodes_.emplace_back();
      build_edges_.emplace_back();
      node = child;
    }
  }
  nodes_[node].value = value;
}

void PieceTrie::Build() {
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    auto& edges = build_edges_[i];
    std::sort(edges.begin(), edges.end());
    Node& n = nodes_[i];
    n.first_edge = static_cast<uint32_t>(labels_.size());
    n.num_edges = static_cast<uint32_t>(edges.size());
    for (const auto& [label, child] : edges) {
      labels_.push_back(label);
      children_.push_back(child);
    }
    if (n.num_edges > kDenseThreshold) {
      n.dense = static_cast<uint32_t>(dense_.size() / 256);
      dense_.resize(dense_.size() + 256, kNone);
      for (const auto& [label, child] : edges) dense_[static_cast<std::size_t>(n.dense) * 256 + label] = child;
    }
  }
  build_edges_.clear();
  build_edges_.shrink_to_fit();
}

uint32_t PieceTrie::Walk(uint32_t node, std::string_view bytes) const {
  for (char ch : bytes) {
    if (node == kNone) return kNone;
    node = Child(node, static_cast<uint8_t>(ch));
  }
  return node;
}

}  // namespace sense::text::internal
