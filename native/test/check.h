// SPDX-License-Identifier: GPL-3.0-or-later
// A minimal test harness for the C++ core: TEST registers a case, CHECK* record failures with
// file:line. The runner prints one line per failing case and "N passed, N failed" at the end.
#ifndef SPIKESHARD_TEST_CHECK_H_
#define SPIKESHARD_TEST_CHECK_H_

#include <cmath>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace spikeshard::test {

struct Case {
  const char* name;
  std::function<void()> body;
};

std::vector<Case>& registry();
void fail(const char* file, int line, const std::string& what);

struct Registrar {
  Registrar(const char* name, std::function<void()> body) { registry().push_back({name, std::move(body)}); }
};

}  // namespace spikeshard::test

#define SPK_CONCAT_(a, b) a##b
#define SPK_CONCAT(a, b) SPK_CONCAT_(a, b)
#define TEST(name)                                                                                 \
  static void SPK_CONCAT(test_, name)();                                                          \
  static ::spikeshard::test::Registrar SPK_CONCAT(registrar_, name)(#name, SPK_CONCAT(test_, name)); \
  static void SPK_CONCAT(test_, name)()

#define CHECK(cond)                                                              \
  do {                                                                           \
    if (!(cond)) ::spikeshard::test::fail(__FILE__, __LINE__, "CHECK(" #cond ")"); \
  } while (0)

#define CHECK_NEAR(a, b, tol)                                                                   \
  do {                                                                                          \
    double spk_a = static_cast<double>(a), spk_b = static_cast<double>(b);                      \
    if (!(std::fabs(spk_a - spk_b) <= (tol))) {                                                 \
      std::ostringstream spk_os;                                                                \
      spk_os << #a " = " << spk_a << " vs " #b " = " << spk_b << " (tolerance " << (tol) << ")"; \
      ::spikeshard::test::fail(__FILE__, __LINE__, spk_os.str());                               \
    }                                                                                           \
  } while (0)

#endif  // SPIKESHARD_TEST_CHECK_H_
