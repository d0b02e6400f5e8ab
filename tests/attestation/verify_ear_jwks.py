#!/usr/bin/env python3
"""Verifies a verifier's EAR (a compact JWS) with a key from its JWKS using
python3-jwcrypto (over python3-cryptography / OpenSSL), not Redoubt's own JWS
code. Usage: verify_ear_jwks.py JWKS.json EAR.jws. Prints the claims as JSON
and exits 0 if the signature verifies with the key the JWS header's kid names;
exits 1 naming why not."""
import json
import sys

from jwcrypto import jwk, jws


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        keys = jwk.JWKSet.from_json(f.read())
    with open(sys.argv[2], encoding="utf-8") as f:
        token = f.read().strip()
    t = jws.JWS()
    t.deserialize(token)
    header = t.jose_header
    key = keys.get_key(header.get("kid", ""))
    if key is None:
        print(f"no key with kid {header.get('kid')!r} in the JWKS", file=sys.stderr)
        return 1
    try:
        t.verify(key, alg="ES256")  # RFC 7515 §5.2; the algorithm is pinned, not taken from the header
    except jws.InvalidJWSSignature as e:
        print(f"signature does not verify: {e}", file=sys.stderr)
        return 1
    print(json.dumps({"header": header, "claims": json.loads(t.payload)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
