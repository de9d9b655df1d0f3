// PowBench.swift: `smtorp pow bench`: measures this machine's proof-of-work
// speed per algorithm (solves or evaluations per second, and memory), so an
// operator can set efforts in expected seconds on their own hardware.
import SMTorP
import SMTorPCore

enum PowBench {
    static func seconds(_ start: UInt64) -> Double { Double(smtorp_clock_monotonic_ms() - start) / 1000 }

    static func format(_ v: Double) -> String {
        let scaled = Int(v * 100 + 0.5)  // no libm: v is never negative
        return String(scaled / 100) + "." + (scaled % 100 < 10 ? "0" : "") + String(scaled % 100)
    }

    /// Runs each kernel for about `budget` seconds and prints the figures.
    static func run(budget: Double, threads: UInt32) -> Int32 {
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
        var solves = 0
        var verifyMicros = 0.0
        let start = smtorp_clock_monotonic_ms()
        while seconds(start) < budget || solves == 0 {
            var seed = [UInt8](repeating: 0, count: 36)
            _ = smtorp_random_bytes(&seed, seed.count)
            var found = 0
            guard smtorp_equihash_solve(solver, seed, seed.count, &out, 8, length, &found, nil, nil, nil) == SMTORP_POW_OK,
                  found > 0 else { continue }
            solves += 1
            let v0 = smtorp_clock_monotonic_ms()
            for _ in 0..<200 { _ = smtorp_equihash_verify(96, 5, seed, seed.count, out, length) }
            verifyMicros = Double(smtorp_clock_monotonic_ms() - v0) * 1000 / 200
        }
        let eqh = Double(solves) / seconds(start)
        say("  eqh96-5   " + format(eqh) + " solves/s, " + String(smtorp_equihash_solver_memory_bytes(solver) / 1024)
            + " KiB solver memory, verify about " + format(verifyMicros) + " us")
        // Argon2id 1 MiB: one evaluation per tried nonce.
        var challenge = [UInt8](repeating: 0, count: 32)
        _ = smtorp_random_bytes(&challenge, 32)
        var evaluations = 0
        let a0 = smtorp_clock_monotonic_ms()
        var h: UInt32 = 0
        while seconds(a0) < budget || evaluations == 0 {
            _ = smtorp_argon2_pow_value(challenge, challenge.count, 1, 1 << 20, UInt64(evaluations), &h)
            evaluations += 1
        }
        say("  a2id-1m   " + format(Double(evaluations) / seconds(a0)) + " evaluations/s (1 MiB each, one lane)")
        // Hashcash: SHA-1 evaluations per second, from timed mints.
        var stamp = [CChar](repeating: 0, count: 256)
        var mints = 0
        let h0 = smtorp_clock_monotonic_ms()
        while seconds(h0) < budget || mints == 0 {
            _ = smtorp_hashcash_mint(16, "bench", "261129", nil, &stamp, stamp.count, nil)
            mints += 1
        }
        say("  hc1       " + format(Double(mints) * 65536 / seconds(h0)) + " SHA-1 evaluations/s (expected; 16-bit mints)")
        say("expected seconds for effort E: E / (solves or evaluations per second)")
        return 0
    }
}
