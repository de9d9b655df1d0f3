#!/usr/bin/env python3
"""Checks the proof-of-work vectors of docs/spec-vectors.txt (`stamp` and
`hashcash` lines) from the text of docs/spec.md §5 alone, with Python's
hashlib and libsodium's crypto_pwhash through ctypes (for Argon2id): no
smtorp code. The Swift tests check the same lines against smtorp
(Tests/SMTorPTests/SpecVectorTests.swift), so the specification, the
vectors and the code agree.

    python3 scripts/check-pow-vectors.py     # prints one line per vector
"""
import base64
import ctypes
import ctypes.util
import hashlib
import os
import struct
import sys

VECTORS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "spec-vectors.txt")


def b32(data):
    return base64.b32encode(data).decode().lower().rstrip("=")


def effort_ok(first4, effort):
    return struct.unpack(">I", first4)[0] * effort <= 0xFFFFFFFF


def equihash_ok(seed, solution, n=96, k=5):
    """Equihash (n, k) as spec §5.2 and include/smtorp_core.h define it."""
    d = n // (k + 1)
    nonce = struct.unpack(">I", solution[:4])[0]
    bits = int.from_bytes(solution[4:], "big")
    count = 1 << k
    width = d + 1
    assert len(solution) - 4 == count * width // 8
    indices = [(bits >> (width * (count - 1 - i))) & ((1 << width) - 1) for i in range(count)]
    if len(set(indices)) != count:
        return False, "duplicate index"

    def digits(i):
        h = hashlib.blake2b(seed + struct.pack("<I", nonce) + struct.pack("<I", i), digest_size=32).digest()
        return [struct.unpack("<I", h[4 * j:4 * j + 4])[0] >> (32 - d) for j in range(k + 1)]

    leaves = [digits(i) for i in indices]

    def xor(ds, j):
        v = 0
        for x in ds:
            v ^= x[j]
        return v

    def check(lo, hi, height):
        """Collisions inside leaves[lo:hi] (a subtree of `height`), and its
        canonical-order key."""
        if height == 0:
            return True, (indices[lo],)
        mid = (lo + hi) // 2
        ok_l, key_l = check(lo, mid, height - 1)
        ok_r, key_r = check(mid, hi, height - 1)
        if not (ok_l and ok_r):
            return False, None
        if xor(leaves[lo:mid], height - 1) != xor(leaves[mid:hi], height - 1):
            return False, None
        if not key_l < key_r:
            return False, "order"
        return True, (xor(leaves[lo:mid], height - 1), key_l, key_r)

    ok, key = check(0, count, k)
    if not ok:
        return False, key or "collision fails"
    if xor(leaves, k) != 0:
        return False, "last digit does not XOR to zero"
    return True, "ok"


def argon2id(password, salt, opslimit, memlimit):
    sodium = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")
    assert sodium.sodium_init() >= 0
    out = ctypes.create_string_buffer(32)
    ALG_ARGON2ID13 = 2
    r = sodium.crypto_pwhash(out, ctypes.c_ulonglong(32), password, ctypes.c_ulonglong(len(password)), salt,
                             ctypes.c_ulonglong(opslimit), ctypes.c_size_t(memlimit), ctypes.c_int(ALG_ARGON2ID13))
    assert r == 0
    return out.raw


def main():
    failures = 0
    count = 0
    for line in open(VECTORS):
        f = line.rstrip("\n").split("\t")
        if f[0] == "stamp":
            _, alg, effort, rcpt, date, nonce_hex, challenge_hex, solution_hex, text = f
            effort = int(effort)
            nonce, challenge, solution = bytes.fromhex(nonce_hex), bytes.fromhex(challenge_hex), bytes.fromhex(solution_hex)
            unsolved = "1:%s:%d:%s:%s:%s" % (alg, effort, b32(rcpt.encode()), date, b32(nonce))
            good = text == unsolved + ":" + b32(solution) and hashlib.sha256(unsolved.encode()).digest() == challenge
            why = "text or challenge"
            if good and alg == "eqh96-5":
                good, why = equihash_ok(challenge + solution[:4], solution[4:])
                good = good and effort_ok(hashlib.blake2b(solution + challenge, digest_size=32).digest()[:4], effort)
            elif good and alg == "a2id-1m":
                out = argon2id(challenge + solution, b"smtorp-pow-argon", 1, 1 << 20)
                good, why = effort_ok(out[:4], effort), "effort"
            elif good:
                good, why = False, "unknown algorithm"
        elif f[0] == "hashcash":
            _, token, rcpt, bits = f
            digest = int.from_bytes(hashlib.sha1(token.encode()).digest(), "big")
            zeros = 160 - digest.bit_length()
            parts = token.split(":")
            good = parts[0] == "1" and int(parts[1]) == int(bits) and parts[3] == rcpt and zeros >= int(bits)
            why = "%d zero bits" % zeros
        else:
            continue
        count += 1
        print(("ok" if good else "NOT OK (%s)" % why) + " - " + f[0] + " " + f[1][:40])
        failures += 0 if good else 1
    print("%d proof-of-work vectors, %d failed" % (count, failures))
    return 1 if failures or count == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
