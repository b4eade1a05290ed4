// pprof's profile.proto (github.com/google/pprof/proto/profile.proto), encoded by hand: one
// sample per folded stack (value = steps), one location and function per guest function.
// Fields used: Profile.sample_type(1) sample(2) location(4) function(5) string_table(6)
// period_type(11) period(12); Sample.location_id(1, leaf first) value(2); Location.id(1)
// line(4); Line.function_id(1); Function.id(1) name(2) system_name(3).
#include <map>

#include "tools/profile.h"

namespace cb {

namespace {

class Pb {
 public:
  void varint(uint64_t v) {
    while (v >= 0x80) {
      m_out.push_back(uint8_t(v | 0x80));
      v >>= 7;
    }
    m_out.push_back(uint8_t(v));
  }
  void field(unsigned num, uint64_t v) {  // wire type 0
    varint(uint64_t(num) << 3);
    varint(v);
  }
  void bytes(unsigned num, const std::string& b) {  // wire type 2
    varint(uint64_t(num) << 3 | 2);
    varint(b.size());
    m_out.append(b);
  }
  const std::string& str() const { return m_out; }

 private:
  std::string m_out;
};

}  // namespace

std::string profile_pprof(const ProfileResult& r) {
  std::vector<std::string> strings{""};
  std::map<std::string, uint64_t> string_ids;
  auto sid = [&](const std::string& s) {
    auto [it, fresh] = string_ids.emplace(s, strings.size());
    if (fresh) strings.push_back(s);
    return it->second;
  };
  std::map<std::string, uint64_t> fn_ids;  // function name -> id (= its location id), from 1
  Pb out;
  auto value_type = [&](unsigned num, const char* type, const char* unit) {
    Pb v;
    v.field(1, sid(type));
    v.field(2, sid(unit));
    out.bytes(num, v.str());
  };
  value_type(1, "steps", "count");
  for (const auto& [stack, n] : r.folded) {
    std::vector<uint64_t> ids;
    for (size_t pos = 0; pos <= stack.size();) {
      size_t end = stack.find(';', pos);
      if (end == std::string::npos) end = stack.size();
      auto [it, fresh] = fn_ids.emplace(stack.substr(pos, end - pos), fn_ids.size() + 1);
      ids.push_back(it->second);
      pos = end + 1;
    }
    Pb sample, locs, vals;
    for (size_t i = ids.size(); i-- > 0;) locs.varint(ids[i]);  // leaf first
    vals.varint(n);
    sample.bytes(1, locs.str());  // packed
    sample.bytes(2, vals.str());
    out.bytes(2, sample.str());
  }
  for (const auto& [name, id] : fn_ids) {
    Pb line, loc;
    line.field(1, id);
    loc.field(1, id);
    loc.bytes(4, line.str());
    out.bytes(4, loc.str());
  }
  for (const auto& [name, id] : fn_ids) {
    Pb f;
    f.field(1, id);
    f.field(2, sid(name));
    f.field(3, sid(name));
    out.bytes(5, f.str());
  }
  // period_type / period: every step counted once.
  Pb period;
  period.field(1, sid("steps"));
  period.field(2, sid("count"));
  std::string tail;
  for (const std::string& s : strings) {
    Pb one;
    one.bytes(6, s);
    tail += one.str();
  }
  Pb end;
  end.bytes(11, period.str());
  end.field(12, 1);
  return out.str() + tail + end.str();
}

}  // namespace cb
