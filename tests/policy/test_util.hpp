// Shared helpers for the policy tests.
#pragma once
#include <boost/test/unit_test.hpp>
#include <string>

#include "platform/hal/status.hpp"

namespace policy_test {
inline bool contains(const redoubt::Status& st, const std::string& frag) { return std::string(st.message()).find(frag) != std::string::npos; }
}  // namespace policy_test

// Asserts that `expr` (a Status) failed with `want` and a message containing `frag`.
#define CHECK_FAILS(expr, want, frag)                                                                                 \
  do {                                                                                                                \
    ::redoubt::Status _s = (expr);                                                                                    \
    BOOST_TEST(!_s.is_ok());                                                                                          \
    BOOST_TEST(static_cast<int>(_s.code()) == static_cast<int>(want), "code " << ::redoubt::err_name(_s.code()) << ": " << _s.message()); \
    BOOST_TEST(::policy_test::contains(_s, frag), "message \"" << _s.message() << "\" lacks \"" << (frag) << "\"");  \
  } while (0)
