// The profile's output formats: the sorted table, folded stacks, and our own SVG flame graph.
#include <cstdio>
#include <functional>
#include <map>
#include <memory>

#include "tools/profile.h"

namespace cb {

namespace {

std::string grouped(uint64_t v) {
  std::string s = std::to_string(v), out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return out;
}
std::string pct(uint64_t n, uint64_t total) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f%%", total ? 100.0 * double(n) / double(total) : 0.0);
  return b;
}
std::string xml_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&':
        o += "&amp;";
        break;
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '"':
        o += "&quot;";
        break;
      default:
        o += c;
    }
  }
  return o;
}

}  // namespace

std::string profile_table(const ProfileResult& r, size_t max_rows) {
  const uint64_t total = r.end_step - r.start_step;
  std::string out;
  char b[512];
  std::snprintf(b, sizeof b, "steps %s .. %s: %s steps, %s attributed%s\n",
                grouped(r.start_step).c_str(), grouped(r.end_step).c_str(), grouped(total).c_str(),
                grouped(r.attributed).c_str(), r.attributed == total ? " (all)" : " (MISMATCH)");
  out += b;
  out += "threads:";
  for (const ThreadProfile& t : r.threads)
    out += " " + std::to_string(t.id) + "=" + grouped(t.steps) + " (" + pct(t.steps, total) + ")";
  out += "\n\n";
  std::snprintf(b, sizeof b, "%15s %7s %15s %7s  %s\n", "self", "self%", "inclusive", "incl%",
                "function");
  out += b;
  size_t n = 0;
  for (const FunctionProfile& f : r.functions) {
    if (max_rows && n++ >= max_rows) {
      std::snprintf(b, sizeof b, "... %zu more functions (--top 0 lists all)\n",
                    r.functions.size() - max_rows);
      out += b;
      break;
    }
    std::snprintf(b, sizeof b, "%15s %7s %15s %7s  ", grouped(f.self).c_str(),
                  pct(f.self, total).c_str(), grouped(f.inclusive).c_str(),
                  pct(f.inclusive, total).c_str());
    out += b + f.name + "\n";
  }
  return out;
}

std::string profile_folded(const ProfileResult& r) {
  std::string out;
  for (const auto& [stack, n] : r.folded) out += stack + " " + std::to_string(n) + "\n";
  return out;
}

std::string profile_svg(const ProfileResult& r, const std::string& title) {
  struct Node {
    std::string name;
    uint64_t value = 0;
    std::map<std::string, std::unique_ptr<Node>> kids;
  };
  Node root;
  root.name = "all";
  size_t max_depth = 0;
  for (const auto& [stack, n] : r.folded) {
    Node* cur = &root;
    cur->value += n;
    size_t depth = 0, pos = 0;
    while (pos <= stack.size()) {
      size_t end = stack.find(';', pos);
      if (end == std::string::npos) end = stack.size();
      std::string name = stack.substr(pos, end - pos);
      auto& k = cur->kids[name];
      if (!k) {
        k = std::make_unique<Node>();
        k->name = name;
      }
      cur = k.get();
      cur->value += n;
      ++depth;
      pos = end + 1;
    }
    max_depth = std::max(max_depth, depth);
  }
  const double width = 1200, row = 16, top = 40;
  const double height = top + row * double(max_depth + 1) + 10;
  const double total = double(root.value ? root.value : 1);
  std::string out;
  char b[1024];
  std::snprintf(b, sizeof b,
                "<?xml version=\"1.0\" standalone=\"no\"?>\n"
                "<svg version=\"1.1\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
                "xmlns=\"http://www.w3.org/2000/svg\" font-family=\"monospace\" font-size=\"11\">\n"
                "<rect x=\"0\" y=\"0\" width=\"100%%\" height=\"100%%\" fill=\"#fdf6e3\"/>\n"
                "<text x=\"%.0f\" y=\"20\" text-anchor=\"middle\" font-size=\"15\">%s</text>\n"
                "<text x=\"10\" y=\"34\" font-size=\"10\">exact guest steps; width = steps, hover "
                "for counts</text>\n",
                width, height, width, height, width / 2, xml_escape(title).c_str());
  out += b;
  // Children sorted by name (flamegraph.pl's order), widths by steps, the root at the bottom.
  std::function<void(const Node&, double, size_t)> draw = [&](const Node& n, double x,
                                                              size_t depth) {
    const double w = width * double(n.value) / total;
    if (w < 0.3) return;
    const double y = height - 10 - row * double(depth + 1);
    uint32_t h = 2166136261u;
    for (char c : n.name) h = (h ^ uint8_t(c)) * 16777619u;
    const int red = 205 + int(h % 50), green = 80 + int((h >> 8) % 150), blue = int((h >> 16) % 55);
    std::snprintf(b, sizeof b,
                  "<g><title>%s: %s steps (%s)</title><rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" "
                  "height=\"%.1f\" "
                  "fill=\"rgb(%d,%d,%d)\" rx=\"2\"/>",
                  xml_escape(n.name).c_str(), grouped(n.value).c_str(),
                  pct(n.value, uint64_t(total)).c_str(), x, y, w - 0.5, row - 1, red, green, blue);
    out += b;
    const size_t fit = size_t(w / 6.6);
    if (fit >= 3) {
      std::string label = n.name.size() <= fit ? n.name : n.name.substr(0, fit - 2) + "..";
      std::snprintf(b, sizeof b, "<text x=\"%.2f\" y=\"%.1f\">%s</text>", x + 3, y + row - 4,
                    xml_escape(label).c_str());
      out += b;
    }
    out += "</g>\n";
    double cx = x;
    for (const auto& [name, k] : n.kids) {
      draw(*k, cx, depth + 1);
      cx += width * double(k->value) / total;
    }
  };
  draw(root, 0, 0);
  out += "</svg>\n";
  return out;
}

}  // namespace cb
