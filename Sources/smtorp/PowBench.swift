// PowBench.swift: `smtorp pow bench`: measures this machine's proof-of-work
// speed per algorithm (solves or evaluations per second, and memory), so an
// operator can set efforts in expected seconds on their own hardware.
//
// Integer arithmetic only (milliseconds, figures in hundredths): Embedded
// Swift has no Double parsing or printing, and none is needed here.
import SMTorP
import SMTorPCore

enum PowBench {
    /// Milliseconds since `start` (a `smtorp_clock_monotonic_ms` reading).
    static func elapsed(_ start: UInt64) -> UInt64 { smtorp_clock_monotonic_ms() - start }

    /// `count` per second over `milliseconds`, in hundredths, rounded half up.
    static func hundredthsPerSecond(_ count: UInt64, milliseconds: UInt64) -> UInt64 {
        let ms = max(milliseconds, 1)
        return (count * 100_000 + ms / 2) / ms
    }

    /// A figure in hundredths as a decimal with two places ("12.05").
    static func format(hundredths: UInt64) -> String {
        let fraction = hundredths % 100
        return String(hundredths / 100) + "." + (fraction < 10 ? "0" : "") + String(fraction)
    }

    /// A duration in seconds as `--seconds` takes it ("2", "0.5", ".25"),
    /// in whole milliseconds rounded up (so any positive duration is at
    /// least 1 ms); nil for anything else, or for more than 600 s.
    static func milliseconds(fromSeconds text: String) -> UInt64? {
        let bytes = Array(text.utf8)
        let dot = bytes.firstIndex(of: UInt8(ascii: "."))
        let whole = bytes[..<(dot ?? bytes.count)]
        let fraction = dot.map { bytes[($0 + 1)...] } ?? []
        guard whole.count + fraction.count > 0,
              (whole + fraction).allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            return nil
        }
        var result: UInt64 = 0
        for digit in whole {
            result = result * 10 + UInt64(digit - UInt8(ascii: "0"))
            if result > 600 { return nil }  // also keeps the arithmetic far from overflow
        }
        result *= 1000
        var scale: UInt64 = 100
        for (i, digit) in fraction.enumerated() {
            let value = UInt64(digit - UInt8(ascii: "0"))
            if i < 3 {
                result += value * scale
                scale /= 10
            } else if value != 0 {
                result += 1  // a remainder below 1 ms rounds up
                break
            }
        }
        return result
    }

    /// Runs each kernel for about `budget` milliseconds and prints the figures.
    static func run(budget: UInt64, threads: UInt32) -> Int32 {
        say("proof-of-work speed on this machine (" + String(threads) + " thread(s) for solving):")
        // Equihash (96,5): full solves, each on a fresh random seed.
        var solver: OpaquePointer? = nil
        guard smtorp_equihash_solver_new(96, 5, threads, &solver) == SMTORP_POW_OK, let solver else {
            complain("cannot create the Equihash solver")
            return 1
        }
        defer { smtorp_equihash_solver_free(solver) }
        let length = smtorp_equihash_solution_length(96, 5)
        var out = [UInt8](repeating: 0, count: length * 8)
        var solves: UInt64 = 0
        var verifyHundredthsMicros: UInt64 = 0
        let start = smtorp_clock_monotonic_ms()
        while elapsed(start) < budget || solves == 0 {
            var seed = [UInt8](repeating: 0, count: 36)
            _ = smtorp_random_bytes(&seed, seed.count)
            var found = 0
            guard smtorp_equihash_solve(solver, seed, seed.count, &out, 8, length, &found, nil, nil, nil) == SMTORP_POW_OK,
                  found > 0 else { continue }
            solves += 1
            let v0 = smtorp_clock_monotonic_ms()
            for _ in 0..<200 { _ = smtorp_equihash_verify(96, 5, seed, seed.count, out, length) }
            verifyHundredthsMicros = elapsed(v0) * 1000 * 100 / 200
        }
        let eqh = hundredthsPerSecond(solves, milliseconds: elapsed(start))
        say("  eqh96-5   " + format(hundredths: eqh) + " solves/s, " + String(smtorp_equihash_solver_memory_bytes(solver) / 1024)
            + " KiB solver memory, verify about " + format(hundredths: verifyHundredthsMicros) + " us")
        // Argon2id 1 MiB: one evaluation per tried nonce.
        var challenge = [UInt8](repeating: 0, count: 32)
        _ = smtorp_random_bytes(&challenge, 32)
        var evaluations: UInt64 = 0
        let a0 = smtorp_clock_monotonic_ms()
        var h: UInt32 = 0
        while elapsed(a0) < budget || evaluations == 0 {
            _ = smtorp_argon2_pow_value(challenge, challenge.count, 1, 1 << 20, evaluations, &h)
            evaluations += 1
        }
        say("  a2id-1m   " + format(hundredths: hundredthsPerSecond(evaluations, milliseconds: elapsed(a0)))
            + " evaluations/s (1 MiB each, one lane)")
        // Hashcash: SHA-1 evaluations per second, from timed mints.
        var stamp = [CChar](repeating: 0, count: 256)
        var mints: UInt64 = 0
        let h0 = smtorp_clock_monotonic_ms()
        while elapsed(h0) < budget || mints == 0 {
            _ = smtorp_hashcash_mint(16, "bench", "261129", nil, &stamp, stamp.count, nil)
            mints += 1
        }
        say("  hc1       " + format(hundredths: hundredthsPerSecond(mints * 65536, milliseconds: elapsed(h0)))
            + " SHA-1 evaluations/s (expected; 16-bit mints)")
        say("expected seconds for effort E: E / (solves or evaluations per second)")
        return 0
    }
}
