// A TLS CA and a server certificate for 127.0.0.1 made with the openssl CLI, for the tests' HTTPS
// servers (attest_tls_test, attest_held_answer_test).
#pragma once
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/support/run_cli.hpp"

namespace redoubt::test {

// In `d`: tls-ca.pem (the CA), server.pem and server.key (SAN IP:127.0.0.1, serverAuth).
struct TlsFiles {
  std::string ca, cert, key;
  explicit TlsFiles(const std::filesystem::path& d) {
    std::filesystem::create_directories(d);
    ca = (d / "tls-ca.pem").string();
    cert = (d / "server.pem").string();
    key = (d / "server.key").string();
    const std::string ca_key = (d / "tls-ca.key").string(), csr = (d / "server.csr").string(), ext = (d / "server.ext").string();
    std::ofstream(ext) << "subjectAltName = IP:127.0.0.1\nextendedKeyUsage = serverAuth\nbasicConstraints = critical,CA:FALSE\n";
    run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", ca_key, "-out", ca,
         "-subj", "/CN=Redoubt test TLS CA", "-days", "2", "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
         "keyUsage=critical,keyCertSign"});
    run({"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", csr, "-subj",
         "/CN=127.0.0.1"});
    run({"openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext});
  }
  static void run(const std::vector<std::string>& argv) {
    CliResult r = run_program(argv);
    if (r.exit_code != 0) throw std::runtime_error(argv[0] + " " + argv[1] + ": " + r.err);
  }
};

}  // namespace redoubt::test
