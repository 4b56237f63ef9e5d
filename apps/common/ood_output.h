// apps/common/ood_output.h — how the apps show an out-of-domain result
// (sense-classify, sense-sentiment): one wording and one JSON shape.
#ifndef SENSE_APPS_COMMON_OOD_OUTPUT_H_
#define SENSE_APPS_COMMON_OOD_OUTPUT_H_

#include <iomanip>
#include <optional>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "sense/inference/classification.h"

namespace sense::app {

// "not like the images this model knows: Fashion-MNIST, 28 x 28 grey
// clothing on black (out-of-domain score 31.2 > threshold 2.41)";
// `kind` is "images" or "texts".
inline std::string OodMessage(const ModelMetadata& m, const OutOfDomain& o, const std::string& kind) {
  std::ostringstream s;
  s << "not like the " << kind << " this model knows: " << (m.ood ? m.ood->domain : m.name) << " (out-of-domain score "
    << std::fixed << std::setprecision(2) << o.score << " > threshold " << (m.ood ? m.ood->threshold : 0.0f) << ")";
  return s.str();
}

// Adds "out_of_domain": {"score": S, "flag": true|false} when the result has one.
inline void AddOodJson(nlohmann::json& j, const Classifications& c) {
  if (c.out_of_domain) j["out_of_domain"] = {{"score", c.out_of_domain->score}, {"flag", c.out_of_domain->flag}};
}

inline bool Flagged(const Classifications& c) { return c.out_of_domain && c.out_of_domain->flag; }

}  // namespace sense::app

#endif  // SENSE_APPS_COMMON_OOD_OUTPUT_H_
