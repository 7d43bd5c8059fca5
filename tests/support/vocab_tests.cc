#include "support/vocab_tests.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <sstream>

#include "support/test_data.h"

namespace ptq::test {

std::string ids_str(const std::vector<int32_t>& ids) {
  std::ostringstream s;
  for (size_t i = 0; i < ids.size(); ++i) s << (i ? " " : "") << ids[i];
  return s.str();
}

std::vector<VocabCase> read_vocab_tests(const std::string& name) {
  const std::string inp = read_file(data_path("tokenizers/llama.cpp-vocab-tests/" + name + ".inp"));
  const std::string out = read_file(data_path("tokenizers/llama.cpp-vocab-tests/" + name + ".out"));
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<VocabCase> cases;
  for (size_t pos = 0;;) {
    const size_t next = inp.find(sep, pos);
    if (next == std::string::npos) break;
    cases.push_back({inp.substr(pos, next - pos), {}});
    pos = next + sep.size();
  }
  std::istringstream lines(out);
  std::string line;
  for (auto& c : cases) {
    EXPECT_TRUE(std::getline(lines, line)) << name << ": fewer .out lines than tests";
    std::istringstream ids(line);
    for (int32_t id; ids >> id;) c.ids.push_back(id);
  }
  return cases;
}

int check_vocab_tests(const Tokenizer& tok, const std::string& name, bool round_trip) {
  const auto cases = read_vocab_tests(name);
  EXPECT_EQ(cases.size(), 46u) << name;
  int pass = 0, trips = 0;
  for (const auto& c : cases) {
    const auto ids = tok.encode(c.text, false);
    if (ids == c.ids)
      ++pass;
    else
      ADD_FAILURE() << name << " (" << tok.kind() << "): text '" << c.text << "'\n  got      " << ids_str(ids)
                    << "\n  expected " << ids_str(c.ids);
    if (!round_trip) continue;
    if (tok.decode(ids) == c.text)
      ++trips;
    else
      ADD_FAILURE() << name << ": decode(encode(text)) != text for '" << c.text << "': '" << tok.decode(ids) << "'";
  }
  std::printf("[ info     ] %s with %s: %d/%zu ids match%s\n", name.c_str(), tok.kind().c_str(), pass, cases.size(),
              round_trip ? fmt::format(", {}/{} round trips", trips, cases.size()).c_str() : "");
  return pass;
}

}  // namespace ptq::test
